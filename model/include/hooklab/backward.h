#pragma once
// Gradients of the logit difference LD = logits[-1, answer] - logits[-1, wrong] (the metric of
// `patch`) with respect to activations -- never weights -- and attribution patching, the
// first-order estimate of an activation-patching sweep from one backward.
//
// One forward keeps the activations the backward needs (GPT2::forward with a hook that copies
// them after the run's interventions), then one backward pass mirrors the forward stage by
// stage (karpathy's llm.c gpt2_backward): the tied unembedding, ln_f, each block in reverse,
// the embeddings.
//
// Semantics: true gradients (ln_f is not frozen). The run's interventions are part of the
// function: a scaled slice scales its gradient, a zeroed, set or noised slice (a constant)
// passes 0 to everything before it, add passes it unchanged. The gradient at a hook is
// dLD / d(the value at that hook as later computations see it, after that hook's own
// interventions), in the hook's own shape (hook_z [T, n_head, d_head], attention scores and
// patterns [head, query, key]; masked score entries get 0).
#include <cstdint>
#include <string>
#include <vector>

#include "hooklab/model.h"
#include "hooklab/patching.h"

namespace hooklab {

// What the activations a backward keeps, its working buffers and the gradients asked for may
// take: 1 GiB. GPT-2 small fits at its whole context (1024 tokens: 950 MB kept, 1011 MiB with
// the working buffers; 52.7 MB kept at 128 tokens), GPT-2 medium up to 566 tokens. A request
// beyond it is refused before any work (an Error saying how much it needs).
constexpr uint64_t kBackwardBudgetBytes = uint64_t(1) << 30;

// Floats a T-token backward keeps plus its working buffers; `pattern_interventions`: how
// many blocks have an intervention on hook_pattern (each keeps the pattern twice).
uint64_t backward_floats(const Config& c, int T, int pattern_interventions = 0);

struct GradientsOptions {
    std::string prompt;
    std::vector<int> tokens;             // used instead of the prompt when not empty
    std::string answer, wrong;           // one token each: text or "#ID" (as patch)
    std::vector<std::string> hooks;      // full hook names (the hook table's), in the order reported
    std::vector<Intervention> interventions;
    uint64_t budget_bytes = kBackwardBudgetBytes;
};

struct HookGradient {
    std::string name;        // full hook name, as asked
    std::vector<int> shape;  // the hook's shape (logits: [1, vocab])
    std::vector<float> data; // dLD / d(value after the hook's interventions), row-major
};

struct GradientsResult {
    std::vector<int> tokens;
    int answer_id = 0, wrong_id = 0;
    double logit_diff = 0;                    // LD of this run (its interventions applied)
    std::vector<HookGradient> gradients;      // one per asked hook, in order
    // [T]: sum over d of (hook_embed + hook_pos_embed)[p, d] * dLD/d(blocks.0.hook_resid_pre)[p, d]
    std::vector<double> input_x_gradient;
    std::vector<Intervention> interventions;  // as applied
};

// Checks everything (hooks, tokens, interventions, the budget) before any work, then one
// forward and one backward.
GradientsResult gradients(const Model& m, const GradientsOptions& opt);
// gradients_json and gradients_report (json_io.h) write it out.

// Attribution patching (Nanda's "attribution patching"): for every slice that `patch` would
// patch (resid_pre, attn_out, mlp_out by position; z by head), the estimated patched logit
// difference LD(corrupted) + sum over the slice of (clean - corrupted activation) * dLD/d(activation)
// at the corrupted run, normalised as patch does. One clean forward, one corrupted forward
// and one backward. Returns patch's result with method "attribution", forwards 2, backwards 1.
PatchResult attribution_patch(const Model& m, const PatchOptions& opt, uint64_t budget_bytes = kBackwardBudgetBytes);

}  // namespace hooklab
