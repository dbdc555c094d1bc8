// The loader against every malformed-file class: each must fail with a message that
// names the problem, never read out of bounds (the ASan build checks that).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>

#include "helpers.h"
#include "hooklab/error.h"
#include "hooklab/gpt2.h"
#include "hooklab/run.h"

using nlohmann::json;
using namespace hooklab;

namespace {

struct Tensor { std::string dtype = "F32"; std::vector<int64_t> shape; std::vector<uint8_t> bytes; };

std::vector<uint8_t> f32_bytes(size_t n, float start) {
    std::vector<uint8_t> b(n * 4);
    for (size_t i = 0; i < n; ++i) {
        const float v = start + 0.01f * static_cast<float>(i % 17);
        std::memcpy(&b[i * 4], &v, 4);
    }
    return b;
}

// Serialises tensors in order; `tweak` may edit the header before it is written.
std::vector<uint8_t> build(const std::vector<std::pair<std::string, Tensor>>& ts, const std::function<void(json&)>& tweak = {}) {
    json h = json::object();
    std::vector<uint8_t> data;
    for (const auto& [name, t] : ts) {
        h[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
        data.insert(data.end(), t.bytes.begin(), t.bytes.end());
    }
    if (tweak) tweak(h);
    const std::string hs = h.dump();
    std::vector<uint8_t> out;
    out.reserve(8 + hs.size() + data.size());
    const uint64_t n = hs.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    out.insert(out.end(), hs.begin(), hs.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

// A complete 1-layer GPT-2 (C=8, 2 heads, P=4, V=16).
Config tiny_config() {
    return parse_config(R"({"n_layer":1,"n_head":2,"n_embd":8,"n_positions":4,"vocab_size":16})");
}

std::vector<std::pair<std::string, Tensor>> tiny_tensors(const std::string& prefix = "") {
    const int C = 8;
    std::vector<std::pair<std::string, Tensor>> t;
    auto add = [&](const std::string& n, std::vector<int64_t> shape) {
        size_t numel = 1;
        for (auto d : shape) numel *= d;
        t.push_back({prefix + n, Tensor{"F32", shape, f32_bytes(numel, 0.1f * t.size())}});
    };
    add("wte.weight", {16, C});
    add("wpe.weight", {4, C});
    add("h.0.ln_1.weight", {C}); add("h.0.ln_1.bias", {C});
    add("h.0.attn.c_attn.weight", {C, 3 * C}); add("h.0.attn.c_attn.bias", {3 * C});
    add("h.0.attn.c_proj.weight", {C, C}); add("h.0.attn.c_proj.bias", {C});
    add("h.0.ln_2.weight", {C}); add("h.0.ln_2.bias", {C});
    add("h.0.mlp.c_fc.weight", {C, 4 * C}); add("h.0.mlp.c_fc.bias", {4 * C});
    add("h.0.mlp.c_proj.weight", {4 * C, C}); add("h.0.mlp.c_proj.bias", {C});
    add("ln_f.weight", {C}); add("ln_f.bias", {C});
    return t;
}

std::string load_error(const std::vector<uint8_t>& file) {
    try {
        GPT2::from_safetensors(tiny_config(), file.data(), file.size());
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a well-formed file loads, with or without prefix, mask buffers and lm_head", "[safetensors]") {
    const auto plain = build(tiny_tensors());
    REQUIRE(load_error(plain).empty());

    auto ts = tiny_tensors("transformer.");
    ts.push_back({"transformer.h.0.attn.bias", Tensor{"F32", {1, 1, 4, 4}, f32_bytes(16, 1)}});
    ts.push_back({"transformer.h.0.attn.masked_bias", Tensor{"F32", {}, f32_bytes(1, -1e4f)}});
    ts.push_back({"lm_head.weight", ts[0].second});  // tied: same values as wte
    const auto official = build(ts);
    REQUIRE(load_error(official).empty());

    // Same weights, same logits.
    const GPT2 a = GPT2::from_safetensors(tiny_config(), plain.data(), plain.size());
    const GPT2 b = GPT2::from_safetensors(tiny_config(), official.data(), official.size());
    const auto la = a.forward({1, 2, 3}, nullptr, true), lb = b.forward({1, 2, 3}, nullptr, true);
    REQUIRE(la == lb);
    for (float x : la) REQUIRE(std::isfinite(x));
}

TEST_CASE("malformed files fail with a message naming the problem", "[safetensors]") {
    using Catch::Matchers::Contains;
    CHECK_THAT(load_error({}), Contains("empty"));
    CHECK_THAT(load_error({1, 2, 3}), Contains("too short"));

    auto good = build(tiny_tensors());
    auto truncated_header = std::vector<uint8_t>(good.begin(), good.begin() + 20);
    CHECK_THAT(load_error(truncated_header), Contains("truncated"));

    auto truncated_data = std::vector<uint8_t>(good.begin(), good.end() - 10);
    CHECK_THAT(load_error(truncated_data), Contains("outside"));

    std::vector<uint8_t> bad_json = {8, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '"', ':', '[', '1', ','};
    CHECK_THAT(load_error(bad_json), Contains("not valid JSON"));

    std::vector<uint8_t> huge_len = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    CHECK_THAT(load_error(huge_len), Contains("header length"));

    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h["wte.weight"]["dtype"] = "I64"; })),
               Contains("unsupported dtype I64") && Contains("wte.weight"));
    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h["wpe.weight"]["data_offsets"] = {0, 1u << 30}; })),
               Contains("wpe.weight") && Contains("outside"));
    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h["wpe.weight"]["data_offsets"] = h["wte.weight"]["data_offsets"]; h["wpe.weight"]["shape"] = {16, 8}; })),
               Contains("overlap"));
    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h["ln_f.bias"]["shape"] = {9}; })),
               Contains("ln_f.bias") && Contains("needs"));
    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h["ln_f.bias"]["shape"] = {-8}; })),
               Contains("ln_f.bias") && Contains("bad shape"));
    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h["ln_f.bias"]["data_offsets"] = {"a", 3}; })),
               Contains("ln_f.bias"));
    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h["ln_f.bias"] = 3; })),
               Contains("malformed"));
    CHECK_THAT(load_error(build(tiny_tensors(), [](json& h) { h = json::array(); })),
               Contains("JSON object"));
}

