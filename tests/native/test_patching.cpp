// Activation patching and direct logit attribution (issue #11): against the reference's
// TransformerLens-way sweeps (tests/golden/<ckpt>__patching.json, tools/make_goldens.py),
// against naive full-forward patching in the engine, and the resumable forward itself.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "helpers.h"
#include "tolerance.h"
#include "hooklab/error.h"
#include "hooklab/intervention.h"
#include "hooklab/patching.h"

using nlohmann::json;
using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

using testing::max_abs;

// |a - b| <= rel * max(|b|, floor) element-wise over nested arrays.
void check_close(const json& got, const json& want, double rel, double floor, const std::string& what) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        if (want[i].is_array()) {
            check_close(got[i], want[i], rel, floor, what + "[" + std::to_string(i) + "]");
            continue;
        }
        INFO(what << "[" << i << "]: engine " << got[i].dump() << " vs " << want[i].dump());
        REQUIRE(got[i].is_number());
        const double a = got[i].get<double>(), b = want[i].get<double>();
        CHECK(std::abs(a - b) <= rel * std::max(std::abs(b), floor));
    }
}

using testing::check_abs;


void compare_with_reference(const std::string& name, bool f16) {
    const Model m = load_model_dir(testing::ckpt(name), f16);
    const json golden = testing::read_json(testing::source("tests/golden/" + name + "__patching.json"));
    const testing::GoldenTolerance tol(golden.at("tolerance"));
    REQUIRE(golden["patch"].size() == 8);
    for (const json& c : golden["patch"]) {
        INFO(name << (f16 ? " (F16)" : "") << ", hook " << c["hook"] << ", interventions " << c["interventions"].dump());
        const json got = patch_json(m, patch(m, testing::patch_options_from(m, golden, c)));
        CHECK(got["clean_tokens"] == c["clean_tokens"]);
        CHECK(got["corrupted_tokens"] == c["corrupted_tokens"]);
        CHECK(got["answer_id"] == c["answer_id"]);
        CHECK(got["by"] == c["by"]);
        const double D = c["clean_logit_diff"].get<double>() - c["corrupted_logit_diff"].get<double>();
        check_abs(json::array({got["clean_logit_diff"], got["corrupted_logit_diff"]}),
                  json::array({c["clean_logit_diff"], c["corrupted_logit_diff"]}), [&](double) { return tol.logit_diff(); }, "clean/corrupted");
        check_abs(got["logit_diff"], c["logit_diff"], [&](double) { return tol.logit_diff(); }, "logit_diff");
        check_abs(got["normalized"], c["normalized"], [&](double n) { return tol.normalized(n, D); }, "normalized");
    }
    REQUIRE(golden["attribute"].size() == 2);
    for (const json& c : golden["attribute"]) {
        INFO(name << (f16 ? " (F16)" : "") << ", attribution, interventions " << c["interventions"].dump());
        AttributeOptions o;
        o.prompt = golden["clean"];
        o.answer = golden["answer"];
        o.wrong = golden["wrong"];
        o.interventions = testing::ivs(m, c["interventions"]);
        const json got = attribute_json(m, attribute(m, o));
        REQUIRE(got["components"].size() == c["components"].size());
        json gv = json::array(), wv = json::array();
        for (size_t i = 0; i < c["components"].size(); ++i) {
            CHECK(got["components"][i]["name"] == c["components"][i]["name"]);
            gv.push_back(got["components"][i]["value"]);
            wv.push_back(c["components"][i]["value"]);
        }
        check_abs(gv, wv, [&](double) { return tol.logit_diff(); }, "components");
        check_abs(json::array({got["logit_diff"]}), json::array({c["logit_diff"]}), [&](double) { return tol.logit_diff(); }, "logit_diff");
        double sum = 0;
        for (const auto& x : got["components"]) sum += x["value"].get<double>();
        INFO("sum of components " << sum << " vs logit diff " << got["logit_diff"]);
        CHECK(std::abs(sum - got["logit_diff"].get<double>()) <= 1e-5 * std::abs(got["logit_diff"].get<double>()));
    }
}

