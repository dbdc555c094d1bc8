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

// ---------------------------------------------------------------- strict keys (issue #28)
// Every JSON object the engine reads is checked against the keys it knows: an unknown key
// (a typo: "head" for "heads") is an Error, never silently ignored.

// Did you mean: the candidate that is `key` up to case, '_' and '-' ("max_new_tokens" for
// "maxNewTokens"), else the one fewest edits away (insert, delete, substitute, swap two
// neighbours) when that is at most 2 and fewer than key's length, on a tie the one sharing
// the longest start with key; "" when none is close.
// The JS API (wasm/js/hooklab.js, closestKey) and the node CLI follow the same rule.
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

// Throws Error for the first key of `obj` (an object) that is not in `allowed`:
// "<where>: unknown key "k" (did you mean "x"?); <what> takes a, b, c".
void check_keys(const nlohmann::json& obj, const std::vector<std::string>& allowed, const std::string& where,
                const std::string& what);

// The keys each intervention kind takes as input, and those the engine adds when it reports
// the intervention back ("interventions" of the run JSON) and accepts again, so that an applied
// intervention fed back in parses to itself. Empty for an unknown kind.
struct InterventionKeys {
    std::vector<std::string> input, echoed;
};
InterventionKeys intervention_keys(const std::string& kind);

// Parses one intervention object (the exercises' kinds or the general form) and checks
// everything that does not depend on the prompt: layer, head, features, finite numbers.
Intervention parse_intervention(const nlohmann::json& j, const Config& cfg);
// Each of a list, in order.
std::vector<Intervention> parse_interventions(const std::vector<nlohmann::json>& items, const Config& c);
// Checks what depends on the prompt length (positions).
void validate_for_length(const Intervention& iv, const Config& cfg, int T, int logits_rows);

// Applies every intervention whose hook point this is, in order.
void apply_interventions(const std::vector<Intervention>& ivs, HookView& view);

}  // namespace hooklab
