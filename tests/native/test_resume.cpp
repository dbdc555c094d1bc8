// A run resumed from a kept run (run_model's `from`: the page's toggles) must be bit
// for bit the whole run: the same JSON, the same logits, for interventions and captures
// at every kind of place (before the blocks, in them, after them), with the logit lens.
#include <catch2/catch.hpp>

#include <cstring>

#include "helpers.h"
#include "hooklab/loader.h"
#include "hooklab/run.h"

using nlohmann::json;
using namespace hooklab;

namespace {

const char* kPrompt = "The quick brown fox doesn't jump over 12 lazy dogs.";

RunOptions options(const std::string& prompt, const std::vector<json>& ivs, std::vector<std::string> capture = {}) {
    RunOptions o;
    o.prompt = prompt;
    o.topk = 5;
    o.logit_lens = true;
    o.interventions = testing::ivs(testing::mid_model(), json(ivs));
    o.capture = std::move(capture);
    return o;
}

void same_run(const Model& m, const RunOptions& o, const RunResult& whole, const RunResult& resumed) {
    INFO(interventions_json(o.interventions).dump() << " capture " << json(o.capture).dump());
    CHECK(dump_json(run_json(m, resumed, o)) == dump_json(run_json(m, whole, o)));
    REQUIRE(resumed.logits.size() == whole.logits.size());
    CHECK(std::memcmp(resumed.logits.data(), whole.logits.data(), sizeof(float) * whole.logits.size()) == 0);
    REQUIRE(resumed.captures.size() == whole.captures.size());
    for (size_t i = 0; i < whole.captures.size(); ++i) {
        CHECK(resumed.captures[i].name == whole.captures[i].name);
        CHECK(resumed.captures[i].shape == whole.captures[i].shape);
        CHECK(resumed.captures[i].data == whole.captures[i].data);
    }
    REQUIRE(resumed.lens_logits.size() == whole.lens_logits.size());
    if (!whole.lens_logits.empty())  // memcmp of two null pointers is undefined, even for 0 bytes
        CHECK(std::memcmp(resumed.lens_logits.data(), whole.lens_logits.data(), sizeof(float) * whole.lens_logits.size()) == 0);
}

}  // namespace

TEST_CASE("a run resumed from the kept baseline is bit for bit the whole run", "[resume]") {
    const Model& m = testing::mid_model();
    const int L = m.gpt2.config.n_layer;
    const std::string last = std::to_string(L - 1);
    const std::vector<std::pair<std::vector<json>, std::vector<std::string>>> cases = {
        {{{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 10}}}, {}},
        {{{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 0.1}}, {{"kind", "zero_head_k"}, {"layer", 6}, {"head", 2}}}, {}},
        {{{{"kind", "noise_even_neurons"}, {"layer", 3}, {"mean", 10}, {"seed", 4}}}, {"blocks.7.attn.hook_pattern"}},
        {{{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 10}}}, {"blocks.2.hook_resid_pre"}},  // the capture starts it
        {{{{"kind", "add"}, {"hook", "blocks.5.hook_resid_pre"}, {"value", 3}}}, {}},
        {{{{"kind", "set"}, {"hook", "ln_final.hook_normalized"}, {"value", 1}}}, {}},                            // after the blocks
        {{{{"kind", "scale"}, {"hook", "logits"}, {"factor", 2}}}, {"blocks." + last + ".hook_resid_post"}},
        {{{{"kind", "zero"}, {"hook", "hook_pos_embed"}}}, {}},                                     // before them: no resume
        {{{{"kind", "scale_hidden"}, {"layer", 0}, {"factor", 10}}}, {}},
        // A block's output: the run enters the next block, that hook fired on entry.
        {{{{"kind", "scale_hidden"}, {"layer", 0}, {"factor", 0.1}}, {{"kind", "scale_hidden"}, {"layer", 0}, {"factor", 10}}}, {}},
        {{{{"kind", "zero"}, {"hook", "blocks.3.hook_resid_post"}, {"positions", {0}}}}, {"blocks.3.hook_resid_post"}},
        {{}, {"blocks.6.hook_resid_post"}},
        {{{{"kind", "scale_hidden"}, {"layer", L - 1}, {"factor", 3}}}, {}},                        // the last block's
        {{{{"kind", "scale_hidden"}, {"layer", 5}, {"factor", 2}}, {{"kind", "noise_even_neurons"}, {"layer", 5}, {"mean", 1}, {"seed", 2}}}, {}},
        {{{{"kind", "scale_hidden"}, {"layer", 4}, {"factor", 1e38}}}, {}},                        // goes non-finite
    };
    for (const std::string prompt : {std::string(kPrompt), std::string("Hello")}) {
        const KeptRun kept = run_kept(m, options(prompt, {}));
        CHECK(kept.state.capacity() > 0);
        // Every resume recomputes all positions from its block: residuals only are kept.
        CHECK_FALSE(kept.state.holds_keys_values());
        CHECK(kept.state.bytes() == kept_state_bytes(m.gpt2.config, static_cast<int>(kept.result.tokens.size())));
        // The kept run itself is the plain baseline.
        same_run(m, options(prompt, {}), run_model(m, options(prompt, {})), kept.result);
        for (const auto& [ivs, capture] : cases) {
            const RunOptions o = options(prompt, ivs, capture);
            same_run(m, o, run_model(m, o), run_model(m, o, {&kept}));
        }
    }
}

