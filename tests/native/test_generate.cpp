// Generation with a KV cache (issue #12): the tokens equal those of recomputing the whole
// sequence with the same interventions at every step; the sampler; stop reasons; errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "helpers.h"
#include "tolerance.h"
#include "hooklab/error.h"
#include "hooklab/generate.h"
#include "hooklab/intervention.h"
#include "hooklab/kernels.h"
#include "hooklab/rng.h"

using nlohmann::json;
using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

const char* kPrompt = "When Mary and John went to the store, John gave a drink to";

// The naive way: one full forward of the whole sequence per new token.
json recompute(const Model& m, const GenerateOptions& o) {
    const Config& c = m.gpt2.config;
    const std::vector<Intervention>& ivs = o.interventions;
    const HookFn hook = [&](HookView& v) { apply_interventions(ivs, v); };
    std::vector<int> tokens = m.tokenizer.encode(o.prompt);
    json steps = json::array();
    const int eos = m.tokenizer.id_of("<|endoftext|>");
    for (int step = 0; step < o.max_new_tokens && static_cast<int>(tokens.size()) < c.n_positions; ++step) {
        const std::vector<float> logits = m.gpt2.forward(tokens, hook, false);
        double prob = 0;
        const int id = sample_token(logits.data(), c.vocab_size, o.sampler, step, &prob);
        tokens.push_back(id);
        steps.push_back({{"id", id}, {"prob", prob}});
        if (id == eos) break;
    }
    return steps;
}

// A decoded step (one row against the KV cache) and a recomputed forward sum in another order, as
// two float32 implementations do: the mid model's derived tolerance (tests/golden/mid__clean.json's
// record; tools/golden_compare.py) for a probability. Its prompt is of the same length as these.
double prob_tolerance(double p) {
    static const testing::GoldenTolerance tol(testing::read_json(testing::source("tests/golden/mid__clean.json")).at("tolerance"));
    return tol.prob(p);
}

void check_equal_to_recompute(const GenerateOptions& o, bool expect_cache = true, const Model& m = testing::mid_model()) {
    INFO("interventions " << interventions_json(o.interventions).dump() << ", temperature " << o.sampler.temperature);
    Generator g(m, o);
    CHECK(g.uses_cache() == expect_cache);
    while (!g.done()) g.step();
    const json got = generate_json(m, g.result());
    const json want = recompute(m, o);
    REQUIRE(got["steps"].size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        INFO("step " << i);
        REQUIRE(got["steps"][i]["id"] == want[i]["id"]);
        const double p = want[i]["prob"].get<double>();
        CHECK(std::abs(got["steps"][i]["prob"].get<double>() - p) <= prob_tolerance(p));
    }
}

}  // namespace

TEST_CASE("generation with the cache equals recomputing the whole sequence", "[generate]") {
    const int L = 9;
    const std::vector<json> cases = {
        json::array(),
        // The chapter's four exercises (noise with a non-zero std).
        {{{"kind", "zero_head_k"}, {"layer", L}, {"head", 2}}},
        {{{"kind", "noise_even_neurons"}, {"layer", L}, {"mean", 10}, {"std", 1}, {"seed", 3}}},
        {{{"kind", "scale_hidden"}, {"layer", L}, {"factor", 0.1}}},
        {{{"kind", "scale_hidden"}, {"layer", L}, {"factor", 10}}},
        // General interventions: noise on attention scores (their key axis grows every
        // step), on z for some heads, odd positions, positions past the prompt, logits.
        {{{"kind", "noise"}, {"hook", "blocks.3.attn.hook_attn_scores"}, {"std", 2}, {"heads", {1, 5}}, {"seed", 11}}},
        {{{"kind", "noise"}, {"hook", "blocks.5.attn.hook_z"}, {"mean", 0.5}, {"std", 1}, {"heads", "even"}, {"positions", "odd"}},
         {{"kind", "add"}, {"hook", "blocks.2.hook_resid_pre"}, {"value", 3}, {"positions", {{"range", {16, 20}}}}}},
        {{{"kind", "scale"}, {"hook", "blocks.7.mlp.hook_pre"}, {"factor", -2}, {"positions", {1, 17, 19}}, {"features", {{"range", {0, 50}}}}},
         {{"kind", "noise"}, {"hook", "logits"}, {"std", 0.5}, {"seed", 2}}},
    };
    for (const json& ivs : cases) {
        GenerateOptions o;
        o.prompt = kPrompt;
        o.max_new_tokens = 12;
        o.interventions = testing::ivs(testing::mid_model(), ivs);
        check_equal_to_recompute(o);
        o.sampler = {0.9, 40, 0.95, 1234};
        check_equal_to_recompute(o);
    }
}

