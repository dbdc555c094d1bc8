// Grader conveniences (issue #28): weights by TransformerLens's names and shapes, every
// position's logits and loss, `set` with a tensor (a cached activation patched into another
// run), and patching metrics beyond the logit difference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "helpers.h"
#include "hooklab/backward.h"
#include "hooklab/error.h"
#include "hooklab/generate.h"
#include "hooklab/heads.h"
#include "hooklab/patching.h"
#include "hooklab/run.h"
#include "hooklab/weights.h"

using nlohmann::json;
using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

const Model& mid() { return testing::mid_model(); }

const Capture& captured(const RunResult& r, const std::string& name) {
    for (const Capture& c : r.captures)
        if (c.name == name) return c;
    FAIL("no capture " << name);
    return r.captures[0];
}

RunResult run_with(const std::string& prompt, const std::vector<std::string>& capture, const json& ivs = json::array(),
                   bool all_logits = false) {
    RunOptions o;
    o.prompt = prompt;
    o.capture = capture;
    o.interventions = testing::ivs(mid(), ivs);
    o.all_logits = all_logits;
    return run_model(mid(), o);
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
    return d;
}

const char* kPrompt = "The cat sat on the mat. The cat sat on the";

}  // namespace

TEST_CASE("weights: TransformerLens's names and shapes", "[grader]") {
    const Config& c = mid().gpt2.config;
    const int C = c.n_embd, H = c.n_head, D = c.d_head(), M = c.d_mlp(), V = c.vocab_size, L = c.n_layer;
    const std::vector<std::pair<std::string, std::vector<int>>> want = {
        {"embed.W_E", {V, C}}, {"W_E", {V, C}}, {"pos_embed.W_pos", {c.n_positions, C}}, {"W_U", {C, V}}, {"b_U", {V}},
        {"blocks.3.ln1.w", {C}}, {"blocks.3.ln2.b", {C}}, {"blocks.3.attn.W_Q", {H, C, D}}, {"blocks.3.attn.W_K", {H, C, D}},
        {"blocks.3.attn.W_V", {H, C, D}}, {"blocks.3.attn.W_O", {H, D, C}}, {"blocks.3.attn.b_Q", {H, D}},
        {"blocks.3.attn.b_O", {C}}, {"blocks.3.mlp.W_in", {C, M}}, {"blocks.3.mlp.b_in", {M}}, {"blocks.3.mlp.W_out", {M, C}},
        {"blocks.3.mlp.b_out", {C}}, {"ln_final.w", {C}}, {"ln_final.b", {C}}, {"W_O", {L, H, D, C}}, {"b_in", {L, M}}};
    for (const auto& [name, shape] : want) {
        INFO(name);
        const WeightTensor t = weight_tensor(mid().gpt2, name);
        CHECK(t.shape == shape);
        size_t n = 1;
        for (int d : shape) n *= d;
        CHECK(t.data.size() == n);
    }
    for (const std::string& name : weight_names(c)) CHECK_NOTHROW(weight_tensor(mid().gpt2, name));
    // W_U is W_E transposed (tied); the stacked W_O's block 3 is blocks.3.attn.W_O.
    const WeightTensor we = weight_tensor(mid().gpt2, "W_E"), wu = weight_tensor(mid().gpt2, "unembed.W_U");
    for (int v : {0, 5, V - 1})
        for (int i : {0, 7, C - 1}) CHECK(we.data[static_cast<size_t>(v) * C + i] == wu.data[static_cast<size_t>(i) * V + v]);
    const WeightTensor wo = weight_tensor(mid().gpt2, "W_O"), wo3 = weight_tensor(mid().gpt2, "blocks.3.attn.W_O");
    CHECK(std::equal(wo3.data.begin(), wo3.data.end(), wo.data.begin() + 3 * wo3.data.size()));
    CHECK(weight_tensor(mid().gpt2, "b_U").data == std::vector<float>(V, 0.0f));

    CHECK_THROWS_WITH(weight_tensor(mid().gpt2, "blocks.3.attn.WO"), Contains("did you mean \"blocks.3.attn.W_O\"?"));
    CHECK_THROWS_WITH(weight_tensor(mid().gpt2, "blocks.99.attn.W_O"), Contains("out of range"));
    CHECK_THROWS_WITH(weight_tensor(mid().gpt2, "W_u"), Contains("did you mean \"W_U\"?"));
}

