#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hooklab/config.h"
#include "hooklab/hooks.h"
#include "hooklab/kernels.h"
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
    Linear lm_head;          // packed from wte (tied); also serves the token embedding
    size_t bytes() const;
};

// A live view of an activation while the forward runs. Writing through `data`
// changes what every later computation sees.
struct HookView {
    Hook hook;
    int layer;            // -1 for non-block hooks
    float* data;
    std::vector<int> shape;
    size_t numel() const;
};

using HookFn = std::function<void(HookView&)>;

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
    std::vector<float> forward(const std::vector<int>& tokens, const HookFn& hook, bool all_logits) const;

    double flops_per_forward(int T, bool all_logits) const;
};

// ln_f and the tied unembedding applied to `rows` residual-stream rows [rows, C]:
// logits [rows, V], the same arithmetic as the forward's last step (the logit lens).
std::vector<float> unembed(const GPT2& m, const float* resid, int rows);

// The MLP's activation, HF's "gelu_new" (the tanh approximation), in float as the
// forward computes it (exposed for its accuracy test).
float gelu_new(float x);

}  // namespace hooklab