TEST_CASE("greedy generation on the trained default model equals the recompute", "[generate]") {
    // Random weights repeat one token under greedy decoding; the trained model writes text.
    const Model m = load_model_dir(testing::source("checkpoints/default"));
    GenerateOptions o;
    o.prompt = "The jury said that the city of Atlanta had a";
    o.max_new_tokens = 24;
    for (const json& ivs : {json::array(), json::array({{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 10}}}),
                            json::array({{{"kind", "noise_even_neurons"}, {"layer", 9}, {"std", 1}, {"seed", 2}}})}) {
        o.interventions = testing::ivs(m, ivs);
        check_equal_to_recompute(o, true, m);
    }
    o.interventions = {};  // the model's own text (noise into block 9 can make it repeat one token)
    const json r = generate_json(m, generate(m, o));
    std::set<int> distinct(r["new_tokens"].begin(), r["new_tokens"].end());
    CHECK(distinct.size() > 4);
}

TEST_CASE("interventions that change earlier positions as the sequence grows recompute it", "[generate]") {
    const std::vector<json> acausal = {
        {{"kind", "set"}, {"hook", "blocks.4.attn.hook_pattern"}, {"value", 0.05}, {"heads", {0}}},
        {{"kind", "noise"}, {"hook", "blocks.4.attn.hook_pattern"}, {"std", 0.1}},
        {{"kind", "scale"}, {"hook", "blocks.6.hook_resid_post"}, {"factor", 5}, {"positions", {-1}}},
        {{"kind", "zero"}, {"hook", "blocks.6.attn.hook_pattern"}, {"features", {-2}}},
    };
    for (const json& iv : acausal) {
        GenerateOptions o;
        o.prompt = kPrompt;
        o.max_new_tokens = 6;
        o.interventions = testing::ivs(testing::mid_model(), iv);
        check_equal_to_recompute(o, false);
        o.sampler = {1.0, 0, 1.0, 5};
        check_equal_to_recompute(o, false);
    }
}

// Two interventions that set ln_final at `pos` to +-10 along the signs of
// <|endoftext|>'s (tied) embedding: its logit there is then far above every other, so
// the variant writes <|endoftext|> as the token computed from that position.
static std::vector<json> eos_at(const Model& m, int pos) {
    const int C = m.gpt2.config.n_embd, eos = m.tokenizer.id_of("<|endoftext|>");
    std::vector<float> e(C);
    tied_embedding_row(m.gpt2.weights.lm_head.w, eos, e.data());
    json up = json::array(), down = json::array();
    for (int i = 0; i < C; ++i) (e[i] >= 0 ? up : down).push_back(i);
    return {{{"kind", "set"}, {"hook", "ln_final.hook_normalized"}, {"value", 10}, {"positions", {pos}}, {"features", up}},
            {{"kind", "set"}, {"hook", "ln_final.hook_normalized"}, {"value", -10}, {"positions", {pos}}, {"features", down}}};
}