// TransformerLens's way inside the engine: a full forward of the corrupted prompt per patch.
json naive_sweep(const Model& m, const PatchOptions& o) {
    const Config& c = m.gpt2.config;
    const int C = c.n_embd, D = c.d_head();
    const std::vector<Intervention>& ivs = o.interventions;
    const Hook family = o.hook == "resid_pre" ? Hook::ResidPre : o.hook == "attn_out" ? Hook::AttnOut
                      : o.hook == "mlp_out" ? Hook::MlpOut : Hook::Z;
    const auto clean = m.tokenizer.encode(o.clean), corrupted = m.tokenizer.encode(o.corrupted);
    const int T = static_cast<int>(clean.size());
    const int a = parse_single_token(m.tokenizer, c, o.answer, "answer"), w = parse_single_token(m.tokenizer, c, o.wrong, "wrong");
    std::vector<std::vector<float>> cache(c.n_layer);
    m.gpt2.forward(clean, [&](HookView& v) {
        apply_interventions(ivs, v);
        if (v.hook == family) cache[v.layer].assign(v.data, v.data + v.numel());
    }, false);
    json rows = json::array();
    for (int L = 0; L < c.n_layer; ++L) {
        json row = json::array();
        for (int i = 0; i < (family == Hook::Z ? c.n_head : T); ++i) {
            const auto logits = m.gpt2.forward(corrupted, [&](HookView& v) {
                apply_interventions(ivs, v);
                if (v.hook != family || v.layer != L) return;
                for (int t = 0; t < T; ++t)
                    if (family == Hook::Z) std::memcpy(v.data + t * C + i * D, &cache[L][t * C + i * D], sizeof(float) * D);
                    else if (t == i) std::memcpy(v.data + t * C, &cache[L][t * C], sizeof(float) * C);
            }, false);
            row.push_back(static_cast<double>(logits[a]) - logits[w]);
        }
        rows.push_back(row);
    }
    return rows;
}

const char* kClean = "When Mary and John went to the store, John gave a drink to";
// The test checkpoints' vocabularies are truncated: this pair has one length in all of them.
const char* kCorrupted = "When John and Mary went to the store, John gave a drink to";

}  // namespace

TEST_CASE("patching and attribution match the PyTorch reference (TransformerLens way), F32", "[patching]") {
    compare_with_reference("tiny_f32", false);
    compare_with_reference("mid", false);
}

TEST_CASE("patching and attribution match the PyTorch reference, F16 weights", "[patching]") {
    // tiny_f16 stores halves: the engine's F16 weights are then the reference's values.
    compare_with_reference("tiny_f16", true);
    compare_with_reference("tiny_f16", false);
}

TEST_CASE("patching from the corrupted run's cache equals full-forward patching", "[patching]") {
    const Model m = load_model_dir(testing::ckpt("mid"));
    const json golden = testing::read_json(testing::source("tests/golden/mid__patching.json"));
    // Noise with a non-zero std: each draw must not depend on which rows a pass computes.
    const json noise = {{"kind", "noise"}, {"hook", "blocks.6.mlp.hook_post"}, {"std", 0.5}, {"positions", "odd"}, {"seed", 7}};
    const json zero_q = {{"kind", "zero"}, {"hook", "blocks.4.attn.hook_q"}, {"heads", {1, 3}}, {"positions", {-2, 3}}};
    // On the logits, the full unembedding replaces the two-column shortcut.
    const json on_logits = {{"kind", "scale"}, {"hook", "logits"}, {"factor", 2.0}, {"features", {337, 1757, 5}}};
    for (const char* hook : {"resid_pre", "attn_out", "mlp_out", "z"})
        for (const json& ivs : {json::array(), json::array({noise, zero_q}), json::array({on_logits})}) {
            INFO("hook " << hook << ", interventions " << ivs.dump());
            PatchOptions o = testing::patch_options_from(m, golden, {{"hook", hook}, {"interventions", ivs}});
            const json got = patch_json(m, patch(m, o));
            // The metric's own scale is the floor: its values can sit near zero.
            const double spread = std::abs(got["clean_logit_diff"].get<double>() - got["corrupted_logit_diff"].get<double>());
            check_close(got["logit_diff"], naive_sweep(m, o), 1e-5, spread, "cache vs naive");
        }
}

TEST_CASE("a resid_pre sweep costs at most 0.35 x n_layer x T forwards", "[patching]") {
    const Model m = load_model_dir(testing::ckpt("mid"));
    PatchOptions o;
    o.clean = kClean;
    o.corrupted = kCorrupted;
    o.answer = "#1";
    o.wrong = "#2";
    const json r = patch_json(m, patch(m, o));
    const double T = r["clean_tokens"].size(), n = m.gpt2.config.n_layer;
    INFO("forwards " << r["forwards"] << ", n_layer x T = " << n * T);
    CHECK(r["forwards"].get<double>() <= 0.35 * n * T);
    CHECK(r["forwards"].get<double>() > 0.2 * n * T);  // counted, not a constant
}