TEST_CASE("weights: the layouts reproduce the forward's activations", "[grader]") {
    const Config& c = mid().gpt2.config;
    const int C = c.n_embd, H = c.n_head, D = c.d_head(), M = c.d_mlp();
    const int B = 2;
    const std::string blk = "blocks." + std::to_string(B) + ".";
    const RunResult r = run_with(kPrompt, {blk + "ln1.hook_normalized", blk + "attn.hook_q", blk + "attn.hook_v", blk + "attn.hook_z",
                                           blk + "hook_attn_out", blk + "mlp.hook_post", blk + "hook_mlp_out", "hook_embed"});
    const int T = static_cast<int>(r.tokens.size());
    auto w = [&](const std::string& n) { return weight_tensor(mid().gpt2, n).data; };
    const std::vector<float> x = captured(r, blk + "ln1.hook_normalized").data;
    // q[t, h, d] = x[t] . W_Q[h, :, d] + b_Q[h, d]; the same for v.
    for (const char* which : {"Q", "V"}) {
        const std::vector<float> W = w(blk + "attn.W_" + which), b = w(blk + "attn.b_" + which);
        const std::vector<float>& got = captured(r, blk + "attn.hook_" + (which[0] == 'Q' ? "q" : "v")).data;
        double err = 0;
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H; ++h)
                for (int d = 0; d < D; ++d) {
                    double s = b[h * D + d];
                    for (int i = 0; i < C; ++i) s += x[t * C + i] * W[(static_cast<size_t>(h) * C + i) * D + d];
                    err = std::max(err, std::abs(s - got[(t * H + h) * D + d]));
                }
        CHECK(err < 1e-3);
    }
    // attn_out[t] = sum_h z[t, h] . W_O[h] + b_O.
    {
        const std::vector<float> W = w(blk + "attn.W_O"), b = w(blk + "attn.b_O");
        const std::vector<float>& z = captured(r, blk + "attn.hook_z").data;
        const std::vector<float>& got = captured(r, blk + "hook_attn_out").data;
        double err = 0;
        for (int t = 0; t < T; ++t)
            for (int o = 0; o < C; ++o) {
                double s = b[o];
                for (int h = 0; h < H; ++h)
                    for (int d = 0; d < D; ++d) s += z[(t * H + h) * D + d] * W[(static_cast<size_t>(h) * D + d) * C + o];
                err = std::max(err, std::abs(s - got[t * C + o]));
            }
        CHECK(err < 1e-3);
    }
    // mlp_out[t] = post[t] . W_out + b_out.
    {
        const std::vector<float> W = w(blk + "mlp.W_out"), b = w(blk + "mlp.b_out");
        const std::vector<float>& post = captured(r, blk + "mlp.hook_post").data;
        const std::vector<float>& got = captured(r, blk + "hook_mlp_out").data;
        double err = 0;
        for (int t = 0; t < T; ++t)
            for (int o = 0; o < C; ++o) {
                double s = b[o];
                for (int k = 0; k < M; ++k) s += post[static_cast<size_t>(t) * M + k] * W[static_cast<size_t>(k) * C + o];
                err = std::max(err, std::abs(s - got[t * C + o]));
            }
        CHECK(err < 1e-3);
    }
    // hook_embed[t] = W_E[token t].
    const std::vector<float> WE = w("W_E");
    const std::vector<float>& emb = captured(r, "hook_embed").data;
    for (int t = 0; t < T; ++t)
        CHECK(std::equal(emb.begin() + t * C, emb.begin() + (t + 1) * C, WE.begin() + static_cast<size_t>(r.tokens[t]) * C));
}