TEST_CASE("variants generated together give each one's own generation", "[generate]") {
    const Model& m = testing::mid_model();
    const int L = 9, T0 = static_cast<int>(m.tokenizer.encode(kPrompt).size());
    const json none = json::array();
    const json zero_head = {{{"kind", "zero_head_k"}, {"layer", L}, {"head", 2}}};
    const json noise = {{{"kind", "noise_even_neurons"}, {"layer", L}, {"mean", 10}, {"std", 1}, {"seed", 3}}};
    const json scale_down = {{{"kind", "scale_hidden"}, {"layer", L}, {"factor", 0.1}}};
    const json scale_up = {{{"kind", "scale_hidden"}, {"layer", L}, {"factor", 10}}};
    const json general = {{{"kind", "noise"}, {"hook", "blocks.3.attn.hook_attn_scores"}, {"std", 2}, {"heads", {1, 5}}, {"seed", 11}},
                          {{"kind", "add"}, {"hook", "blocks.2.hook_resid_pre"}, {"value", 3}, {"positions", {{"range", {16, 20}}}}}};
    const json eos = eos_at(m, T0 + 3);  // the fifth new token
    const json no_cache = {{{"kind", "noise"}, {"hook", "blocks.4.attn.hook_pattern"}, {"std", 0.1}}};
    // Pairs, then triples with one variant stopping early at <|endoftext|> (in the middle,
    // so that the variant after it changes segment) and one that cannot use the cache.
    const std::vector<std::vector<json>> groups = {
        {none, zero_head}, {none, noise}, {none, scale_down}, {none, scale_up},
        {zero_head, eos, noise}, {general, no_cache, eos}, {eos, scale_up, none},
    };
    for (const SamplerOptions& sampler : {SamplerOptions{}, SamplerOptions{0.9, 40, 0.95, 1234}})
        for (const std::vector<json>& group : groups) {
            std::vector<GenerateOptions> opts;
            for (const json& ivs : group) {
                GenerateOptions o;
                o.prompt = kPrompt;
                o.max_new_tokens = 12;
                o.sampler = sampler;
                o.interventions = testing::ivs(m, ivs);
                opts.push_back(o);
            }
            GeneratorGroup g(m, opts);
            REQUIRE(g.size() == static_cast<int>(group.size()));
            int steps = 0;
            while (!g.done()) {
                const std::vector<std::optional<GenerateStep>> s = g.step();
                REQUIRE(s.size() == group.size());
                for (size_t i = 0; i < group.size(); ++i) CHECK(!s[i].has_value() == (static_cast<int>(g.result(i).steps.size()) <= steps));
                ++steps;
            }
            CHECK(steps == 12);
            for (size_t i = 0; i < group.size(); ++i) {
                INFO("variant " << i << " of " << json(group).dump() << ", temperature " << sampler.temperature);
                const json got = generate_json(m, g.result(i)), want = generate_json(m, generate(m, opts[i]));
                CHECK(g.uses_cache(i) == (group[i] != no_cache));
                CHECK(got["kv_cache"] == want["kv_cache"]);
                CHECK(got["new_tokens"] == want["new_tokens"]);
                CHECK(got["stopped"] == want["stopped"]);
                CHECK(got["text"] == want["text"]);
                CHECK(got["interventions"] == want["interventions"]);
                REQUIRE(got["steps"].size() == want["steps"].size());
                for (size_t j = 0; j < want["steps"].size(); ++j)
                    CHECK(std::abs(got["steps"][j]["prob"].get<double>() - want["steps"][j]["prob"].get<double>()) <=
                          prob_tolerance(want["steps"][j]["prob"].get<double>()));
                if (group[i] == eos) {
                    // The construction works: this variant stopped early, the others did not.
                    CHECK(got["stopped"] == "endoftext");
                    CHECK(got["new_tokens"].size() == 5);
                } else {
                    CHECK(got["stopped"] == "length");
                }
            }
        }
}

