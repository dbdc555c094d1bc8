#pragma once
// The weights by TransformerLens's names and in its shapes (HookedTransformer's state dict
// without weight processing: from_pretrained_no_processing), read back from the loaded model.
// A model loaded with TransformerLens's processing (processing.h) gives the processed weights,
// as that processing leaves them in from_pretrained's state dict (ln*.w = 1, ln*.b = 0 after
// fold_ln, where TransformerLens's LayerNormPre has none).
#include <string>
#include <vector>

#include "hooklab/gpt2.h"

namespace hooklab {

struct WeightTensor {
    std::string name;        // the state-dict name asked for, or its short form
    std::vector<int> shape;  // TransformerLens's shape
    std::vector<float> data; // row-major, a copy
};

// Every name weight_tensor() takes: the state dict's (embed.W_E, pos_embed.W_pos,
// blocks.{L}.ln1.w / .b, blocks.{L}.attn.W_Q / W_K / W_V [n_head, d_model, d_head],
// b_Q / b_K / b_V [n_head, d_head], W_O [n_head, d_head, d_model], b_O [d_model],
// blocks.{L}.ln2.w / .b, blocks.{L}.mlp.W_in [d_model, d_mlp], b_in, W_out [d_mlp, d_model],
// b_out, ln_final.w / .b, unembed.W_U [d_model, d_vocab], unembed.b_U (zeros: GPT-2 has no
// unembedding bias)), then HookedTransformer's shortcuts: W_E, W_pos, W_U, b_U, and each
// per-block weight stacked over the blocks ([n_layer, ...], as model.W_Q): W_Q ... b_out.
std::vector<std::string> weight_names(const Config& c);

// One weight as a copy. Throws Error naming the closest valid name for any other name.
WeightTensor weight_tensor(const GPT2& g, const std::string& name);

}  // namespace hooklab