TEST_CASE("all_logits: every position's logits and the per-token loss of heads", "[grader]") {
    const json iv = {{"kind", "zero_head_k"}, {"layer", 4}, {"head", 1}};
    const RunResult all = run_with(kPrompt, {}, json::array({iv}), true);
    const RunResult last = run_with(kPrompt, {}, json::array({iv}), false);
    const int V = mid().gpt2.config.vocab_size, T = static_cast<int>(all.tokens.size());
    REQUIRE(all.all_logits.size() == static_cast<size_t>(T) * V);
    CHECK(last.all_logits.empty());
    CHECK(last.token_loss.empty());
    CHECK(max_diff(all.logits, last.logits) < 1e-4);
    CHECK(std::equal(all.logits.begin(), all.logits.end(), all.all_logits.end() - V));
    // The per-token loss is heads()' own.
    HeadsOptions h;
    h.prompt = kPrompt;
    h.interventions = testing::ivs(mid(), json::array({iv}));
    const HeadsResult hr = heads(mid(), h);
    REQUIRE(all.token_loss.size() == static_cast<size_t>(T - 1));
    for (int t = 0; t < T - 1; ++t) CHECK(std::abs(all.token_loss[t] - hr.token_loss[t]) < 1e-5);
    // Row 0's logits: what a run of the first token alone predicts.
    RunOptions one;
    one.prompt = mid().tokenizer.decode({all.tokens[0]});
    one.interventions = h.interventions;
    const RunResult first = run_model(mid(), one);
    REQUIRE(first.tokens.size() == 1);
    CHECK(max_diff(std::vector<float>(all.all_logits.begin(), all.all_logits.begin() + V), first.logits) < 1e-4);
    // The run JSON: token_loss, and logits_all with logits.
    RunOptions o;
    o.prompt = kPrompt;
    o.all_logits = true;
    o.logits = true;
    const json j = run_json(mid(), run_model(mid(), o), o);
    CHECK(j["token_loss"].size() == static_cast<size_t>(T - 1));
    CHECK(j["logits_all"].size() == static_cast<size_t>(T));
    CHECK(j["logits_all"][0].size() == static_cast<size_t>(V));
}

TEST_CASE("set with a tensor: a cached activation patched into another run", "[grader]") {
    const json golden = testing::read_json(testing::source("tests/golden/mid__patching.json"));
    const std::string clean = golden["clean"], corrupted = golden["corrupted"];
    const std::string hook = "blocks.5.hook_resid_post";
    const RunResult c = run_with(clean, {hook});
    const std::vector<float>& act = captured(c, hook).data;
    const int C = mid().gpt2.config.n_embd, T = static_cast<int>(c.tokens.size());
    auto set_iv = [&](const std::vector<float>& values, const json& extra) {
        json j = {{"kind", "set"}, {"hook", hook}, {"value", 0}};
        j.update(extra);
        Intervention iv = parse_intervention(j, mid().gpt2.config);
        iv.tensor = std::make_shared<const std::vector<float>>(values);
        return iv;
    };
    auto run_ivs = [&](const std::string& prompt, std::vector<Intervention> ivs) {
        RunOptions o;
        o.prompt = prompt;
        o.interventions = std::move(ivs);
        return run_model(mid(), o);
    };
    // The whole residual: the corrupted run continues as the clean one, bit for bit.
    const RunResult whole = run_ivs(corrupted, {set_iv(act, json::object())});
    CHECK(whole.logits == c.logits);
    // The last position, as the whole tensor (each selected element at its own index) or as
    // the selected slice alone: the same run.
    const std::vector<float> last_row(act.end() - C, act.end());
    const RunResult a = run_ivs(corrupted, {set_iv(act, {{"positions", {-1}}})});
    const RunResult b = run_ivs(corrupted, {set_iv(last_row, {{"positions", {-1}}})});
    CHECK(a.logits == b.logits);
    CHECK(a.logits != c.logits);
    // From JSON: nested arrays, and a table's {"tensor": k}.
    json rows = json::array();
    for (int t = 0; t < T; ++t) rows.push_back(std::vector<float>(act.begin() + t * C, act.begin() + (t + 1) * C));
    const Intervention from_json = parse_intervention({{"kind", "set"}, {"hook", hook}, {"value", rows}}, mid().gpt2.config);
    REQUIRE(from_json.tensor);
    CHECK(*from_json.tensor == act);
    const InterventionTensors table = {std::make_shared<const std::vector<float>>(last_row)};
    const Intervention by_ref =
        parse_intervention({{"kind", "set"}, {"hook", hook}, {"positions", {-1}}, {"value", {{"tensor", 0}}}}, mid().gpt2.config, &table);
    CHECK(run_ivs(corrupted, {by_ref}).logits == b.logits);
    CHECK(intervention_json(by_ref)["value"] == json({{"tensor_size", C}}));
    // The resumable compare keys on the tensor's values: another tensor is another run.
    CHECK(set_iv(act, json::object()) != set_iv(last_row, json::object()));

    // Refused: a wrong size, a tensor with no table, non-numbers, a tensor in generation.
    CHECK_THROWS_WITH(run_ivs(corrupted, {set_iv(std::vector<float>(7, 0.0f), json::object())}),
                      Contains("the tensor has 7 values") && Contains("[" + std::to_string(T) + ", " + std::to_string(C) + "]"));
    CHECK_THROWS_WITH(parse_intervention({{"kind", "set"}, {"hook", hook}, {"value", {{"tensor", 0}}}}, mid().gpt2.config),
                      Contains("names no tensor"));
    CHECK_THROWS_WITH(parse_intervention({{"kind", "set"}, {"hook", hook}, {"value", {1, "x"}}}, mid().gpt2.config),
                      Contains("finite numbers only"));
    CHECK_THROWS_WITH(parse_intervention({{"kind", "add"}, {"hook", hook}, {"value", {1, 2}}}, mid().gpt2.config),
                      Contains("must be a finite number"));
    GenerateOptions g;
    g.prompt = clean;
    g.max_new_tokens = 2;
    g.interventions = {set_iv(last_row, {{"positions", {-1}}})};
    CHECK_THROWS_WITH(generate(mid(), g), Contains("generation grows the sequence"));
}