TEST_CASE("a resumed run reads the kept state, and only a kept run of its own prompt", "[resume]") {
    const Model& m = testing::mid_model();
    const RunOptions o = options(kPrompt, {{{"kind", "scale_hidden"}, {"layer", 9}, {"factor", 10}}});
    const RunResult whole = run_model(m, o);
    // The intervention scales block 9's output: the run enters block 10, firing block 9's
    // output hook on the kept residual. Spoil that residual: the resumed run must show it
    // from block 9's output on (proof that blocks 0..9 were not recomputed), and every
    // hook before it keeps the kept statistics.
    KeptRun spoiled = run_kept(m, options(kPrompt, {}));
    const int T = static_cast<int>(spoiled.result.tokens.size());
    for (int t = 0; t < T; ++t) spoiled.state.resid(10, t)[0] += 100.0f;
    const RunResult r = run_model(m, o, {&spoiled});
    CHECK(r.logits != whole.logits);
    CHECK(r.resid_std[8] == whole.resid_std[8]);
    const auto stat = [](const RunResult& x, Hook h, int l) { return x.stats[static_cast<int>(h)][l]; };
    CHECK(stat(r, Hook::MlpOut, 9).std == stat(whole, Hook::MlpOut, 9).std);
    CHECK(stat(r, Hook::ResidMid, 9).max == stat(whole, Hook::ResidMid, 9).max);
    CHECK(r.resid_std[9] != whole.resid_std[9]);
    CHECK(stat(r, Hook::ResidPost, 9).max != stat(whole, Hook::ResidPost, 9).max);
    // A kept run of another prompt is not used.
    const KeptRun other = run_kept(m, options("Another prompt entirely", {}));
    same_run(m, o, whole, run_model(m, o, {&other}));
}

