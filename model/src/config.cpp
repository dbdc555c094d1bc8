#include "hooklab/config.h"

#include <nlohmann/json.hpp>

#include "hooklab/error.h"

namespace hooklab {

namespace {

int get_int(const nlohmann::json& j, const char* key, const char* alt = nullptr) {
    const nlohmann::json* v = nullptr;
    if (j.contains(key)) v = &j[key];
    else if (alt && j.contains(alt)) v = &j[alt];
    if (!v) throw Error(std::string("config.json: missing \"") + key + "\"");
    if (!v->is_number_integer() && !v->is_number_unsigned())
        throw Error(std::string("config.json: \"") + key + "\" must be an integer");
    const int64_t x = v->get<int64_t>();
    if (x <= 0 || x > (1 << 24)) throw Error(std::string("config.json: \"") + key + "\" out of range: " + std::to_string(x));
    return static_cast<int>(x);
}

}  // namespace

Config parse_config(const std::string& text) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("config.json is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw Error("config.json must hold a JSON object");
    if (j.contains("model_type") && j["model_type"] != "gpt2")
        throw Error("config.json: model_type is " + j["model_type"].dump() + ", only \"gpt2\" is supported");
    Config c;
    c.n_layer = get_int(j, "n_layer", "num_hidden_layers");
    c.n_head = get_int(j, "n_head", "num_attention_heads");
    c.n_embd = get_int(j, "n_embd", "hidden_size");
    c.n_positions = get_int(j, "n_positions", "n_ctx");
    c.vocab_size = get_int(j, "vocab_size");
    if (c.n_embd % c.n_head != 0)
        throw Error("config.json: n_embd (" + std::to_string(c.n_embd) + ") is not divisible by n_head (" +
                    std::to_string(c.n_head) + ")");
    if (j.contains("n_inner") && !j["n_inner"].is_null() && j["n_inner"] != 4 * c.n_embd)
        throw Error("config.json: n_inner other than 4*n_embd is not supported");
    if (j.contains("layer_norm_epsilon")) {
        if (!j["layer_norm_epsilon"].is_number()) throw Error("config.json: layer_norm_epsilon must be a number");
        const double eps = j["layer_norm_epsilon"].get<double>();
        if (!(eps > 0 && eps < 1)) throw Error("config.json: layer_norm_epsilon out of range");
        c.layer_norm_epsilon = eps;
    }
    if (j.contains("activation_function")) {
        if (!j["activation_function"].is_string()) throw Error("config.json: activation_function must be a string");
        c.activation_function = j["activation_function"].get<std::string>();
        // HF's "gelu_new" and "gelu_pytorch_tanh" are the same tanh approximation.
        if (c.activation_function != "gelu_new" && c.activation_function != "gelu_pytorch_tanh")
            throw Error("config.json: activation_function \"" + c.activation_function +
                        "\" is not supported (GPT-2 uses gelu_new)");
    }
    for (const char* flag : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"})
        if (j.contains(flag) && j[flag] == true)
            throw Error(std::string("config.json: ") + flag + " = true is not supported");
    if (j.contains("scale_attn_weights") && j["scale_attn_weights"] == false)
        throw Error("config.json: scale_attn_weights = false is not supported");
    if (j.contains("hooklab") && j["hooklab"].is_object()) {
        c.hooklab_meta = j["hooklab"].dump();
        if (j["hooklab"].contains("name") && j["hooklab"]["name"].is_string()) c.name = j["hooklab"]["name"].get<std::string>();
    }
    return c;
}

void check_prompt_length(const Config& c, int T, const std::string& what) {
    if (T == 0) throw Error("the " + what + "prompt is empty: type at least one character");
    if (T > c.n_positions)
        throw Error("the " + what + "prompt is " + std::to_string(T) + " tokens long but this model's context is " +
                    std::to_string(c.n_positions) + " tokens; shorten it");
}

}  // namespace hooklab
