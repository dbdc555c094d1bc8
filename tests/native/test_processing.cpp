// TransformerLens's weight processing at load (processing.h): what each option must leave
// unchanged and what it must change, on the mid checkpoint with the clean golden's prompt and
// that golden's derived tolerance (tests/golden/mid__clean.json; tools/golden_compare.py): the
// processed model computes the same function with other roundings, as a second float32
// implementation would. Its agreement with TransformerLens itself is
// tests/peers/test_tl_processing.py's.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "helpers.h"
#include "hooklab/error.h"
#include "hooklab/patching.h"
#include "hooklab/processing.h"
#include "hooklab/run.h"
#include "hooklab/weights.h"
#include "tolerance.h"

using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

const nlohmann::json& golden() {
    static const nlohmann::json g = testing::read_json(testing::source("tests/golden/mid__clean.json"));
    return g;
}

const testing::GoldenTolerance& tol() {
    static const testing::GoldenTolerance t(golden().at("tolerance"));
    return t;
}

Model processed(const Processing& p) {
    Model m = load_model_dir(testing::ckpt("mid"));
    process_weights(m.gpt2, p);
    return m;
}

RunResult run_of(const Model& m, std::vector<std::string> capture = {}) {
    RunOptions o;
    o.prompt = golden().at("prompt").get<std::string>();
    o.all_logits = true;
    o.logits = true;
    o.capture = std::move(capture);
    return run_model(m, o);
}

const Capture& capture(const RunResult& r, const std::string& name) {
    for (const Capture& c : r.captures)
        if (c.name == name) return c;
    FAIL("no capture " << name);
    return r.captures.front();
}

// Every logit within the derived tolerance of the raw model's, minus `shift`'s row mean when
// shift (center_unembed moves each row of logits by a constant: compared up to it).
void check_logits(const RunResult& a, const RunResult& b, bool up_to_a_constant) {
    const int V = static_cast<int>(a.logits.size());
    const size_t T = a.all_logits.size() / V;
    REQUIRE(b.all_logits.size() == a.all_logits.size());
    int bad = 0;
    for (size_t t = 0; t < T; ++t) {
        double ma = 0, mb = 0;
        if (up_to_a_constant) {
            for (int v = 0; v < V; ++v) ma += a.all_logits[t * V + v], mb += b.all_logits[t * V + v];
            ma /= V, mb /= V;
        }
        for (int v = 0; v < V; ++v) {
            const double x = a.all_logits[t * V + v] - ma, y = b.all_logits[t * V + v] - mb;
            if (std::abs(x - y) > tol().logit_abs && bad++ < 5) CHECK(x == Approx(y).margin(tol().logit_abs));
        }
    }
    CHECK(bad == 0);
}

}  // namespace

TEST_CASE("fold_ln, center_writing_weights and fold_value_biases leave the logits unchanged", "[processing]") {
    const RunResult raw = run_of(testing::mid_model());
    for (const Processing& p : {Processing{true, false, false, false}, Processing{false, true, false, false},
                                Processing{false, false, false, true}}) {
        INFO(p.describe());
        check_logits(run_of(processed(p)), raw, false);
    }
}

TEST_CASE("center_unembed shifts each position's logits by a constant: differences and probabilities stay", "[processing]") {
    const RunResult raw = run_of(testing::mid_model());
    for (const Processing& p : {Processing{false, false, true, false}, Processing::transformer_lens()}) {
        INFO(p.describe());
        const RunResult r = run_of(processed(p));
        check_logits(r, raw, true);
        // The logits are mean-free over the vocabulary (W_U's columns and b_U are).
        const int V = static_cast<int>(r.logits.size());
        double mean = 0, scale = 0;
        for (float x : r.logits) mean += x, scale = std::max(scale, std::abs(static_cast<double>(x)));
        CHECK(std::abs(mean / V) <= tol().activation(scale));
        double raw_mean = 0;
        for (float x : raw.logits) raw_mean += x;
        CHECK(std::abs(raw_mean / V) > tol().logit_abs);  // the raw logits are not (mid's: 0.013)
        REQUIRE(r.top.size() == raw.top.size());
        for (size_t i = 0; i < r.top.size(); ++i) {
            CHECK(r.top[i].id == raw.top[i].id);
            CHECK(r.top[i].prob == Approx(raw.top[i].prob).margin(tol().prob(raw.top[i].prob)));
        }
    }
}