TEST_CASE("decoding's GEMM: a row gives the same bits alone or with up to 3 others", "[generate]") {
    // Several generations decode together (a row each); natively 1-4 rows take a kernel
    // whose sums do not depend on the row count. Both weight layouts, odd sizes.
    for (const bool transposed : {false, true}) {
        const int in = 77, out = 300;
        std::vector<float> w(static_cast<size_t>(in) * out), bias(out), x(static_cast<size_t>(4) * in);
        for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(gaussian(1, i));
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(gaussian(2, i));
        for (int i = 0; i < out; ++i) bias[i] = static_cast<float>(gaussian(3, i));
        const PackedMatrix W = pack_matrix(w.data(), in, out, transposed, false);
        for (int T = 1; T <= 4; ++T) {
            std::vector<float> together(static_cast<size_t>(T) * out), alone(out);
            gemm(x.data(), T, W, bias.data(), together.data());
            for (int r = 0; r < T; ++r) {
                INFO("transposed " << transposed << ", row " << r << " of " << T);
                gemm(&x[static_cast<size_t>(r) * in], 1, W, bias.data(), alone.data());
                CHECK(std::equal(alone.begin(), alone.end(), together.begin() + static_cast<size_t>(r) * out));
                // and the product it stands for
                // A float32 sum of n = in + 1 terms in any order errs by at most
                // gamma_n * sum|term|, gamma_n = n u / (1 - n u), u = 2^-24 (Higham, Thm 3.1).
                const double u = std::ldexp(1.0, -24), n = in + 1, gamma = n * u / (1 - n * u);
                int bad = 0;
                for (int c = 0; c < out; ++c) {
                    double want = bias[c], mag = std::abs(bias[c]);
                    for (int k = 0; k < in; ++k) {
                        const double term = static_cast<double>(x[static_cast<size_t>(r) * in + k]) *
                                            w[transposed ? static_cast<size_t>(c) * in + k : static_cast<size_t>(k) * out + c];
                        want += term;
                        mag += std::abs(term);
                    }
                    bad += std::abs(want - alone[c]) > gamma * mag;
                }
                CHECK(bad == 0);
            }
        }
    }
}

TEST_CASE("generate_compare: the baseline and the intervened generation together", "[generate]") {
    const Model& m = testing::mid_model();
    GenerateOptions o;
    o.prompt = kPrompt;
    o.max_new_tokens = 8;
    o.sampler = {0.9, 40, 0.95, 7};
    o.interventions = testing::ivs(m, {{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 10}}});
    const json r = generate_compare_json(m, generate_compare(m, o));
    CHECK(r.size() == 2);
    CHECK(r["intervened"]["new_tokens"] == json(generate(m, o).new_tokens));
    CHECK(r["intervened"]["interventions"].size() == 1);
    GenerateOptions base = o;
    base.interventions.clear();
    CHECK(r["baseline"]["new_tokens"] == json(generate(m, base).new_tokens));
    CHECK(r["baseline"]["interventions"].empty());
    CHECK(r["baseline"]["new_tokens"] != r["intervened"]["new_tokens"]);
}

TEST_CASE("variants of a group stop on their own at the context, even before the first step", "[generate]") {
    const Model& m = testing::mid_model();
    GenerateOptions shorter, full, nearly;
    shorter.prompt = kPrompt;
    for (int i = 0; i < 128; ++i) full.prompt += " word";
    for (int i = 0; i < 126; ++i) nearly.prompt += " word";
    REQUIRE(m.tokenizer.encode(full.prompt).size() == 128);
    shorter.max_new_tokens = full.max_new_tokens = nearly.max_new_tokens = 6;
    GeneratorGroup g(m, {full, nearly, shorter});
    CHECK(g.done(0));
    while (!g.done()) g.step();
    for (int i = 0; i < 3; ++i) {
        const GenerateOptions& o = i == 0 ? full : i == 1 ? nearly : shorter;
        CHECK(g.result(i).new_tokens == generate(m, o).new_tokens);
        CHECK(g.result(i).stopped == (i < 2 ? "context" : "length"));
    }
    CHECK(g.result(0).new_tokens.empty());
    CHECK(g.result(1).new_tokens.size() == 2);
}

