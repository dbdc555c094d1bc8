// Gradients of the logit difference with respect to activations and attribution patching
// (issue #26): against PyTorch autograd in the reference (tests/golden/<ckpt>__gradients.json,
// tools/make_goldens.py), against the engine's own finite differences, and the bad inputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "helpers.h"
#include "tolerance.h"
#include "hooklab/backward.h"
#include "hooklab/error.h"
#include "hooklab/parallel.h"
#include "hooklab/patching.h"

using nlohmann::json;
using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

using testing::GradientTolerance;
using testing::check_abs;
using testing::max_abs;

void compare_with_reference(const std::string& name, bool f16) {
    const Model m = load_model_dir(testing::ckpt(name), f16);
    const json golden = testing::read_json(testing::source("tests/golden/" + name + "__gradients.json"));
    REQUIRE(golden["gradients"].size() == 2);
    for (const json& c : golden["gradients"]) {
        INFO(name << (f16 ? " (F16)" : "") << ", gradients, interventions " << c["interventions"].dump());
        const GradientTolerance tol(c.at("tolerance"));
        GradientsOptions o;
        o.prompt = golden["clean"];
        o.answer = golden["answer"];
        o.wrong = golden["wrong"];
        for (const auto& h : golden["hooks"]) o.hooks.push_back(h);
        o.interventions = testing::ivs(m, c["interventions"]);
        const json got = gradients_json(m, gradients(m, o));
        CHECK(got["tokens"] == c["tokens"]);
        CHECK(got["answer_id"] == c["answer_id"]);
        CHECK(got["wrong_id"] == c["wrong_id"]);
        check_abs(json::array({got["logit_diff"]}), json::array({c["logit_diff"]}), [&](double) { return tol.logit_diff(); }, "logit_diff");
        REQUIRE(got["gradients"].size() == c["gradients"].size());
        for (const auto& [hook, want] : c["gradients"].items()) {
            INFO("hook " << hook);
            REQUIRE(got["gradients"].contains(hook));
            const json& g = got["gradients"][hook];
            CHECK(g["shape"] == want["shape"]);
            const double scale = max_abs(want["gradient"]);
            CHECK(scale > 0);
            check_abs(g["gradient"], want["gradient"], [&](double) { return tol.gradient(scale); }, hook);
        }
        check_abs(got["input_x_gradient"], c["input_x_gradient"], [&](double) { return tol.input_x_gradient_abs; }, "input_x_gradient");
    }
    REQUIRE(golden["attribution"].size() == 8);
    for (const json& c : golden["attribution"]) {
        INFO(name << (f16 ? " (F16)" : "") << ", attribution patching, hook " << c["hook"] << ", interventions "
                  << c["interventions"].dump());
        const GradientTolerance tol(c.at("tolerance"));
        const PatchOptions o = testing::patch_options_from(m, golden, c);
        const json got = patch_json(m, attribution_patch(m, o));
        CHECK(got["method"] == "attribution");
        CHECK(got["by"] == c["by"]);
        CHECK(got["clean_tokens"] == c["clean_tokens"]);
        CHECK(got["corrupted_tokens"] == c["corrupted_tokens"]);
        CHECK(got["forwards"] == c["forwards"]);
        CHECK(got["backwards"] == c["backwards"]);
        check_abs(json::array({got["clean_logit_diff"], got["corrupted_logit_diff"]}),
                  json::array({c["clean_logit_diff"], c["corrupted_logit_diff"]}), [&](double) { return tol.logit_diff(); }, "clean/corrupted");
        const double D = c["clean_logit_diff"].get<double>() - c["corrupted_logit_diff"].get<double>();
        check_abs(got["logit_diff"], c["logit_diff"], [&](double) { return tol.estimate_abs; }, "logit_diff");
        check_abs(got["normalized"], c["normalized"], [&](double n) { return tol.estimate_normalized(n, D); }, "normalized");
    }
}

const char* kClean = "When Mary and John went to the store, John gave a drink to";
const char* kCorrupted = "When John and Mary went to the store, John gave a drink to";

