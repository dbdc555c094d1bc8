#pragma once
#include <string>

namespace hooklab {

// TransformerLens's weight processing (processing.h), as loaded: all off = HuggingFace's weights.
struct Processing {
    bool fold_ln = false, center_writing_weights = false, center_unembed = false, fold_value_biases = false;
    bool any() const { return fold_ln || center_writing_weights || center_unembed || fold_value_biases; }
    // from_pretrained's defaults: all four.
    static Processing transformer_lens() { return {true, true, true, true}; }
    // The names of the options on, joined by ", " ("" when none).
    std::string describe() const;
};

struct Config {
    int n_layer = 0, n_head = 0, n_embd = 0, n_positions = 0, vocab_size = 0;
    double layer_norm_epsilon = 1e-5;
    std::string activation_function = "gelu_new";
    std::string name;  // from the optional "hooklab" block: what the model is, for labels
    std::string hooklab_meta;  // that block as JSON text ("" when absent): training data, notes
    Processing processing;     // how the loaded weights were processed (set by process_weights)

    int d_head() const { return n_embd / n_head; }
    int d_mlp() const { return 4 * n_embd; }
};

// Parses and validates a HuggingFace GPT-2 config.json.
Config parse_config(const std::string& json_text);

// A prompt of T tokens must be non-empty and fit the context; `what` names which prompt
// ("clean ", "corrupted ") where there are several. Every path that runs tokens calls it,
// so the message exists once.
void check_prompt_length(const Config& c, int T, const std::string& what = "");

}  // namespace hooklab
