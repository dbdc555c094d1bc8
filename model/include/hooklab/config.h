#pragma once
#include <string>

namespace hooklab {

struct Config {
    int n_layer = 0, n_head = 0, n_embd = 0, n_positions = 0, vocab_size = 0;
    double layer_norm_epsilon = 1e-5;
    std::string activation_function = "gelu_new";
    std::string name;  // from the optional "hooklab" block: what the model is, for labels
    std::string hooklab_meta;  // that block as JSON text ("" when absent): training data, notes

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
