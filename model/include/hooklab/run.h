#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

struct RunOptions {
    std::string prompt;
    std::vector<nlohmann::json> interventions;
    int topk = 10;
    bool logits = false;               // include logits_last
    std::vector<std::string> capture;  // full hook names whose tensors to return
};

// Tokenizes, validates everything, runs one forward and returns the run JSON
// (schema in README). Throws Error before any work for any bad input.
nlohmann::json run(const Model& m, const RunOptions& opt);

// The "model" block of the run JSON.
nlohmann::json config_json(const Config& c);

// Dumps JSON as valid UTF-8 (token strings may hold partial UTF-8 bytes).
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace hooklab