TEST_CASE("a group of generations rejects bad variants before any work", "[generate]") {
    const Model& m = testing::mid_model();
    GenerateOptions good, bad;
    good.prompt = bad.prompt = kPrompt;
    good.max_new_tokens = 2;
    bad.max_new_tokens = 0;
    CHECK_THROWS_WITH(GeneratorGroup(m, {}), Contains("no variant"));
    CHECK_THROWS_WITH(GeneratorGroup(m, {good, bad}), Contains("at least 1"));
    GeneratorGroup g(m, {good, good});
    CHECK_THROWS_WITH(g.result(2), Contains("out of range"));
    CHECK_THROWS_WITH(g.done(-1), Contains("out of range"));
    while (!g.done()) g.step();
    CHECK(generate_json(m, g.result(0)) == generate_json(m, g.result(1)));
    CHECK_THROWS_WITH(g.step(), Contains("over"));
}

TEST_CASE("noise is keyed by (position, feature): tools/reference.py draws the same numbers", "[generate]") {
    CHECK(gaussian_at(0, 0, 0) == gaussian(0, 0));
    CHECK(gaussian_at(5, 3, 17) == Approx(0.5086164597803752).epsilon(1e-15));  // pinned in tools/test_reference.py
    CHECK(gaussian_at(5, 3, 17) == gaussian(5, (3ull << 32) | 17));
}

TEST_CASE("the sampler: greedy, top-k, top-p, temperature, seeded", "[generate]") {
    const float l[4] = {1.0f, 3.0f, 3.0f, 2.0f};
    double p = 0;
    CHECK(sample_token(l, 4, {}, 0, &p) == 1);  // greedy, the lowest id on a tie
    CHECK(p == Approx(std::exp(3.0) / (std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0))));
    for (uint64_t step = 0; step < 50; ++step) {
        CHECK(sample_token(l, 4, {2.0, 1, 1.0, 9}, step, nullptr) == 1);  // top-1 is greedy
        CHECK(sample_token(l, 4, {2.0, 0, 0.01, 9}, step, nullptr) == 1);  // so is a tiny nucleus
        const int k2 = sample_token(l, 4, {5.0, 2, 1.0, 9}, step, nullptr);
        CHECK((k2 == 1 || k2 == 2));
        const int p3 = sample_token(l, 4, {1.0, 0, 0.75, 9}, step, nullptr);  // 0.40 + 0.40 >= 0.75: 3 and 0 are out
        CHECK((p3 == 1 || p3 == 2));
    }
    // The same seed and step give the same token; frequencies follow softmax(l / T).
    const float two[2] = {0.0f, static_cast<float>(std::log(3.0))};
    int ones = 0;
    const int n = 20000;
    for (int step = 0; step < n; ++step) {
        const int a = sample_token(two, 2, {1.0, 0, 1.0, 77}, step, nullptr);
        REQUIRE(a == sample_token(two, 2, {1.0, 0, 1.0, 77}, step, nullptr));
        ones += a;
    }
    CHECK(std::abs(ones / double(n) - 0.75) < 0.015);  // 5 standard errors
    int hot = 0;
    for (int step = 0; step < n; ++step) hot += sample_token(two, 2, {2.0, 0, 1.0, 77}, step, nullptr);
    CHECK(std::abs(hot / double(n) - std::sqrt(3.0) / (1 + std::sqrt(3.0))) < 0.015);
    // The documented draw: uniform01(seed, step) from splitmix64.
    CHECK(uniform01(0, 0) == static_cast<double>(splitmix64(0, 0) >> 11) * 0x1.0p-53);

    const float bad[3] = {0.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
    CHECK_THROWS_WITH(sample_token(bad, 3, {}, 0, nullptr), Contains("not finite"));
}