TEST_CASE("center_writing_weights makes every write to the residual stream mean-free", "[processing]") {
    const std::vector<std::string> names = {"blocks.0.hook_resid_pre", "blocks.5.hook_resid_pre", "blocks.11.hook_resid_post"};
    const RunResult raw = run_of(testing::mid_model(), names);
    const RunResult r = run_of(processed({false, true, false, false}), names);
    const int C = testing::mid_model().gpt2.config.n_embd;
    for (const std::string& n : names) {
        INFO(n);
        const Capture &a = capture(r, n), &b = capture(raw, n);
        double scale = 0, worst = 0, worst_raw_mean = 0;
        for (float x : b.data) scale = std::max(scale, std::abs(static_cast<double>(x)));
        for (size_t row = 0; row < a.data.size() / C; ++row) {
            double mb = 0, ma = 0;
            for (int i = 0; i < C; ++i) mb += b.data[row * C + i], ma += a.data[row * C + i];
            mb /= C, ma /= C;
            worst_raw_mean = std::max(worst_raw_mean, std::abs(mb));
            CHECK(std::abs(ma) <= tol().activation(scale));
            for (int i = 0; i < C; ++i) worst = std::max(worst, std::abs(a.data[row * C + i] - (b.data[row * C + i] - mb)));
        }
        CHECK(worst <= tol().activation(scale));  // the raw stream minus its mean per position
        CHECK(worst_raw_mean > 10 * tol().activation(scale));  // which is not nothing
    }
}

TEST_CASE("after fold_ln the LayerNorm hooks are (x - mean) / scale, before any weight and bias", "[processing]") {
    const Model m = processed({true, false, false, false});
    for (const LayerNormWeights* ln : {&m.gpt2.weights.blocks[3].ln_1, &m.gpt2.weights.ln_f}) {
        CHECK(std::all_of(ln->weight.begin(), ln->weight.end(), [](float x) { return x == 1.0f; }));
        CHECK(std::all_of(ln->bias.begin(), ln->bias.end(), [](float x) { return x == 0.0f; }));
    }
    const RunResult r = run_of(m, {"blocks.3.ln1.hook_normalized", "ln_final.hook_normalized"});
    const int C = m.gpt2.config.n_embd;
    for (const Capture& c : r.captures) {
        INFO(c.name);
        for (size_t row = 0; row < c.data.size() / C; ++row) {
            double mean = 0, var = 0;
            for (int i = 0; i < C; ++i) mean += c.data[row * C + i];
            mean /= C;
            for (int i = 0; i < C; ++i) var += (c.data[row * C + i] - mean) * (c.data[row * C + i] - mean);
            var /= C;
            CHECK(std::abs(mean) <= tol().activation(1.0));
            CHECK(var == Approx(1.0).margin(1e-3));  // 1 - eps / (var + eps): eps = 1e-5 against O(1) variances
        }
    }
}

TEST_CASE("processed weights: b_U, an untied W_E, b_V folded, the config says so", "[processing]") {
    const Model& raw = testing::mid_model();
    const Model m = processed(Processing::transformer_lens());
    CHECK(m.gpt2.config.processing.describe() == "fold_ln, center_writing_weights, center_unembed, fold_value_biases");
    CHECK_FALSE(raw.gpt2.config.processing.any());
    const WeightTensor b_U = weight_tensor(m.gpt2, "b_U"), b_V = weight_tensor(m.gpt2, "b_V");
    CHECK(std::any_of(b_U.data.begin(), b_U.data.end(), [](float x) { return x != 0.0f; }));
    CHECK(std::all_of(b_V.data.begin(), b_V.data.end(), [](float x) { return x == 0.0f; }));
    const WeightTensor W_E = weight_tensor(m.gpt2, "W_E"), raw_W_E = weight_tensor(raw.gpt2, "W_E");
    REQUIRE(W_E.shape == raw_W_E.shape);
    CHECK(W_E.data != raw_W_E.data);
    // Processing twice is refused: the weights are no longer HuggingFace's.
    Model again = processed({false, false, true, false});
    CHECK_THROWS_WITH(process_weights(again.gpt2, {true, false, false, false}), Contains("already processed (center_unembed)"));
}

TEST_CASE("with processed weights the logit difference, patching and attribution stay the raw model's", "[processing]") {
    const Model m = processed(Processing::transformer_lens());
    const Model& raw = testing::mid_model();
    AttributeOptions o;
    o.prompt = golden().at("prompt").get<std::string>();
    o.answer = "#337";
    o.wrong = "#1757";
    const AttributeResult a = attribute(m, o), b = attribute(raw, o);
    CHECK(a.logit_diff == Approx(b.logit_diff).margin(tol().logit_diff()));
    double sum = 0;
    bool has_b_U = false;
    for (const Component& c : a.components) sum += c.value, has_b_U = has_b_U || c.name == "unembed.bias";
    CHECK(has_b_U);
    CHECK(sum == Approx(a.logit_diff).margin(tol().logit_diff()));
}

TEST_CASE("--process names: tl, a list, did-you-mean", "[processing]") {
    CHECK(parse_processing("tl").describe() == Processing::transformer_lens().describe());
    CHECK(parse_processing("center_unembed,fold_ln").describe() == "fold_ln, center_unembed");
    CHECK_THROWS_WITH(parse_processing("fold_lnn"), Contains("unknown weight processing \"fold_lnn\" (did you mean fold_ln?)"));
    CHECK_THROWS_WITH(parse_processing(""), Contains("unknown weight processing \"\""));
}