GradientsOptions mid_options(std::vector<std::string> hooks, std::vector<json> ivs = {}) {
    GradientsOptions o;
    o.prompt = kClean;
    o.answer = "#337";
    o.wrong = "#1757";
    o.hooks = std::move(hooks);
    o.interventions = testing::ivs(testing::mid_model(), json(ivs));
    return o;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("gradients and attribution patching match PyTorch autograd, F32", "[backward]") {
    compare_with_reference("tiny_f32", false);
    compare_with_reference("mid", false);
}

TEST_CASE("gradients and attribution patching match PyTorch autograd, F16 weights", "[backward]") {
    // tiny_f16 stores halves: the engine's F16 weights are then the reference's values.
    compare_with_reference("tiny_f16", true);
    compare_with_reference("tiny_f16", false);
}

TEST_CASE("gradients agree with the engine's own finite differences, through interventions", "[backward]") {
    // d LD / d x at one element, x as later computations see it: an "add" of +-eps there, after
    // the run's own interventions (it comes last), is a central difference of the same function.
    const Model& m = testing::mid_model();
    const json scale = {{"kind", "scale"}, {"hook", "blocks.5.mlp.hook_post"}, {"factor", 0.5}, {"positions", "odd"}};
    const json zero = {{"kind", "zero"}, {"hook", "blocks.6.attn.hook_pattern"}, {"heads", {1, 4}}};
    const std::vector<std::string> hooks = {"blocks.4.hook_resid_pre", "blocks.4.attn.hook_q", "blocks.4.attn.hook_k",
                                            "blocks.5.attn.hook_pattern", "blocks.5.attn.hook_attn_scores",
                                            "blocks.5.mlp.hook_post", "blocks.6.hook_resid_mid", "ln_final.hook_normalized",
                                            "hook_embed"};
    for (const std::vector<json>& ivs : {std::vector<json>{}, std::vector<json>{scale, zero}}) {
        const GradientsResult r = gradients(m, mid_options(hooks, ivs));
        for (const HookGradient& g : r.gradients) {
            INFO("hook " << g.name << ", interventions " << json(ivs).dump());
            // The element with the largest |gradient|, as a multi-index over the hook's shape.
            const size_t at = std::max_element(g.data.begin(), g.data.end(), [](float a, float b) { return std::abs(a) < std::abs(b); }) - g.data.begin();
            std::vector<int> idx(g.shape.size());
            for (size_t i = g.shape.size(), rest = at; i-- > 0;) { idx[i] = static_cast<int>(rest % g.shape[i]); rest /= g.shape[i]; }
            Hook h;
            int layer;
            parse_hook_name(g.name, m.gpt2.config, h, layer);
            const HookInfo& info = hook_info(h);
            auto diff_at = [&](double eps) {
                json add = {{"kind", "add"}, {"hook", g.name}, {"value", eps}};
                add["positions"] = {idx[info.pos_axis]};
                add["features"] = {idx[info.feat_axis]};
                if (info.head_axis >= 0) add["heads"] = {idx[info.head_axis]};
                std::vector<json> with = ivs;
                with.push_back(add);
                return gradients(m, mid_options({}, with)).logit_diff;
            };
            const double eps = 1e-2;
            const double fd = (diff_at(eps) - diff_at(-eps)) / (2 * eps);
            INFO("element " << json(idx).dump() << ": gradient " << g.data[at] << ", finite difference " << fd);
            CHECK(std::abs(g.data[at]) > 1e-3);
            CHECK(std::abs(fd - g.data[at]) <= 2e-2 * std::abs(g.data[at]) + 1e-3);
        }
    }
}

TEST_CASE("gradients: the semantics of interventions, logits, the masked scores and input x gradient", "[backward]") {
    const Model& m = testing::mid_model();
    const Config& c = m.gpt2.config;
    const int C = c.n_embd;
    SECTION("at the logits: answer minus wrong; ln_final is 0 before the last position") {
        const GradientsResult r = gradients(m, mid_options({"logits", "ln_final.hook_normalized"}));
        const auto& lg = r.gradients[0];
        REQUIRE(lg.shape == std::vector<int>{1, c.vocab_size});
        for (int v = 0; v < c.vocab_size; ++v) CHECK(lg.data[v] == (v == 337 ? 1.0f : v == 1757 ? -1.0f : 0.0f));
        const auto& ln = r.gradients[1];
        const int T = static_cast<int>(r.tokens.size());
        for (size_t i = 0; i < static_cast<size_t>(T - 1) * C; ++i) REQUIRE(ln.data[i] == 0.0f);
        std::vector<float> ua(C), uw(C);
        tied_embedding_row(m.gpt2.weights.lm_head.w, 337, ua.data());
        tied_embedding_row(m.gpt2.weights.lm_head.w, 1757, uw.data());
        for (int i = 0; i < C; ++i) CHECK(ln.data[static_cast<size_t>(T - 1) * C + i] == Approx(ua[i] - uw[i]).margin(1e-7));
    }
    SECTION("a scale scales the gradient before it, zero / set / noise pass 0, add passes it") {
        // At blocks.3.mlp.hook_post: the gradient at hook_pre is gelu'(pre) times the one passed
        // back through the hook's interventions. pre is the same in every run (the interventions
        // act after it), so gelu'(pre) = g_pre / g_post of the run without them.
        const std::vector<std::string> hooks = {"blocks.3.mlp.hook_post", "blocks.3.mlp.hook_pre"};
        const GradientsResult base = gradients(m, mid_options(hooks));
        const int T = static_cast<int>(base.tokens.size()), M = c.d_mlp();
        const json sel = {{"hook", "blocks.3.mlp.hook_post"}, {"positions", {2, -1}}, {"features", "even"}};
        auto selected = [&](size_t i) { const int t = static_cast<int>(i / M); return (t == 2 || t == T - 1) && i % 2 == 0; };
        auto with = [&](json extra) { json j = sel; j.update(extra); return j; };
        struct Case { json iv; double factor_selected; };
        for (const Case& k : {Case{with({{"kind", "scale"}, {"factor", 3.0}}), 3.0}, Case{with({{"kind", "zero"}}), 0.0},
                              Case{with({{"kind", "set"}, {"value", 2.0}}), 0.0}, Case{with({{"kind", "noise"}, {"std", 0.5}}), 0.0},
                              Case{with({{"kind", "add"}, {"value", 0.5}}), 1.0}}) {
            INFO("intervention " << k.iv.dump());
            const GradientsResult r = gradients(m, mid_options(hooks, {k.iv}));
            int checked = 0;
            for (size_t i = 0; i < static_cast<size_t>(T) * M; ++i) {
                const double f = selected(i) ? k.factor_selected : 1.0;
                const double post = r.gradients[0].data[i], pre = r.gradients[1].data[i];
                if (f == 0.0) {
                    REQUIRE(pre == 0.0);
                    continue;
                }
                const double bpost = base.gradients[0].data[i], bpre = base.gradients[1].data[i];
                // pre = gelu' * f * post and bpre = gelu' * bpost: pre * bpost = f * post * bpre.
                const double lhs = pre * bpost, rhs = f * post * bpre;
                if (std::abs(lhs) + std::abs(rhs) < 1e-12) continue;
                ++checked;
                if (std::abs(lhs - rhs) > 1e-5 * (std::abs(lhs) + std::abs(rhs))) {
                    INFO("element " << i << ": " << lhs << " vs " << rhs);
                    CHECK(std::abs(lhs - rhs) <= 1e-5 * (std::abs(lhs) + std::abs(rhs)));
                }
            }
            CHECK(checked > T * M / 2);
        }
    }
    SECTION("the masked attention scores get 0") {
        const GradientsResult r = gradients(m, mid_options({"blocks.2.attn.hook_attn_scores"}));
        const int T = static_cast<int>(r.tokens.size());
        for (int h = 0; h < c.n_head; ++h)
            for (int i = 0; i < T; ++i)
                for (int j = i + 1; j < T; ++j) REQUIRE(r.gradients[0].data[(static_cast<size_t>(h) * T + i) * T + j] == 0.0f);
    }
    SECTION("input x gradient is (embed + pos_embed) . dLD/d(blocks.0.hook_resid_pre), per position") {
        const GradientsResult r = gradients(m, mid_options({"blocks.0.hook_resid_pre"}));
        RunOptions ro;
        ro.prompt = kClean;
        ro.capture = {"hook_embed", "hook_pos_embed"};
        const RunResult run = run_model(m, ro);
        REQUIRE(run.captures.size() == 2);
        const int T = static_cast<int>(r.tokens.size());
        REQUIRE(r.input_x_gradient.size() == static_cast<size_t>(T));
        for (int t = 0; t < T; ++t) {
            double s = 0, mag = 0;
            for (int i = 0; i < C; ++i) {
                const size_t k = static_cast<size_t>(t) * C + i;
                const double x = static_cast<double>(run.captures[0].data[k] + run.captures[1].data[k]);
                s += x * r.gradients[0].data[k];
                mag += std::abs(x * r.gradients[0].data[k]);
            }
            CHECK(std::abs(r.input_x_gradient[t] - s) <= 1e-6 * mag);
        }
    }
    SECTION("the same answer and wrong token: every gradient is 0") {
        GradientsOptions o = mid_options({"blocks.1.hook_resid_pre"});
        o.wrong = o.answer;
        const GradientsResult r = gradients(m, o);
        CHECK(r.logit_diff == 0.0);
        for (float x : r.gradients[0].data) REQUIRE(x == 0.0f);
    }
}

TEST_CASE("gradients: the same bits with any number of threads", "[backward]") {
    const Model& m = testing::mid_model();
    const int before = threads();
    set_threads(1);
    const GradientsResult one = gradients(m, mid_options({"hook_embed", "blocks.5.attn.hook_v"}));
    set_threads(2);
    const GradientsResult two = gradients(m, mid_options({"hook_embed", "blocks.5.attn.hook_v"}));
    set_threads(before);
    CHECK(one.gradients[0].data == two.gradients[0].data);
    CHECK(one.gradients[1].data == two.gradients[1].data);
    CHECK(one.input_x_gradient == two.input_x_gradient);
}

TEST_CASE("attribution patching: one clean forward, one corrupted forward, one backward", "[backward]") {
    const Model& m = testing::mid_model();
    PatchOptions o;
    o.clean = kClean;
    o.corrupted = kCorrupted;
    o.answer = "#337";
    o.wrong = "#1757";
    for (const char* hook : {"resid_pre", "attn_out", "mlp_out", "z"}) {
        o.hook = hook;
        const json r = patch_json(m, attribution_patch(m, o));
        INFO("hook " << hook);
        CHECK(r["forwards"].get<double>() + r["backwards"].get<double>() <= 4);
        CHECK(r["forwards"] == 2);
        CHECK(r["backwards"] == 1);
        const json p = patch_json(m, patch(m, o));
        // patch's JSON, plus the method and the backward count.
        for (const auto& [k, v] : p.items()) CHECK(r.contains(k));
        CHECK(r["clean_tokens"] == p["clean_tokens"]);
        CHECK(r["logit_diff"].size() == p["logit_diff"].size());
        CHECK(r["logit_diff"][0].size() == p["logit_diff"][0].size());
        CHECK(r["clean_logit_diff"].get<double>() == Approx(p["clean_logit_diff"].get<double>()).epsilon(1e-5));
        if (std::string(hook) != "z") {
            // "When" opens both prompts: at position 0 clean and corrupted are the same run, so the
            // estimate is the corrupted logit difference exactly (as the real patch is).
            for (int L = 0; L < m.gpt2.config.n_layer; ++L) CHECK(r["logit_diff"][L][0] == r["corrupted_logit_diff"]);
        }
    }
}

TEST_CASE("attribution patching approximates activation patching on the 12-block model", "[backward]") {
    // A first-order estimate: on mid's IOI pair (tools/make_goldens.py's) it follows the real
    // sweep closely (the reference agrees: correlations 0.94 .. 0.99).
    const Model& m = testing::mid_model();
    PatchOptions o;
    o.clean = kClean;
    o.corrupted = kCorrupted;
    o.answer = "#337";
    o.wrong = "#1757";
    for (const char* hook : {"resid_pre", "attn_out", "mlp_out", "z"}) {
        o.hook = hook;
        const json r = patch_json(m, attribution_patch(m, o)), p = patch_json(m, patch(m, o));
        std::vector<double> x, y;
        const double base = p["corrupted_logit_diff"].get<double>();
        for (size_t L = 0; L < p["logit_diff"].size(); ++L)
            for (size_t i = 0; i < p["logit_diff"][L].size(); ++i) {
                x.push_back(r["logit_diff"][L][i].get<double>() - base);
                y.push_back(p["logit_diff"][L][i].get<double>() - base);
            }
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        const double n = static_cast<double>(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            sx += x[i], sy += y[i], sxx += x[i] * x[i], syy += y[i] * y[i], sxy += x[i] * y[i];
        }
        const double corr = (n * sxy - sx * sy) / std::sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
        INFO("hook " << hook << ": correlation of attribution and activation patching " << corr);
        CHECK(corr > 0.9);
    }
}

TEST_CASE("gradients and attribution patching refuse bad input with clear messages", "[backward]") {
    const Model& m = testing::mid_model();
    const Config& c = m.gpt2.config;
    SECTION("an unknown hook: the hook table's message") {
        Hook h;
        int layer;
        const std::string want = error_of([&] { parse_hook_name("blocks.2.hook_resid_pree", c, h, layer); });
        CHECK_THAT(want, Contains("did you mean"));
        CHECK(error_of([&] { gradients(m, mid_options({"blocks.2.hook_resid_pree"})); }) == want);
        CHECK_THAT(error_of([&] { gradients(m, mid_options({"blocks.40.hook_resid_pre"})); }), Contains("out of range"));
    }
    SECTION("a two-token answer, as patch says it") {
        GradientsOptions o = mid_options({"hook_embed"});
        o.answer = "Mary went";
        const std::string msg = error_of([&] { gradients(m, o); });
        CHECK_THAT(msg, Contains("must be exactly one token"));
        PatchOptions p;
        p.clean = kClean;
        p.corrupted = kCorrupted;
        p.answer = "Mary went";
        p.wrong = "#1757";
        CHECK(error_of([&] { attribution_patch(m, p); }) == error_of([&] { patch(m, p); }));
        CHECK(error_of([&] { attribution_patch(m, p); }) == msg);
    }
    SECTION("clean and corrupted of different lengths, and patch's other checks: its messages") {
        PatchOptions p;
        p.clean = kClean;
        p.corrupted = "When John and Mary went to the store";
        p.answer = "#337";
        p.wrong = "#1757";
        CHECK_THAT(error_of([&] { attribution_patch(m, p); }), Contains("same number of tokens"));
        CHECK(error_of([&] { attribution_patch(m, p); }) == error_of([&] { patch(m, p); }));
        p.corrupted = kCorrupted;
        p.hook = "mlp_in";
        CHECK(error_of([&] { attribution_patch(m, p); }) == error_of([&] { patch(m, p); }));
        p.hook = "z";
        p.by = "position";
        CHECK(error_of([&] { attribution_patch(m, p); }) == error_of([&] { patch(m, p); }));
        p.hook = "resid_pre";
        p.by = "";
        // Interventions are parsed once, at the edge (a block out of range never reaches either);
        // what depends on the prompt is checked by both, alike.
        CHECK_THAT(error_of([&] { testing::ivs(m, {{{"kind", "zero_head_k"}, {"layer", 40}, {"head", 0}}}); }), Contains("out of range"));
        p.interventions = testing::ivs(m, {{{"kind", "zero"}, {"hook", "blocks.1.hook_resid_pre"}, {"positions", {40}}}});
        CHECK_THAT(error_of([&] { patch(m, p); }), Contains("out of range"));
        CHECK(error_of([&] { attribution_patch(m, p); }) == error_of([&] { patch(m, p); }));
    }
    SECTION("an empty prompt, a bad intervention") {
        GradientsOptions o = mid_options({"hook_embed"});
        o.prompt = "";
        CHECK_THAT(error_of([&] { gradients(m, o); }), Contains("empty"));
        CHECK_THAT(error_of([&] { mid_options({"hook_embed"}, {{{"kind", "scale"}, {"hook", "blocks.1.hook_z"}, {"factor", 2}}}); }),
                   Contains("unknown hook point"));
        o = mid_options({"hook_embed"}, {{{"kind", "zero"}, {"hook", "blocks.1.hook_resid_pre"}, {"positions", {40}}}});
        CHECK_THAT(error_of([&] { gradients(m, o); }), Contains("out of range"));
    }
    SECTION("a model too big for the activations: refused before any work, naming the budget") {
        GradientsOptions o = mid_options({"hook_embed"});
        o.budget_bytes = 1 << 20;
        const std::string msg = error_of([&] { gradients(m, o); });
        CHECK_THAT(msg, Contains("more than the budget of 1 MB"));
        CHECK_THAT(msg, Contains("16-token"));
        PatchOptions p;
        p.clean = kClean;
        p.corrupted = kCorrupted;
        p.answer = "#337";
        p.wrong = "#1757";
        CHECK_THAT(error_of([&] { attribution_patch(m, p, 1 << 20); }), Contains("budget"));
        // The fixed budget: GPT-2 small fits at its whole context, GPT-2 medium does not.
        Config small, medium;
        small.n_layer = 12, small.n_head = 12, small.n_embd = 768, small.vocab_size = 50257, small.n_positions = 1024;
        medium.n_layer = 24, medium.n_head = 16, medium.n_embd = 1024, medium.vocab_size = 50257, medium.n_positions = 1024;
        CHECK(backward_floats(small, 1024) * 4 <= kBackwardBudgetBytes);
        CHECK(backward_floats(medium, 1024) * 4 > kBackwardBudgetBytes);
        // The figures backward.cpp states: at 128 tokens GPT-2 small keeps 13,172,736 floats, and
        // the working buffers take 4,180,561; a pattern intervention keeps one more [12, 128, 128].
        CHECK(backward_floats(small, 128) == 13172736u + 4180561u);
        CHECK(backward_floats(small, 128, 1) == backward_floats(small, 128) + 12u * 128 * 128);
    }
}
