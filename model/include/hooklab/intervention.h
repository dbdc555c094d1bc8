#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hooklab/config.h"
#include "hooklab/gpt2.h"

namespace hooklab {

// Which indices along one axis an intervention touches:
// "all" | "even" | "odd" | {"range":[a,b]} (b exclusive) | [i, j, ...] (negative counts from the end).
struct Selector {
    enum Kind { All, Even, Odd, Range, List } kind = All;
    int begin = 0, end = 0;
    std::vector<int> list;

    static Selector parse(const nlohmann::json& j, const char* what);
    // Checks every index against the axis length n; throws Error naming `what`.
    void validate(int n, const char* what) const;
    // Resolved membership mask over an axis of length n (after validate).
    std::vector<char> mask(int n) const;
    nlohmann::json to_json() const;
};

// One intervention, in the general form every exercise reduces to.
struct Intervention {
    enum Op { Zero, Scale, Add, Set, Noise } op = Zero;
    Hook hook = Hook::ResidPost;
    int layer = -1;
    Selector positions, heads, features;
    double factor = 1, value = 0, mean = 0, std = 1;
    uint64_t seed = 0;
    nlohmann::json as_applied;  // the normalised form reported back in the run JSON
};

// Parses one intervention object (the exercises' kinds or the general form) and checks
// everything that does not depend on the prompt: layer, head, features, finite numbers.
Intervention parse_intervention(const nlohmann::json& j, const Config& cfg);
// Checks what depends on the prompt length (positions).
void validate_for_length(const Intervention& iv, const Config& cfg, int T, int logits_rows);

// Applies every intervention whose hook point this is, in order.
void apply_interventions(const std::vector<Intervention>& ivs, HookView& view);

}  // namespace hooklab
