// The hook table (model/src/hooks.cpp) is the one description of the hook points: the
// forward fires exactly its shapes, README's table lists exactly its names, names parse
// with messages a learner can act on; and the logit lens read in one forward equals the
// old way (a run with every later block's attn_out and mlp_out zeroed).
#include <catch2/catch.hpp>

#include <cmath>
#include <regex>
#include <set>

#include "helpers.h"
#include "hooklab/error.h"
#include "hooklab/loader.h"
#include "hooklab/run.h"

using nlohmann::json;
using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

const char* kPrompt = "The quick brown fox doesn't jump over 12 lazy dogs.";

std::string parse_error(const std::string& name, const Config& c) {
    Hook h;
    int layer;
    try {
        parse_hook_name(name, c, h, layer);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("the forward fires every hook with the table's shape, in the table's order", "[hooks]") {
    const Model& m = testing::mid_model();
    const std::vector<int> tokens = m.tokenizer.encode(kPrompt);
    const int T = static_cast<int>(tokens.size());
    std::vector<std::pair<Hook, int>> fired;
    m.gpt2.forward(tokens, [&](HookView& v) {
        fired.emplace_back(v.hook, v.layer);
        CHECK(v.shape == hook_shape(v.hook, m.gpt2.config, T));
        CHECK((v.layer >= 0) == hook_is_per_block(v.hook));
    }, false);
    std::vector<std::pair<Hook, int>> want;
    for (int h = 0; h < kHookCount; ++h)
        if (!hook_is_per_block(static_cast<Hook>(h)) && static_cast<Hook>(h) < Hook::ResidPre) want.emplace_back(static_cast<Hook>(h), -1);
    for (int l = 0; l < m.gpt2.config.n_layer; ++l)
        for (int h = 0; h < kHookCount; ++h)
            if (hook_is_per_block(static_cast<Hook>(h))) want.emplace_back(static_cast<Hook>(h), l);
    want.emplace_back(Hook::LnFinal, -1);
    want.emplace_back(Hook::Logits, -1);
    CHECK(fired == want);
}

TEST_CASE("docs/engine.md's hook table lists exactly the table's hook points", "[hooks]") {
    const std::string readme = testing::read_file(testing::source("docs/engine.md"));
    const size_t start = readme.find("## Hook points");
    REQUIRE(start != std::string::npos);
    const size_t end = readme.find("\n## ", start + 1);
    std::istringstream section(readme.substr(start, end - start));
    // First column of each row: `full name` then shorthands relative to its parent,
    // e.g. `blocks.{i}.attn.hook_q` / `hook_k`.
    std::set<std::string> listed;
    const std::regex code("`([A-Za-z0-9_.{}]+)`");
    for (std::string line; std::getline(section, line);) {
        if (line.rfind("| `", 0) != 0) continue;
        const std::string first_col = line.substr(1, line.find('|', 1) - 1);
        std::string parent;
        for (std::sregex_iterator it(first_col.begin(), first_col.end(), code), e; it != e; ++it) {
            std::string name = (*it)[1];
            if (it == std::sregex_iterator(first_col.begin(), first_col.end(), code)) {
                const size_t dot = name.rfind('.');
                parent = dot == std::string::npos ? "" : name.substr(0, dot + 1);
            } else {
                name = parent + name;
            }
            listed.insert(name);
        }
    }
    std::set<std::string> table;
    for (int h = 0; h < kHookCount; ++h) {
        const Hook hk = static_cast<Hook>(h);
        table.insert(hook_is_per_block(hk) ? std::string("blocks.{i}.") + hook_short_name(hk) : hook_short_name(hk));
    }
    CHECK(listed == table);
}

TEST_CASE("hook names parse, and bad ones say what is wrong", "[hooks]") {
    const Config& c = testing::mid_model().gpt2.config;
    Hook h;
    int layer;
    parse_hook_name("blocks.11.attn.hook_z", c, h, layer);
    CHECK((h == Hook::Z && layer == 11));
    parse_hook_name("ln_final.hook_normalized", c, h, layer);
    CHECK((h == Hook::LnFinal && layer == -1));
    CHECK(parse_error("blocks.50.attn.hook_z", c) ==
          "hook \"blocks.50.attn.hook_z\": layer 50 is out of range: this model has blocks 0..11");
    CHECK(parse_error("blocks.12.hook_resid_post", c) ==
          "hook \"blocks.12.hook_resid_post\": layer 12 is out of range: this model has blocks 0..11");
    CHECK_THAT(parse_error("blocks.-1.hook_resid_post", c), Contains("the block's number, 0..11") && Contains("not \"-1\""));
    CHECK_THAT(parse_error("blocks.3", c), Contains("which hook point of block 3"));
    CHECK_THAT(parse_error("blocks.3.attn.hook_zz", c), Contains("did you mean \"blocks.3.attn.hook_z\""));
    CHECK_THAT(parse_error("hook_resid_post", c), Contains("write blocks.<layer>.hook_resid_post (layers 0..11)"));
    CHECK_THAT(parse_error("blocks.2.hook_embed", c), Contains("not inside a block; write just hook_embed"));
    // An unknown name far from every hook lists the block's hook points, not all 20 names.
    const std::string far = parse_error("blocks.2.completely_wrong", c);
    CHECK_THAT(far, Contains("a block's hook points are hook_resid_pre"));
    CHECK(far.find("hook_embed") == std::string::npos);
}

TEST_CASE("the weights take the bytes the loader predicts, F32 and F16", "[hooks]") {
    for (bool f16 : {false, true}) {
        const Model m = load_model_dir(testing::ckpt("mid"), f16);
        CHECK(m.gpt2.weights.bytes() == weight_bytes(m.gpt2.config, f16));
    }
}

namespace {

// The old logit lens (the page's, before it moved into the engine): a whole run with
// blocks.j.hook_attn_out and blocks.j.hook_mlp_out zeroed for every j > i, and only the
// interventions up to block i.
RunResult zeroed_after(int i, const std::vector<json>& ivs) {
    const Model& m = testing::mid_model();
    RunOptions o;
    o.prompt = kPrompt;
    o.topk = 5;
    json list = json::array();
    for (const json& iv : ivs)
        if (!(iv.contains("layer") && iv["layer"].get<int>() > i)) list.push_back(iv);
    for (int j = i + 1; j < m.gpt2.config.n_layer; ++j)
        for (const char* hook : {"hook_attn_out", "hook_mlp_out"})
            list.push_back({{"kind", "zero"}, {"hook", "blocks." + std::to_string(j) + "." + hook}});
    o.interventions = testing::ivs(m, list);
    return run_model(m, o);
}

// |a - b| <= rel * max(|b|, floor): logits near 0 are compared at the scale of the row.
void close(double a, double b, double rel, const std::string& what, double floor = 1e-6) {
    INFO(what << ": " << a << " vs " << b);
    CHECK(std::abs(a - b) <= rel * std::max(std::abs(b), floor));
}

}  // namespace

TEST_CASE("the logit lens in one forward equals runs with the later blocks zeroed", "[lens]") {
    const Model& m = testing::mid_model();
    const int L = m.gpt2.config.n_layer, V = m.gpt2.config.vocab_size;
    for (const std::vector<json>& ivs : {std::vector<json>{},
                                         std::vector<json>{{{"kind", "scale_hidden"}, {"layer", 4}, {"factor", 10}}},
                                         std::vector<json>{{{"kind", "zero_head_k"}, {"layer", 6}, {"head", 2}},
                                                           {{"kind", "noise_even_neurons"}, {"layer", 2}, {"seed", 5}}}}) {
        RunOptions o;
        o.prompt = kPrompt;
        o.topk = 5;
        o.logit_lens = true;
        o.interventions = testing::ivs(m, json(ivs));
        const RunResult lens = run_model(m, o);
        o.interventions.clear();
        RunResult base = run_model(m, o);
        const Comparison cmp = compare_runs(base, lens, 5);
        REQUIRE(static_cast<int>(lens.lens.size()) == L);
        REQUIRE(static_cast<int>(cmp.lens.size()) == L);
        for (int i = 0; i < L; ++i) {
            const RunResult old_b = zeroed_after(i, {}), old_i = zeroed_after(i, ivs);
            const std::string at = "layer " + std::to_string(i) + " with " + json(ivs).dump();
            // Within one build the two paths differ only in the unembedding GEMM's blocking (rows of
            // one position against all): a float32 sum of K = n_embd = 96 terms in another order,
            // within gamma_96 = 96 * 2^-24 = 5.7e-6 of sum|h w|, which is below 1 here; 1e-5 covers it.
            for (int v = 0; v < V; ++v) close(lens.lens_logits[static_cast<size_t>(i) * V + v], old_i.logits[v], 1e-5, at + " logit", 1.0);
            for (size_t k = 0; k < old_i.top.size(); ++k) {
                CHECK(lens.lens[i].top[k].id == old_i.top[k].id);
                close(lens.lens[i].top[k].prob, old_i.top[k].prob, 1e-5, at + " prob");
            }
            // The page's per-layer KL: baseline reading against intervened reading.
            const double old_kl = kl_divergence(old_b.logits.data(), old_b.lse, old_i.logits.data(), old_i.lse, V);
            INFO(at << " kl " << cmp.lens[i].kl << " vs " << old_kl);
            CHECK(std::abs(cmp.lens[i].kl - old_kl) <= 1e-5 * old_kl + 1e-9);
            CHECK(cmp.lens[i].top_int.id == old_i.top[0].id);
            CHECK(cmp.lens[i].top_base.id == old_b.top[0].id);
            // Against the run's own output (what lab.run reports per layer).
            close(lens.lens[i].kl, kl_divergence(lens.logits.data(), lens.lse, old_i.logits.data(), old_i.lse, V), 1e-4, at + " kl to final");
        }
        CHECK(lens.lens[L - 1].kl == 0);
    }
}

TEST_CASE("top-k comparison and KL as the page computed them", "[lens]") {
    const Model& m = testing::mid_model();
    RunOptions o;
    o.prompt = kPrompt;
    o.topk = 3;
    RunResult b = run_model(m, o);
    o.interventions = testing::ivs(m, {{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 10}}});
    const RunResult i = run_model(m, o);
    const Comparison c = compare_runs(b, i, 3);
    // The baseline's top 3 first, then the intervened top 3 not among them.
    REQUIRE(c.top.size() >= 3);
    for (int k = 0; k < 3; ++k) CHECK(c.top[k].id == b.top[k].id);
    for (const TopCompare& t : c.top) {
        close(t.p_base, std::exp(b.logits[t.id] - b.lse), 1e-12, "p_base");
        close(t.p_int, std::exp(i.logits[t.id] - i.lse), 1e-12, "p_int");
    }
    double kl = 0;
    for (int v = 0; v < static_cast<int>(b.logits.size()); ++v) {
        const double p = std::exp(b.logits[v] - b.lse);
        kl += p * ((b.logits[v] - b.lse) - (i.logits[v] - i.lse));
    }
    close(c.kl, kl, 1e-9, "kl");
    CHECK(c.kl > 0);
    // Non-finite logits: KL is not defined (NaN), as the page's null.
    o.interventions = testing::ivs(m, {{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 1e38}}});
    CHECK(std::isnan(compare_runs(b, run_model(m, o), 3).kl));
}
