// Intervention specs: every bad input is refused before any work, with a message that
// names it; noise is reproducible from its seed.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "helpers.h"
#include "hooklab/error.h"
#include "hooklab/intervention.h"
#include "hooklab/rng.h"
#include "hooklab/run.h"

using nlohmann::json;
using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

// As both CLIs do: the interventions parsed against the model (json_io.h), then one run.
json run_with(const std::vector<json>& ivs, const std::vector<std::string>& capture = {}) {
    RunOptions o;
    o.prompt = "The quick brown fox doesn't jump over 12 lazy dogs.";
    o.interventions = testing::ivs(testing::mid_model(), json(ivs));
    o.capture = capture;
    return run(testing::mid_model(), o);
}

std::string run_error(const json& iv) {
    try {
        run_with({iv});
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("the noise generator is the documented splitmix64 + Box-Muller", "[interventions]") {
    // Values from an independent Python implementation of the formula in rng.h.
    CHECK(gaussian(0, 0) == Approx(-0.452757740217458).epsilon(1e-15));
    CHECK(gaussian(0, 1) == Approx(2.650605812079669).epsilon(1e-15));
    CHECK(gaussian(1, 0) == Approx(-0.028249746095854695).epsilon(1e-15));
    CHECK(gaussian(42, 7) == Approx(0.26045053911027205).epsilon(1e-15));
    CHECK(gaussian(9223372036854775813ull, 1000) == Approx(-0.6800591316967892).epsilon(1e-15));
    double s = 0, sq = 0;
    const int n = 200000;
    for (int k = 0; k < n; ++k) { const double g = gaussian(7, k); s += g; sq += g * g; }
    CHECK(std::abs(s / n) < 0.01);
    CHECK(std::abs(std::sqrt(sq / n - (s / n) * (s / n)) - 1) < 0.01);
}

TEST_CASE("bad interventions are clear errors", "[interventions]") {
    CHECK_THAT(run_error({{"kind", "zero_head_k"}, {"layer", 12}, {"head", 2}}), Contains("layer 12 is out of range"));
    CHECK_THAT(run_error({{"kind", "zero_head_k"}, {"layer", 9}, {"head", 12}}), Contains("head 12 is out of range"));
    CHECK_THAT(run_error({{"kind", "zero_head_k"}, {"layer", 9}, {"head", -1}}), Contains("head -1"));
    CHECK_THAT(run_error({{"kind", "zero_head_k"}, {"layer", 9}}), Contains("\"head\" is required"));
    CHECK_THAT(run_error({{"kind", "scale_hidden"}, {"layer", 9}}), Contains("\"factor\" is required"));
    CHECK_THAT(run_error({{"kind", "scale_hidden"}, {"layer", 9}, {"factor", "big"}}), Contains("finite number"));
    CHECK_THAT(run_error({{"kind", "scale_hidden"}, {"layer", 9}, {"factor", std::nan("")}}), Contains("finite"));
    CHECK_THAT(run_error({{"kind", "noise_even_neurons"}, {"layer", 9}, {"mean", INFINITY}}), Contains("finite"));
    CHECK_THAT(run_error({{"kind", "noise_even_neurons"}, {"layer", 9}, {"std", -1}}), Contains("std"));
    CHECK_THAT(run_error({{"kind", "noise_even_neurons"}, {"layer", 9}, {"seed", -3}}), Contains("seed"));
    CHECK_THAT(run_error({{"kind", "explode"}}), Contains("unknown kind"));
    CHECK_THAT(run_error({{"kind", "zero"}, {"hook", "blocks.3.mlp.hook_nope"}}), Contains("unknown hook point"));
    CHECK_THAT(run_error({{"kind", "zero"}, {"hook", "blocks.3.mlp.hook_post"}, {"features", {{"range", {0, 385}}}}}),
               Contains("features range [0, 385)"));
    CHECK_THAT(run_error({{"kind", "zero"}, {"hook", "blocks.3.mlp.hook_post"}, {"heads", {1}}}), Contains("no head axis"));
    CHECK_THAT(run_error({{"kind", "zero"}, {"hook", "blocks.3.attn.hook_z"}, {"heads", {12}}}), Contains("heads 12"));
    CHECK_THAT(run_error({{"kind", "zero"}, {"hook", "blocks.3.hook_resid_post"}, {"positions", {40}}}),
               Contains("positions 40 is out of range"));
    CHECK_THAT(run_error({{"kind", "set"}, {"hook", "hook_embed"}}), Contains("\"value\" is required"));
    CHECK_THAT(run_error(json::array()), Contains("JSON object"));
}

TEST_CASE("a bad prompt is a clear error", "[interventions]") {
    RunOptions o;
    o.prompt = "";
    REQUIRE_THROWS_WITH(run(testing::mid_model(), o), Contains("prompt is empty"));
    o.prompt = std::string(200, 'a') + " " + std::string(300, 'b');
    for (int i = 0; i < 100; ++i) o.prompt += " word";
    REQUIRE_THROWS_WITH(run(testing::mid_model(), o), Contains("context is 128 tokens"));
    o.prompt = "bad \xff byte";
    REQUIRE_THROWS_WITH(run(testing::mid_model(), o), Contains("not valid UTF-8"));
}

TEST_CASE("noise: even neurons ~ N(10, 1), odd neurons untouched", "[interventions]") {
    const std::string hook = "blocks.9.mlp.hook_post";
    const json clean = run_with({}, {hook});
    const json iv = {{"kind", "noise_even_neurons"}, {"layer", 9}, {"mean", 10}, {"std", 1}, {"seed", 5}};
    const json noisy = run_with({iv}, {hook});
    const json again = run_with({iv}, {hook});
    const auto& a = clean["captures"][hook]["data"];
    const auto& b = noisy["captures"][hook]["data"];
    REQUIRE(b == again["captures"][hook]["data"]);  // same seed, same numbers
    const int M = 384;
    double s = 0, sq = 0;
    int n = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        if ((i % M) % 2 == 1) {
            REQUIRE(b[i].get<float>() == a[i].get<float>());  // bit-identical
        } else {
            const double x = b[i].get<double>();
            s += x; sq += x * x; ++n;
        }
    }
    const double mean = s / n, sd = std::sqrt((sq - n * mean * mean) / (n - 1));
    // n ~ 2300 draws: the mean's standard error is ~0.02.
    CHECK(std::abs(mean - 10) < 0.1);
    CHECK(std::abs(sd - 1) < 0.06);
    const json other_seed = run_with({{{"kind", "noise_even_neurons"}, {"layer", 9}, {"seed", 6}}}, {hook});
    CHECK(other_seed["captures"][hook]["data"] != b);
}

TEST_CASE("zeroing head 2's Key makes its pattern uniform over the prefix", "[interventions]") {
    const std::string hook = "blocks.9.attn.hook_pattern";
    const json r = run_with({{{"kind", "zero_head_k"}, {"layer", 9}, {"head", 2}}}, {hook});
    const auto& shape = r["captures"][hook]["shape"];
    const int H = shape[0], T = shape[1];
    const auto& p = r["captures"][hook]["data"];
    for (int h = 0; h < H; ++h)
        for (int i = 0; i < T; ++i)
            for (int j = 0; j < T; ++j) {
                const float x = p[(static_cast<size_t>(h) * T + i) * T + j];
                if (j > i) REQUIRE(x == 0.0f);
                else if (h == 2) REQUIRE(x == Approx(1.0 / (i + 1)).epsilon(1e-6));
            }
    // Another head is not uniform.
    REQUIRE(p[(static_cast<size_t>(3) * T + (T - 1)) * T] != Approx(1.0 / T).epsilon(1e-3));
    // The general form on the same slice gives the same run.
    const json general = run_with({{{"kind", "zero"}, {"hook", "blocks.9.attn.hook_qkv"}, {"features", {{"range", {96 + 16, 96 + 24}}}}}}, {hook});
    REQUIRE(general["captures"][hook] == r["captures"][hook]);
    REQUIRE(general["hidden_std"] == r["hidden_std"]);
}

TEST_CASE("zero_head_k zeroes exactly head h's Key columns of the fused QKV, nothing else", "[interventions]") {
    // A zeroed Query gives a uniform pattern too, so the pattern alone cannot tell K from
    // Q: look at the QKV tensor itself. hook_qkv is [T, 3 C] laid out [Q | K | V], each C
    // wide, head h at columns h*d_head..(h+1)*d_head within its third. The intervened run
    // and the baseline agree on everything before the hook (same build, same machine), so
    // every column but head h's K must be the very same bits.
    const Config& c = testing::mid_model().gpt2.config;
    const int C = c.n_embd, dh = c.d_head();
    auto bits = [](const json& x) {
        const float f = x.get<float>();
        uint32_t b;
        std::memcpy(&b, &f, 4);
        return b;
    };
    for (const auto& [layer, head] : {std::pair<int, int>{0, 0}, {9, 2}, {c.n_layer - 1, c.n_head - 1}}) {
        const std::string hook = "blocks." + std::to_string(layer) + ".attn.hook_qkv";
        const json base = run_with({}, {hook});
        const json iv = run_with({{{"kind", "zero_head_k"}, {"layer", layer}, {"head", head}}}, {hook});
        const auto& a = base["captures"][hook];
        const auto& b = iv["captures"][hook];
        REQUIRE(a["shape"] == b["shape"]);
        REQUIRE(a["shape"].size() == 2);
        const int T = a["shape"][0], W = a["shape"][1];
        REQUIRE(W == 3 * C);
        REQUIRE(T > 1);
        const int k0 = C + head * dh, k1 = k0 + dh;  // head h's Key columns
        int zeroed = 0, same = 0, base_nonzero = 0;
        for (int t = 0; t < T; ++t)
            for (int j = 0; j < W; ++j) {
                const size_t i = static_cast<size_t>(t) * W + j;
                const uint32_t x = bits(a["data"][i]), y = bits(b["data"][i]);
                if (j >= k0 && j < k1) {
                    zeroed += y == 0u;  // +0.0f
                    base_nonzero += (x & 0x7fffffffu) != 0u;
                } else {
                    same += x == y;
                }
            }
        INFO("layer " << layer << " head " << head);
        CHECK(zeroed == T * dh);
        CHECK(same == T * (W - dh));
        // The baseline's slice was not zero already (else the check above proves nothing).
        CHECK(base_nonzero == T * dh);
    }
}

TEST_CASE("interventions compose in order and each hook sees earlier changes", "[interventions]") {
    // add 1 then scale by 2 on the same hook = 2x + 2; reversed = 2x + 1.
    const std::string hook = "blocks.4.hook_resid_post";
    const json base = run_with({}, {hook});
    const json a = run_with({{{"kind", "add"}, {"hook", hook}, {"value", 1}}, {{"kind", "scale"}, {"hook", hook}, {"factor", 2}}}, {hook});
    const json b = run_with({{{"kind", "scale"}, {"hook", hook}, {"factor", 2}}, {{"kind", "add"}, {"hook", hook}, {"value", 1}}}, {hook});
    const auto& x = base["captures"][hook]["data"];
    // One build, one machine, the same float32 operations in the same order: exact.
    for (size_t i = 0; i < x.size(); i += 97) {
        const float xi = x[i].get<float>();
        CHECK(a["captures"][hook]["data"][i].get<float>() == (xi + 1.0f) * 2.0f);
        CHECK(b["captures"][hook]["data"][i].get<float>() == xi * 2.0f + 1.0f);
    }
    // Downstream of the change, the next block's input is the changed tensor.
    CHECK(a["stats"]["hook_resid_pre"]["mean"][5].get<double>() == Approx(a["stats"]["hook_resid_post"]["mean"][4].get<double>()));
    // Position and head selection.
    const json pos = run_with({{{"kind", "set"}, {"hook", "blocks.2.attn.hook_z"}, {"value", 3}, {"positions", {-1}}, {"heads", {1, 4}}}},
                              {"blocks.2.attn.hook_z"});
    const auto& z = pos["captures"]["blocks.2.attn.hook_z"];
    const int T = z["shape"][0], H = z["shape"][1], D = z["shape"][2];
    for (int t = 0; t < T; ++t)
        for (int h = 0; h < H; ++h) {
            const float v = z["data"][(static_cast<size_t>(t) * H + h) * D];
            CHECK((v == 3.0f) == (t == T - 1 && (h == 1 || h == 4)));
        }
}

TEST_CASE("a huge factor finishes and names the first non-finite hook", "[interventions]") {
    const json r = run_with({{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 1e38}}, {{"kind", "scale"}, {"hook", "blocks.9.hook_resid_post"}, {"factor", 1e38}}});
    REQUIRE(r["nonfinite"] == "blocks.9.hook_resid_post");
    REQUIRE(r["resid_std"][9].is_null());
    const json ok = run_with({{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 1e30}}});
    // LayerNorm in double keeps the next blocks finite at 1e30.
    CHECK(ok["stats"]["ln1.hook_normalized"]["std"][10].is_number());
}
