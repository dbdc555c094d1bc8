#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hooklab/config.h"
#include "hooklab/hooks.h"
#include "hooklab/kernels.h"
#include "hooklab/run_state.h"
#include "hooklab/safetensors.h"

namespace hooklab {

struct LayerNormWeights { std::vector<float> weight, bias; };
struct Linear { PackedMatrix w; std::vector<float> bias; };

struct BlockWeights {
    LayerNormWeights ln_1, ln_2;
    Linear c_attn;     // [C, 3C], output laid out [Q | K | V]
    Linear attn_proj;  // [C, C]
    Linear c_fc;       // [C, 4C]
    Linear mlp_proj;   // [4C, C]
};

struct Weights {
    std::vector<float> wpe;  // [n_positions, C]
    std::vector<BlockWeights> blocks;
    LayerNormWeights ln_f;
    Linear lm_head;          // packed from wte (tied); also serves the token embedding unless wte is set.
                             // Its bias (b_U) is empty but after TransformerLens's fold_ln / center_unembed.
    std::vector<float> wte;  // [V, C] the token embedding when untied from lm_head (processed weights), else empty
    size_t bytes() const;
};

// A live view of an activation while the forward runs. Writing through `data`
// changes what every later computation sees.
//
// A pass may compute only positions [p, T) of a sequence (resuming from a RunState):
// then the view holds only those rows (shape[pos axis] = T - p, pos0 = p, n_pos = T);
// the key axis of attn_scores / pattern always spans all T positions. The last-position
// logits ([1, V]) have pos0 = 0, n_pos = 1: their position axis is their own row.
struct HookView {
    Hook hook;
    int layer;            // -1 for non-block hooks
    float* data;
    std::vector<int> shape;
    int pos0 = 0;         // absolute position of the first row held
    int n_pos = 0;        // positions in the whole sequence (0: as many as the view holds)
    int segment = 0;      // which sequence of a batched pass (GPT2::forward with segments)
    size_t numel() const;
};

using HookFn = std::function<void(HookView&)>;

// Where a forward's time goes, in milliseconds, added to by every pass that is given it (a
// bench divides by its passes). A stage's time includes the hooks it fires; `gemm` is the
// share of all four stages spent in matrix products and `heads` the share of attention
// spent in the per-head scores, softmax and mix, the two parts that grow differently with
// the sequence's length. `lm_head`, `layernorm` and `gelu` are finer shares of the same.
struct StageTimes {
    double embed = 0;      // the embeddings, or the residual read back from a run state
    double attention = 0;  // every block's hook_resid_pre .. hook_resid_mid
    double mlp = 0;        // every block's ln_2 .. hook_resid_post
    double unembed = 0;    // ln_f and the logits
    double gemm = 0;
    double heads = 0;
    double lm_head = 0;    // of gemm: the unembedding's product
    double layernorm = 0;  // ln_1, ln_2 and ln_f
    double gelu = 0;
    int passes = 0;
};

class GPT2 {
public:
    Config config;
    Weights weights;

    // Loads from a parsed safetensors file; `data` is the whole file. Accepts F32/F16/BF16,
    // names with or without "transformer.", ignores the causal-mask buffers, optional
    // lm_head.weight (must equal wte's shape; GPT-2 ties it).
    static GPT2 from_safetensors(const Config& cfg, const uint8_t* data, size_t size, bool f16_weights = false);

    // Runs the model on `tokens`. `hook` (may be empty) fires at every hook point in order.
    // Returns logits [T, V] when all_logits, else [1, V] for the last position.
    // The same as forward({{&state-with-tokens, 0, nullptr}}, 0, ...).
    // `times` (may be null) collects where the time goes.
    std::vector<float> forward(const std::vector<int>& tokens, const HookFn& hook, bool all_logits,
                               StageTimes* times = nullptr) const;

    // The forward itself: blocks [start_layer, n_layer) and the unembedding, for several
    // independent sequences at once (their rows share every GEMM). Hooks fire once per
    // segment at each hook point, with that segment's rows (HookView::segment tells which).
    // Returns logits [rows, V]: every computed row of every segment in order (All), one row
    // per segment, its last position (Last), or nothing (None).
    // fire_entry (start_layer > 0): the residual read back is block start_layer-1's output,
    // and its hook (hook_resid_post) fires on it first, so an intervention there acts as in
    // a whole pass. The residual is as the state's run left it: where that run changed it,
    // the hook must not apply those changes again.
    // end_layer (with Logits::None, no state saved): the pass stops before that block, for a
    // caller that wants only the hooks of blocks [start_layer, end_layer) (and the entry's).
    std::vector<float> forward(const std::vector<Segment>& segments, int start_layer, const HookFn& hook,
                               Logits logits, bool fire_entry = false, int end_layer = -1,
                               StageTimes* times = nullptr) const;

    double flops_per_forward(int T, bool all_logits) const;
    // The exact work of computing positions [first, T) through `blocks` blocks and
    // `logit_rows` rows of the unembedding (the GEMMs and the causal attention).
    double flops(int T, int first, int blocks, int logit_rows) const;
};

// ln_f and the tied unembedding applied to `rows` residual-stream rows [rows, C]:
// logits [rows, V], the same arithmetic as the forward's last step (the logit lens).
std::vector<float> unembed(const GPT2& m, const float* resid, int rows);

// A row's LayerNorm statistics as the forward computes them (in double): the mean and
// 1 / sqrt(var + eps). The backward recomputes them from the kept input.
struct LayerNormStats { double mean, rstd; };
LayerNormStats layernorm_stats(const float* x, int C, double eps);

// The MLP's activation, HF's "gelu_new" (the tanh approximation), in float as the
// forward computes it (exposed for its accuracy test).
float gelu_new(float x);

}  // namespace hooklab
