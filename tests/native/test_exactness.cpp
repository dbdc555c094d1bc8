// The engine against HuggingFace transformers (tools/hf_goldens.py: GPT2LMHeadModel.from_pretrained,
// the chapter's recipes as real register_forward_hook hooks). Goldens are committed;
// tools/make_goldens.py regenerates them and the checkpoints (docs/testing.md).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "helpers.h"
#include "hooklab/run.h"
#include "tolerance.h"

using nlohmann::json;
using namespace hooklab;

namespace {

// |a - b| <= tol for every element.
void check_close(const json& got, const json& want, double tol, const std::string& what) {
    REQUIRE(got.is_array());
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        INFO(what << "[" << i << "]: engine " << got[i].dump() << " vs reference " << want[i].dump() << ", tolerance " << tol);
        REQUIRE(got[i].is_number());
        REQUIRE(want[i].is_number());
        CHECK(std::abs(got[i].get<double>() - want[i].get<double>()) <= tol);
    }
}

double max_abs(const json& values) {
    double m = 0;
    for (const auto& v : values) m = std::max(m, std::abs(v.get<double>()));
    return m;
}

void compare_with_golden(const std::string& ckpt_name, const std::string& case_name, const Model& m) {
    const json golden = testing::read_json(testing::source("tests/golden/" + ckpt_name + "__" + case_name + ".json"));
    RunOptions o;
    o.prompt = golden["prompt"].get<std::string>();
    o.interventions = testing::ivs(m, golden["interventions"]);
    o.topk = static_cast<int>(golden["top"].size());
    o.logits = golden.contains("logits_last");
    const json got = run(m, o);
    INFO("checkpoint " << ckpt_name << ", case " << case_name);
    const testing::GoldenTolerance tol(golden.at("tolerance"));

    REQUIRE(got["tokens"] == golden["tokens"]);
    REQUIRE(got["token_strings"] == golden["token_strings"]);
    REQUIRE(golden["hidden_std"].size() == static_cast<size_t>(m.gpt2.config.n_layer + 1));
    check_close(got["hidden_std"], golden["hidden_std"], tol.activation(max_abs(golden["hidden_std"])), "hidden_std");
    check_close(got["resid_std"], golden["resid_std"], tol.activation(max_abs(golden["resid_std"])), "resid_std");

    REQUIRE(golden["stats"].size() == 20);
    for (auto it = golden["stats"].begin(); it != golden["stats"].end(); ++it) {
        const json& want = it.value();
        const json& have = got["stats"][it.key()];
        for (size_t l = 0; l < want["std"].size(); ++l) {
            // A layer's mean, std, min and max are read against the largest of them (a mean near 0
            // is a difference of terms of that size); the norm against itself.
            const double row = max_abs(json::array({want["mean"][l], want["std"][l], want["min"][l], want["max"][l]}));
            for (const char* f : {"mean", "std", "min", "max", "norm"}) {
                const double scale = std::string(f) == "norm" ? std::abs(want[f][l].get<double>()) : row;
                check_close(json::array({have[f][l]}), json::array({want[f][l]}), tol.activation(scale), it.key() + "." + f + "[" + std::to_string(l) + "]");
            }
        }
    }
    if (o.logits) check_close(got["logits_last"], golden["logits_last"], tol.logit_abs, "logits_last");
    // Top-k: same probabilities for the reference's tokens (ids may swap only on near-ties).
    for (size_t i = 0; i < golden["top"].size(); ++i) {
        const json& w = golden["top"][i];
        const json& g = got["top"][i];
        INFO("top[" << i << "]");
        CHECK(std::abs(g["logit"].get<double>() - w["logit"].get<double>()) <= tol.logit_abs);
        if (g["id"] != w["id"]) continue;
        CHECK(g["token"] == w["token"]);
        CHECK(std::abs(g["prob"].get<double>() - w["prob"].get<double>()) <= tol.prob(w["prob"].get<double>()));
    }
    REQUIRE(got["interventions"].size() == golden["interventions"].size());
}

void check_checkpoint(const std::string& name) {
    const Model m = load_model_dir(testing::ckpt(name));
    for (const char* c : {"clean", "ex1", "ex2", "ex3", "ex4", "combo"}) compare_with_golden(name, c, m);
}

}  // namespace

TEST_CASE("tiny F32 checkpoint (prefixed names, lm_head present) matches PyTorch", "[exactness]") { check_checkpoint("tiny_f32"); }
TEST_CASE("tiny F16 checkpoint (official names, mask buffers) matches PyTorch", "[exactness]") { check_checkpoint("tiny_f16"); }
TEST_CASE("tiny BF16 checkpoint (no lm_head) matches PyTorch", "[exactness]") { check_checkpoint("tiny_bf16"); }
TEST_CASE("12x12 checkpoint: the chapter's exercises at block 9 match PyTorch", "[exactness]") { check_checkpoint("mid"); }
TEST_CASE("GPT-2-small shape (12x12x768, vocab 50257) matches PyTorch", "[gpt2_small_shape]") { check_checkpoint("gpt2_small_shape"); }

TEST_CASE("F16 weight storage changes the statistics by at most 1e-3 relative", "[exactness]") {
    const Model f32 = load_model_dir(testing::ckpt("mid"), false);
    const Model f16 = load_model_dir(testing::ckpt("mid"), true);
    REQUIRE(f16.gpt2.weights.bytes() < 0.6 * f32.gpt2.weights.bytes());
    RunOptions o;
    o.prompt = "The quick brown fox doesn't jump over 12 lazy dogs.";
    o.interventions = testing::ivs(f32, {{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 10}}});
    const json a = run(f32, o), b = run(f16, o);
    // The checkpoint is F32, so F16 storage rounds every weight: a real approximation.
    for (size_t i = 0; i < a["resid_std"].size(); ++i) {
        const double x = a["resid_std"][i], y = b["resid_std"][i];
        CHECK(std::abs(x - y) <= 1e-3 * x);
    }
    CHECK(a["hidden_std"] != b["hidden_std"]);  // the F16 path really ran
}

// The forward's vectorisable gelu_new against the formula in double precision, and on the
// special values against the formula as torch evaluates it in float (1 + tanh rounds to 0
// for very negative inputs, so -inf gives NaN and -3e38 gives -0).
TEST_CASE("gelu_new is within 2e-7 |x| of the exact formula and keeps torch's special values", "[exactness]") {
    auto exact = [](double x) { return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); };
    auto torch_float = [](float x) {
        return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    };
    double worst = 0;
    for (int i = -400000; i <= 400000; ++i) {
        const float x = static_cast<float>(i * 1e-4);
        if (x != 0) worst = std::max(worst, std::abs(gelu_new(x) - exact(x)) / std::abs(x));
    }
    CHECK(worst < 2e-7);
    for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 3e38f, -3e38f, INFINITY, -INFINITY, NAN}) {
        const float got = gelu_new(x), want = torch_float(x);
        INFO("x = " << x << ": got " << got << ", torch's formula " << want);
        CHECK((std::isnan(got) ? std::isnan(want) : got == want && std::signbit(got) == std::signbit(want)));
    }
}