TEST_CASE("a run resumes from the kept intervened run it agrees with longest, bit for bit the whole run", "[resume]") {
    const Model& m = testing::mid_model();
    auto scale = [](int layer, double f) { return json{{"kind", "scale_hidden"}, {"layer", layer}, {"factor", f}}; };
    auto zero_k = [](int layer, int head) { return json{{"kind", "zero_head_k"}, {"layer", layer}, {"head", head}}; };
    const json noise = {{"kind", "noise_even_neurons"}, {"layer", 2}, {"mean", 10}, {"seed", 3}};
    const json add3 = {{"kind", "add"}, {"hook", "blocks.3.hook_resid_pre"}, {"value", 1}};
    const json twice3 = {{"kind", "scale"}, {"hook", "blocks.3.hook_resid_pre"}, {"factor", 2}};
    const KeptRun base = run_kept(m, options(kPrompt, {}));
    // Resumed from `from`, the run starts at block `first` and equals the whole run.
    auto check = [&](const RunOptions& o, const std::vector<const KeptRun*>& from, int first) {
        const RunResult r = run_model(m, o, from);
        INFO(interventions_json(o.interventions).dump() << " capture " << json(o.capture).dump());
        CHECK(r.first_block == first);
        same_run(m, o, run_model(m, o), r);
    };
    const std::vector<std::string> pattern0 = {"blocks.0.attn.hook_pattern"};

    // Exercise 1 at block 0, its pattern captured: every run of it starts at block 0, but
    // one that adds a scale of block 0's output resumes from it at block 1, with its capture.
    const KeptRun ex1 = run_kept(m, options(kPrompt, {zero_k(0, 1)}, pattern0), {&base});
    CHECK(ex1.result.first_block == 0);
    CHECK(ex1.state.capacity() > 0);
    check(options(kPrompt, {zero_k(0, 1), scale(0, 10)}, pattern0), {&base, &ex1}, 1);
    check(options(kPrompt, {zero_k(0, 1), scale(9, 10)}, pattern0), {&base, &ex1}, 10);
    check(options(kPrompt, {zero_k(0, 1), scale(9, 10)}), {&base, &ex1}, 10);  // without the kept run's capture
    // Fewer interventions than the kept run: back to where they part.
    const KeptRun two = run_kept(m, options(kPrompt, {zero_k(1, 2), scale(6, 10)}), {&base});
    CHECK(two.result.first_block == 1);
    check(options(kPrompt, {zero_k(1, 2)}), {&base, &two}, 6);
    // A capture the kept run did not make starts the run at its block.
    check(options(kPrompt, {zero_k(1, 2), scale(6, 10), zero_k(8, 0)}, {"blocks.1.hook_resid_post"}), {&base, &two}, 2);
    // The kept run changed block 4's output. A run that parts from it at block 5 enters there,
    // firing block 4's output hook again on the kept residual: with only its interventions
    // that the kept run did not apply, which must come after the kept run's; else it starts
    // at block 4.
    const KeptRun out4 = run_kept(m, options(kPrompt, {zero_k(1, 2), scale(4, 10)}), {&base});
    check(options(kPrompt, {zero_k(1, 2), scale(4, 10), zero_k(5, 1)}), {&base, &out4}, 5);
    check(options(kPrompt, {zero_k(1, 2), scale(4, 10), scale(4, 3), zero_k(5, 1)}), {&base, &out4}, 5);
    check(options(kPrompt, {zero_k(1, 2), scale(4, 3), scale(4, 10), zero_k(5, 1)}), {&base, &out4}, 4);
    check(options(kPrompt, {zero_k(1, 2), scale(4, 3), zero_k(5, 1)}), {&base, &out4}, 4);
    // The baseline when it gives the later start.
    check(options(kPrompt, {scale(4, 10), zero_k(5, 1)}), {&base, &out4}, 5);
    // The order of the interventions at one hook counts.
    const KeptRun ordered = run_kept(m, options(kPrompt, {noise, add3, twice3}), {&base});
    check(options(kPrompt, {noise, twice3, add3}), {&base, &ordered}, 3);
    check(options(kPrompt, {noise, add3, twice3, scale(7, 0.1)}), {&base, &ordered}, 8);
    // A kept run that was itself resumed keeps the blocks it took from the other, and its own.
    const KeptRun chained = run_kept(m, options(kPrompt, {zero_k(0, 1), scale(3, 10)}, pattern0), {&base, &ex1});
    CHECK(chained.result.first_block == 4);
    check(options(kPrompt, {zero_k(0, 1), scale(3, 10), zero_k(8, 3)}, pattern0), {&chained}, 8);
    check(options(kPrompt, {zero_k(0, 1), zero_k(2, 3)}, pattern0), {&chained}, 2);
    // Not from a run that went non-finite, nor one of another prompt, nor a state not kept.
    const KeptRun inf = run_kept(m, options(kPrompt, {zero_k(1, 2), scale(4, 1e38)}), {&base});
    CHECK_FALSE(inf.result.nonfinite.empty());
    check(options(kPrompt, {zero_k(1, 2), scale(4, 1e38), scale(9, 2)}), {&inf}, 0);
    const KeptRun other = run_kept(m, options("Another prompt entirely", {zero_k(1, 2)}));
    check(options(kPrompt, {zero_k(1, 2), scale(9, 2)}), {&other}, 0);
    const KeptRun small = run_kept(m, options(kPrompt, {zero_k(1, 2)}), {&base}, 1);
    CHECK(small.state.capacity() == 0);
    // A run whose interventions all act past the middle block keeps no state; one acting
    // there does, wherever it started.
    const int L = m.gpt2.config.n_layer;
    CHECK(run_kept(m, options(kPrompt, {zero_k(L / 2 + 1, 2)}), {&base}).state.capacity() == 0);
    CHECK(run_kept(m, options(kPrompt, {zero_k(L / 2, 2)}), {&base}).state.capacity() > 0);
    const KeptRun late = run_kept(m, options(kPrompt, {zero_k(1, 2)}), {&base, &two});
    CHECK(late.result.first_block == 6);
    CHECK(late.state.capacity() > 0);
    check(options(kPrompt, {zero_k(1, 2), scale(9, 2)}), {&small, &base}, 1);
}