TEST_CASE("resuming a run state: one position at a time equals the full forward", "[patching]") {
    const Model m = load_model_dir(testing::ckpt("mid"));
    const auto tokens = m.tokenizer.encode(kClean);
    const int T = static_cast<int>(tokens.size()), V = m.gpt2.config.vocab_size;
    const auto full = m.gpt2.forward(tokens, nullptr, true);
    // The full forward through a saved state is bit-identical to the plain one.
    RunState s;
    s.tokens = tokens;
    const auto saved = m.gpt2.forward(std::vector<Segment>{{&s, 0, &s}}, 0, nullptr, Logits::All);
    CHECK(std::memcmp(saved.data(), full.data(), sizeof(float) * full.size()) == 0);
    // Append one token at a time, computing only the new position from the cached keys/values.
    RunState g;
    for (int t = 0; t < T; ++t) {
        g.tokens.push_back(tokens[t]);
        int rows = -1;
        const auto l = m.gpt2.forward(std::vector<Segment>{{&g, t, &g}}, 0, [&](HookView& v) {
            if (v.hook == Hook::ResidPre) { CHECK(v.shape[0] == 1); CHECK(v.pos0 == t); CHECK(v.n_pos == t + 1); }
            if (v.hook == Hook::Pattern) rows = v.shape[1] * 1000 + v.shape[2];
        }, Logits::Last);
        CHECK(rows == 1000 + t + 1);  // [H, 1 query, t + 1 keys]
        for (int i = 0; i < V; ++i) {
            const float want = full[static_cast<size_t>(t) * V + i];
            REQUIRE(std::abs(l[i] - want) <= 1e-5f * std::max(1.0f, std::abs(want)));
        }
    }
}

TEST_CASE("patching and attribution refuse bad input with clear messages", "[patching]") {
    const Model m = load_model_dir(testing::ckpt("mid"));
    PatchOptions o;
    o.clean = kClean;
    o.corrupted = "When Mary and John went to the store, John gave";
    o.answer = "#1";
    o.wrong = "#2";
    const int Tc = static_cast<int>(m.tokenizer.encode(o.clean).size()), Tk = static_cast<int>(m.tokenizer.encode(o.corrupted).size());
    CHECK_THROWS_WITH(patch(m, o), Contains(std::to_string(Tc) + " tokens") && Contains(std::to_string(Tk)) && Contains("same number"));
    o.corrupted = kCorrupted;
    o.answer = " Marybeth the great";
    CHECK_THROWS_WITH(patch(m, o), Contains("answer") && Contains("tokens") && Contains(" + ") && Contains("exactly one token"));
    o.answer = "#99999999";
    CHECK_THROWS_WITH(patch(m, o), Contains("outside the vocabulary"));
    o.answer = "";
    CHECK_THROWS_WITH(patch(m, o), Contains("answer is empty"));
    o.answer = "#1";
    o.hook = "resid_post";
    CHECK_THROWS_WITH(patch(m, o), Contains("resid_pre, attn_out, mlp_out or z"));
    o.hook = "z";
    o.by = "position";
    CHECK_THROWS_WITH(patch(m, o), Contains("by head"));
    o.hook = "resid_pre";
    o.by = "";
    o.interventions = testing::ivs(m, {{{"kind", "zero"}, {"hook", "blocks.1.hook_resid_pre"}, {"positions", {40}}}});
    CHECK_THROWS_WITH(patch(m, o), Contains("positions") && Contains("out of range"));
    o.clean = "";
    CHECK_THROWS_WITH(patch(m, o), Contains("clean prompt is empty"));

    AttributeOptions a;
    a.prompt = kClean;
    a.answer = "#1";
    a.wrong = "#2";
    a.interventions = testing::ivs(m, {{{"kind", "scale_hidden"}, {"layer", 3}, {"factor", 2.0}}});
    CHECK_THROWS_WITH(attribute(m, a), Contains("blocks.3.hook_resid_post") && Contains("residual stream") && Contains("not defined"));
    a.interventions = testing::ivs(m, {{{"kind", "add"}, {"hook", "blocks.2.hook_resid_mid"}, {"value", 1.0}}});
    CHECK_THROWS_WITH(attribute(m, a), Contains("hook_resid_mid") && Contains("not defined"));
    a.interventions = testing::ivs(m, {{{"kind", "scale"}, {"hook", "blocks.2.hook_attn_out"}, {"factor", 2.0}}});
    CHECK_THROWS_WITH(attribute(m, a), Contains("attn.hook_z"));
    a.interventions = {};
    a.wrong = "#-3";
    CHECK_THROWS_WITH(attribute(m, a), Contains("wrong") && Contains("exactly one token"));
}