TEST_CASE("patching metrics: prob, logprob and loss of the answer", "[grader]") {
    const json golden = testing::read_json(testing::source("tests/golden/mid__patching.json"));
    PatchOptions o = testing::patch_options_from(mid(), golden, {{"hook", "attn_out"}, {"interventions", json::array()}});
    const json ld = patch_json(mid(), patch(mid(), o));
    CHECK_FALSE(ld.contains("metric"));
    CHECK(ld.contains("clean_logit_diff"));
    std::map<std::string, json> by;
    for (const char* metric : {"prob", "logprob", "loss"}) {
        o.metric = metric;
        by[metric] = patch_json(mid(), patch(mid(), o));
        CHECK(by[metric]["metric"] == metric);
        CHECK_FALSE(by[metric].contains("logit_diff"));
    }
    // The clean run's prob: its softmax at the answer.
    RunOptions r;
    r.prompt = golden["clean"];
    const RunResult cr = run_model(mid(), r);
    const int A = std::stoi(golden["answer"].get<std::string>().substr(1));
    CHECK(std::abs(by["prob"]["clean_prob"].get<double>() - std::exp(cr.logits[A] - cr.lse)) < 1e-6);
    const int L = mid().gpt2.config.n_layer;
    for (int l = 0; l < L; ++l)
        for (size_t p = 0; p < by["prob"]["prob"][l].size(); ++p) {
            const double lp = by["logprob"]["logprob"][l][p];
            CHECK(std::abs(by["prob"]["prob"][l][p].get<double>() - std::exp(lp)) < 1e-9);
            CHECK(by["loss"]["loss"][l][p].get<double>() == -lp);
        }
    // No wrong token needed for these; attribution patching estimates the logit difference only.
    o.wrong = "";
    o.metric = "prob";
    const json nowrong = patch_json(mid(), patch(mid(), o));
    CHECK_FALSE(nowrong.contains("wrong_id"));
    CHECK(nowrong["prob"] == by["prob"]["prob"]);
    o.metric = "logit_diff";
    CHECK_THROWS(patch(mid(), o));
    o.wrong = golden["wrong"];
    o.metric = "probability";
    CHECK_THROWS_WITH(patch(mid(), o), Contains("metric must be logit_diff, prob, logprob or loss"));
    o.metric = "loss";
    CHECK_THROWS_WITH(attribution_patch(mid(), o), Contains("logit difference only"));
}