TEST_CASE("tensors that do not fit the config are named", "[safetensors]") {
    using Catch::Matchers::Contains;
    auto ts = tiny_tensors();
    ts.erase(ts.begin() + 5);  // h.0.attn.c_attn.bias
    CHECK_THAT(load_error(build(ts)), Contains("missing tensor \"h.0.attn.c_attn.bias\""));

    ts = tiny_tensors();
    ts[1].second.shape = {8, 4};  // wpe transposed
    CHECK_THAT(load_error(build(ts)), Contains("wpe.weight") && Contains("shape [8, 4]") && Contains("[4, 8]"));

    ts = tiny_tensors();
    ts.push_back({"h.1.ln_1.weight", Tensor{"F32", {8}, f32_bytes(8, 1)}});
    CHECK_THAT(load_error(build(ts)), Contains("unexpected tensor \"h.1.ln_1.weight\""));

    ts = tiny_tensors();
    ts.push_back({"lm_head.weight", Tensor{"F32", {16, 8}, f32_bytes(128, 5)}});
    CHECK_THAT(load_error(build(ts)), Contains("lm_head.weight differs"));
}

TEST_CASE("F16 and BF16 tensors convert exactly", "[safetensors]") {
    REQUIRE(f16_to_f32(0x3C00) == 1.0f);
    REQUIRE(f16_to_f32(0xC000) == -2.0f);
    REQUIRE(f16_to_f32(0x7BFF) == 65504.0f);
    REQUIRE(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
    REQUIRE(std::isinf(f16_to_f32(0x7C00)));
    REQUIRE(std::isnan(f16_to_f32(0x7E00)));
    // Round trip of every finite half.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16_to_f32(static_cast<uint16_t>(h));
        if (std::isfinite(f)) REQUIRE(f32_to_f16(f) == h);
    }
    REQUIRE(f32_to_f16(1e6f) == 0x7C00);            // overflow -> inf
    REQUIRE(f32_to_f16(1.0f + 1.0f / 4096) == 0x3C00);  // ties to even
    const uint8_t bf[2] = {0x80, 0x3F};              // bf16 1.0
    float out = 0;
    convert_to_f32(DType::BF16, bf, 1, &out);
    REQUIRE(out == 1.0f);
}

TEST_CASE("config.json is validated", "[safetensors]") {
    using Catch::Matchers::Contains;
    auto err = [](const std::string& s) {
        try { parse_config(s); } catch (const Error& e) { return std::string(e.what()); }
        return std::string();
    };
    CHECK_THAT(err("{"), Contains("not valid JSON"));
    CHECK_THAT(err("[]"), Contains("object"));
    CHECK_THAT(err(R"({"n_layer":2,"n_head":3,"n_embd":8,"n_positions":4,"vocab_size":16})"), Contains("divisible"));
    CHECK_THAT(err(R"({"n_layer":2,"n_head":2,"n_embd":8,"n_positions":4})"), Contains("vocab_size"));
    CHECK_THAT(err(R"({"n_layer":-2,"n_head":2,"n_embd":8,"n_positions":4,"vocab_size":16})"), Contains("n_layer"));
    CHECK_THAT(err(R"({"n_layer":2,"n_head":2,"n_embd":8,"n_positions":4,"vocab_size":16,"activation_function":"relu"})"),
               Contains("relu"));
    CHECK_THAT(err(R"({"model_type":"llama","n_layer":2,"n_head":2,"n_embd":8,"n_positions":4,"vocab_size":16})"),
               Contains("gpt2"));
    REQUIRE(err(R"({"n_layer":2,"n_head":2,"n_embd":8,"n_positions":4,"vocab_size":16,"layer_norm_epsilon":1e-5})").empty());
}