TEST_CASE("generation stops at the length, at <|endoftext|> and at the context, and says which", "[generate]") {
    const Model& m = testing::mid_model();
    GenerateOptions o;
    o.prompt = kPrompt;
    o.max_new_tokens = 3;
    json r = generate_json(m, generate(m, o));
    CHECK(r["stopped"] == "length");
    CHECK(r["new_tokens"].size() == 3);
    CHECK(r["steps"].size() == 3);
    CHECK(r["prompt_tokens"] == json(m.tokenizer.encode(kPrompt)));
    CHECK(r["text"] == utf8_lossy(m.tokenizer.decode(r["new_tokens"].get<std::vector<int>>())));
    CHECK(r["tokens_per_s"].get<double>() > 0);

    // Push <|endoftext|> to the top.
    const int eos = m.tokenizer.id_of("<|endoftext|>");
    REQUIRE(eos >= 0);
    o.max_new_tokens = 10;
    o.interventions = testing::ivs(m, {{{"kind", "add"}, {"hook", "logits"}, {"value", 1000}, {"features", {eos}}}});
    r = generate_json(m, generate(m, o));
    CHECK(r["stopped"] == "endoftext");
    CHECK(r["new_tokens"].size() == 1);
    CHECK(r["new_tokens"][0] == eos);
    CHECK(r["text"] == "");  // the text leaves the final <|endoftext|> out

    o.interventions.clear();
    o.prompt.clear();
    for (int i = 0; i < 126; ++i) o.prompt += " word";
    REQUIRE(m.tokenizer.encode(o.prompt).size() == 126);
    r = generate_json(m, generate(m, o));
    CHECK(r["stopped"] == "context");
    CHECK(r["new_tokens"].size() == 2);  // the sequence fills the 128-token context
}

TEST_CASE("generation rejects bad settings before any work", "[generate]") {
    auto error = [](GenerateOptions o) {
        if (o.prompt.empty()) o.prompt = kPrompt;
        try {
            Generator g(testing::mid_model(), o);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    GenerateOptions o;
    o.max_new_tokens = 0;
    CHECK_THAT(error(o), Contains("at least 1"));
    o.max_new_tokens = 4;
    o.sampler.temperature = -1;
    CHECK_THAT(error(o), Contains("temperature"));
    o.sampler.temperature = std::numeric_limits<double>::quiet_NaN();
    CHECK_THAT(error(o), Contains("temperature"));
    o.sampler = {};
    o.sampler.top_k = -1;
    CHECK_THAT(error(o), Contains("top-k"));
    o.sampler = {};
    for (double p : {0.0, 1.5, -0.2}) {
        o.sampler.top_p = p;
        CHECK_THAT(error(o), Contains("top-p"));
    }
    o.sampler = {};
    // Positions: up to the final length (prompt + new tokens), from the end up to the prompt's.
    const Model& m = testing::mid_model();
    const int T0 = static_cast<int>(m.tokenizer.encode(kPrompt).size());
    o.interventions = testing::ivs(m, {{{"kind", "zero"}, {"hook", "blocks.1.hook_resid_pre"}, {"positions", {T0 + 4}}}});
    CHECK_THAT(error(o), Contains("out of range"));
    o.interventions = testing::ivs(m, {{{"kind", "zero"}, {"hook", "blocks.1.hook_resid_pre"}, {"positions", {T0 + 3}}}});
    CHECK(error(o) == "(no error)");
    o.interventions = testing::ivs(m, {{{"kind", "zero"}, {"hook", "blocks.1.hook_resid_pre"}, {"positions", {-T0 - 1}}}});
    CHECK_THAT(error(o), Contains("out of range"));
    // A block out of range: refused when parsed (json_io.h), before any options are built.
    CHECK_THROWS_WITH(testing::ivs(m, {{{"kind", "zero_head_k"}, {"layer", 12}, {"head", 0}}}), Contains("layer 12"));
    o.interventions.clear();
    o.prompt = std::string(200, 'a') + " " + std::string(200, 'b');
    for (int i = 0; i < 130; ++i) o.prompt += " x";
    CHECK_THAT(error(o), Contains("context"));
}
