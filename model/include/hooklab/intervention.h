#pragma once
// Interventions, typed: what one does to a hook point's tensor, and applying it. Reading
// them from JSON and writing them back ("as applied") is json_io.h's.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hooklab/config.h"
#include "hooklab/gpt2.h"

namespace hooklab {

// Which indices along one axis an intervention touches:
// "all" | "even" | "odd" | {"range":[a,b]} (b exclusive) | [i, j, ...] (negative counts from the end).
struct Selector {
    enum Kind { All, Even, Odd, Range, List } kind = All;
    int begin = 0, end = 0;  // Range only
    std::vector<int> list;   // List only

    // Checks every index against the axis length n; throws Error naming `what`.
    void validate(int n, const char* what) const;
    // Resolved membership mask over an axis of length n (after validate).
    std::vector<char> mask(int n) const;
};
bool operator==(const Selector& a, const Selector& b);
inline bool operator!=(const Selector& a, const Selector& b) { return !(a == b); }

// One intervention, in the general form every named shorthand reduces to.
struct Intervention {
    // The form it was given in: the general one (kind zero | scale | add | set | noise, named
    // by op) or a shorthand with its own hook point, reported back under its own name.
    enum Form { General, ZeroHeadK, NoiseEvenNeurons, ScaleHidden } form = General;
    enum Op { Zero, Scale, Add, Set, Noise } op = Zero;
    Hook hook = Hook::ResidPost;
    int layer = -1;
    int head = -1;  // ZeroHeadK: the head whose Key is zeroed
    Selector positions, heads, features;
    double factor = 1, value = 0, mean = 0, std = 1;
    uint64_t seed = 0;
    // Set only: the values to set, when a tensor rather than one number (`value` unused).
    // Either the hook's whole tensor for the prompt (row-major, its shape), each selected
    // element taking the value at its own index, or just the selected elements (in row-major
    // order of the selection): a cached activation patched into another run. Shared: the
    // intervention is copied with every run that keeps it.
    std::shared_ptr<const std::vector<float>> tensor;
};
// The same intervention: the same form, hook point, selection and numbers (what it reports).
bool operator==(const Intervention& a, const Intervention& b);
inline bool operator!=(const Intervention& a, const Intervention& b) { return !(a == b); }

// Its "kind": the shorthand's name, else the op's (zero, scale, add, set, noise).
std::string intervention_kind(const Intervention& iv);

// Checks what depends on the prompt length (positions; a tensor's size).
void validate_for_length(const Intervention& iv, const Config& cfg, int T, int logits_rows);

// Applies every intervention whose hook point this is, in order.
void apply_interventions(const std::vector<Intervention>& ivs, HookView& view);

}  // namespace hooklab
