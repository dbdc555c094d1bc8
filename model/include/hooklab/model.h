#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "hooklab/gpt2.h"
#include "hooklab/tokenizer.h"

namespace hooklab {

struct Model {
    GPT2 gpt2;
    Tokenizer tokenizer;
};

// Loads config.json, model.safetensors, vocab.json and merges.txt from a folder.
Model load_model_dir(const std::string& dir, bool f16_weights = false);
// The same from the four files' contents already in memory.
Model load_model_buffers(const std::string& config_json, const uint8_t* safetensors, size_t size,
                         const std::string& vocab_json, const std::string& merges_txt, bool f16_weights = false);

// The checks every way of loading and running shares, so each message exists once.
// The tokenizer's ids must fit the model's embedding.
void check_tokenizer_fits(const Config& c, const Tokenizer& t);

}  // namespace hooklab
