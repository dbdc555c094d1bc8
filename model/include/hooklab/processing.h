#pragma once
// TransformerLens's weight processing, applied once at load time (HookedTransformer's
// load_and_process_state_dict / ProcessWeights.process_weights, in its order): the numbers
// an ARENA notebook's from_pretrained model shows. Every option is off by default: the
// engine then computes with HuggingFace's weights.
#include <string>

#include "hooklab/gpt2.h"

namespace hooklab {

// Processing (the flags, their names and description) is declared in config.h, so that a
// model's Config says how its weights were processed.

// Applies `p` to freshly loaded weights (raw HuggingFace ones; throws if already processed).
// fold_ln: each LayerNorm's weight and bias go into the layer that reads it (W_Q/W_K/W_V and
//   their biases, W_in and b_in, W_U and a new unembedding bias b_U), whose reading weights are
//   then centred over d_model; the LayerNorms are left with weight 1 and bias 0 (TL's
//   LayerNormPre), so ln1/ln2/ln_final.hook_normalized are (x - mean) / scale.
// center_writing_weights: W_E, W_pos, W_O, b_O, W_out, b_out made mean-free over d_model.
// center_unembed: W_U and b_U made mean-free over the vocabulary (logits shift by a constant
//   per position).
// fold_value_biases: b_O += sum over heads of b_V[h] @ W_O[h]; b_V = 0 (then b_O centred
//   again when center_writing_weights).
// Any of the first three unties the token embedding from the unembedding (W_E is then kept
// apart: V * n_embd more floats).
void process_weights(GPT2& g, const Processing& p);

// "fold_ln,center_unembed" (the CLI's --process): the options named, or "tl" for all four
// (from_pretrained's defaults). An unknown name is an error naming the closest.
Processing parse_processing(const std::string& list);
// The option names, in TransformerLens's order.
extern const char* const kProcessingNames[4];

}  // namespace hooklab