TEST_CASE("a state of residuals only holds the full state's residuals, and no pass from a later position", "[resume]") {
    const Model& m = testing::mid_model();
    const GPT2& g = m.gpt2;
    const int L = g.config.n_layer;
    RunState full, resid;
    full.tokens = resid.tokens = m.tokenizer.encode(kPrompt);
    const int T = static_cast<int>(full.tokens.size());
    resid.reserve(g.config, T, false);
    g.forward({{&full, 0, &full}}, 0, nullptr, Logits::None);
    g.forward({{&resid, 0, &resid}}, 0, nullptr, Logits::None);
    CHECK(full.holds_keys_values());
    CHECK_FALSE(resid.holds_keys_values());
    CHECK(resid.bytes() * (3 * L + 1) == full.bytes() * (L + 1));
    for (int l = 0; l <= L; ++l)
        for (int t = 0; t < T; ++t) CHECK(std::memcmp(resid.resid(l, t), full.resid(l, t), sizeof(float) * g.config.n_embd) == 0);
    // From block 5 at every position it serves as well as the full state.
    CHECK(g.forward({{&resid, 0, nullptr}}, 5, nullptr, Logits::Last) == g.forward({{&full, 0, nullptr}}, 5, nullptr, Logits::Last));
    // A pass from position 3 attends to the keys and values before it: refused, not read.
    CHECK_THROWS_WITH(g.forward({{&resid, 3, nullptr}}, 0, nullptr, Logits::Last), Catch::Contains("needs a run state with keys and values"));
    CHECK_NOTHROW(g.forward({{&full, 3, nullptr}}, 0, nullptr, Logits::Last));
}

TEST_CASE("a run that differs from a kept one only in captures or options stops after its captures", "[resume]") {
    const Model& m = testing::mid_model();
    const int L = m.gpt2.config.n_layer;
    const json zero_k = {{"kind", "zero_head_k"}, {"layer", 1}, {"head", 2}};
    const KeptRun base = run_kept(m, options(kPrompt, {}));
    const KeptRun ex1 = run_kept(m, options(kPrompt, {zero_k}));
    // The captures (and options) of each run, and the blocks [first, end) it computes;
    // first = n_layer when it computes none (only a hook fired on entry, or nothing).
    struct Case { std::vector<json> ivs; std::vector<std::string> capture; int first, end; };
    const std::vector<Case> cases = {
        {{}, {"blocks.3.hook_resid_post"}, L, 4},                                 // fired on entry to block 4
        {{}, {"blocks.5.attn.hook_pattern"}, 5, 6},
        {{}, {"blocks.0.attn.hook_pattern"}, 0, 1},
        {{}, {"hook_embed"}, L, 0},                                               // the embeddings only
        {{}, {"blocks.2.mlp.hook_post", "blocks.7.hook_resid_pre"}, 2, 8},
        {{}, {}, L, L - 1},                                                       // only top-k and the lens differ
        {{}, {"ln_final.hook_normalized"}, L - 1, L},                             // after the blocks: no stop
        {{zero_k}, {"blocks.1.attn.hook_pattern"}, 1, 2},                         // from the intervened run
        {{zero_k}, {"blocks.6.hook_resid_mid", "logits"}, 6, L},                 // a capture after the blocks: no stop
    };
    for (const Case& k : cases) {
        for (const bool lens : {false, true}) {
            RunOptions o = options(kPrompt, k.ivs, k.capture);
            o.logit_lens = lens;
            o.topk = 7;
            INFO(interventions_json(o.interventions).dump() << " capture " << json(o.capture).dump() << " lens " << lens);
            const RunResult r = run_model(m, o, {&base, &ex1});
            CHECK(r.first_block == k.first);
            CHECK(r.end_block == k.end);
            same_run(m, o, run_model(m, o), r);
        }
    }
    // The blocks after the captures are the kept run's: its numbers there, not recomputed.
    KeptRun spoiled = run_kept(m, options(kPrompt, {}));
    spoiled.result.logits[0] += 1.0f;
    spoiled.result.stats[static_cast<int>(Hook::MlpOut)][L - 1].std += 1.0;
    const RunOptions o = options(kPrompt, {}, {"blocks.5.attn.hook_pattern"});
    const RunResult r = run_model(m, o, {&spoiled});
    CHECK(r.logits[0] == spoiled.result.logits[0]);
    CHECK(r.stats[static_cast<int>(Hook::MlpOut)][L - 1].std == spoiled.result.stats[static_cast<int>(Hook::MlpOut)][L - 1].std);
    CHECK(r.stats[static_cast<int>(Hook::MlpOut)][5].std == base.result.stats[static_cast<int>(Hook::MlpOut)][5].std);
    // A kept run with other interventions is no source for the rest.
    const RunResult other = run_model(m, options(kPrompt, {}, {"blocks.5.attn.hook_pattern"}), {&ex1});
    CHECK(other.end_block == L);
}
