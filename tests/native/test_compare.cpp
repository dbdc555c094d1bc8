// hooklab::Comparer, baseline against intervened runs: what it keeps and reuses must give exactly the
// numbers of whole runs, and it keeps no more than its limits.
#include <catch2/catch.hpp>

#include <cstring>

#include "helpers.h"
#include "hooklab/compare.h"
#include "hooklab/error.h"
#include "hooklab/loader.h"

using nlohmann::json;
using namespace hooklab;

namespace {

const char* kPrompt = "The quick brown fox doesn't jump over 12 lazy dogs.";

RunOptions opts(std::vector<json> ivs, std::vector<std::string> capture = {}, bool lens = false, const std::string& prompt = kPrompt) {
    RunOptions o;
    o.prompt = prompt;
    o.topk = 5;
    o.interventions = testing::ivs(testing::mid_model(), json(ivs));
    o.capture = std::move(capture);
    o.logit_lens = lens;
    return o;
}

json scale(int layer, double factor) { return {{"kind", "scale_hidden"}, {"layer", layer}, {"factor", factor}}; }

// The run JSON and the logits' bits of a whole run with these options.
void same_as_whole(const Model& m, const RunOptions& o, const RunResult& got) {
    INFO(interventions_json(o.interventions).dump() << " capture " << json(o.capture).dump() << " lens " << o.logit_lens);
    const RunResult whole = run_model(m, o);
    CHECK(dump_json(run_json(m, got, o)) == dump_json(run_json(m, whole, o)));
    REQUIRE(got.logits.size() == whole.logits.size());
    CHECK(std::memcmp(got.logits.data(), whole.logits.data(), sizeof(float) * whole.logits.size()) == 0);
}

}  // namespace

TEST_CASE("the comparer keeps the baseline's forward and the latest runs", "[compare]") {
    const Model& m = testing::mid_model();
    Comparer c;
    const std::vector<json> a = {scale(9, 10)}, b = {{{"kind", "zero_head_k"}, {"layer", 4}, {"head", 1}}};
    Comparer::Step s = c.compare(m, opts(a));
    CHECK_FALSE(s.reused);
    CHECK_FALSE(s.baseline_reused);
    const uint64_t first = s.baseline_id;
    const double kl_a = s.comparison.kl;
    same_as_whole(m, opts({}), *s.baseline);
    same_as_whole(m, opts(a), *s.intervened);
    s = c.compare(m, opts(b));
    CHECK_FALSE(s.reused);
    CHECK(s.baseline_reused);
    CHECK(s.baseline_id == first);
    same_as_whole(m, opts(b), *s.intervened);
    // Back to a: its kept run, the same comparison.
    s = c.compare(m, opts(a));
    CHECK(s.reused);
    CHECK(s.comparison.kl == kl_a);
    same_as_whole(m, opts(a), *s.intervened);
    // No interventions: the baseline is the intervened run.
    s = c.compare(m, opts({}));
    CHECK(s.intervened == s.baseline);
    CHECK(s.comparison.kl == 0);
    // Other options on the same prompt (exercise 1's capture, the lens): a new baseline,
    // resumed from the kept forward, equal to a whole run; runs kept for other options
    // are not theirs.
    const std::vector<std::string> pattern = {"blocks.4.attn.hook_pattern"};
    s = c.compare(m, opts(a, pattern, true));
    CHECK(s.baseline_id != first);
    CHECK_FALSE(s.baseline_reused);
    CHECK_FALSE(s.reused);
    same_as_whole(m, opts({}, pattern, true), *s.baseline);
    same_as_whole(m, opts(a, pattern, true), *s.intervened);
    // Back to the first options: their kept baseline and run, no forward.
    s = c.compare(m, opts(a));
    CHECK(s.reused);
    CHECK(s.baseline_reused);
    CHECK(s.baseline_id != first);  // another baseline than the last one returned
    same_as_whole(m, opts({}), *s.baseline);
    same_as_whole(m, opts(a), *s.intervened);
    s = c.compare(m, opts(a, pattern, true));
    CHECK(s.reused);
    // A bad intervention is an error (a block out of range when parsed; a position out of
    // range for this prompt in the comparer), and what is kept stays.
    const uint64_t second = s.baseline_id;
    CHECK_THROWS_AS(opts({scale(99, 1)}, pattern, true), Error);
    const RunOptions bad = opts({{{"kind", "zero"}, {"hook", "blocks.1.hook_resid_pre"}, {"positions", {400}}}}, pattern, true);
    CHECK_THROWS_AS(c.compare(m, bad), Error);
    s = c.compare(m, opts(a, pattern, true));
    CHECK(s.reused);
    CHECK(s.baseline_id == second);
    // A new prompt: nothing kept is used, or kept (its baseline and run only).
    s = c.compare(m, opts(a, {}, false, "Hello"));
    CHECK_FALSE(s.reused);
    CHECK_FALSE(s.baseline_reused);
    CHECK(c.kept_runs() == 2);
    CHECK(s.baseline_id != second);
    same_as_whole(m, opts({}, {}, false, "Hello"), *s.baseline);
    same_as_whole(m, opts(a, {}, false, "Hello"), *s.intervened);
}

TEST_CASE("the comparer keeps at most its limits of runs, this call's two always", "[compare]") {
    const Model& m = testing::mid_model();
    Comparer c(4);
    for (int i = 1; i <= 5; ++i) c.compare(m, opts({scale(9, i)}));
    CHECK(c.kept_runs() == 4);  // 5, the baseline, 4, 3: the newest first
    CHECK(c.compare(m, opts({scale(9, 5)})).reused);
    CHECK(c.compare(m, opts({scale(9, 3)})).reused);
    CHECK_FALSE(c.compare(m, opts({scale(9, 1)})).reused);  // dropped, now kept again
    CHECK_FALSE(c.compare(m, opts({scale(9, 4)})).reused);  // the oldest of 3, 5, 4
    CHECK(c.kept_runs() == 4);
    // A byte limit below one run: only this call's baseline and intervened run stay.
    Comparer tiny(16, 1);
    tiny.compare(m, opts({scale(9, 2)}));
    tiny.compare(m, opts({scale(9, 3)}));
    CHECK(tiny.kept_runs() == 2);
    CHECK_FALSE(tiny.compare(m, opts({scale(9, 2)})).reused);
    const Comparer::Step s = tiny.compare(m, opts({scale(9, 2)}));
    CHECK(s.reused);
    same_as_whole(m, opts({}), *s.baseline);
}

TEST_CASE("the comparer resumes from the intervened runs it kept, their states dropped first", "[compare]") {
    const Model& m = testing::mid_model();
    const int L = m.gpt2.config.n_layer;
    const json ex1 = {{"kind", "zero_head_k"}, {"layer", 0}, {"head", 1}};
    const std::vector<std::string> pattern0 = {"blocks.0.attn.hook_pattern"};
    // Exercise 1 at block 0 on (its pattern captured): each of its runs starts at block 0,
    // but exercise 4 toggled beside it resumes from exercise 1's own run.
    Comparer c;
    Comparer::Step s = c.compare(m, opts({ex1}, pattern0));
    CHECK(s.first_block == 0);
    s = c.compare(m, opts({ex1, scale(0, 10)}, pattern0));
    CHECK(s.first_block == 1);
    same_as_whole(m, opts({ex1, scale(0, 10)}, pattern0), *s.intervened);
    s = c.compare(m, opts({ex1}, pattern0));
    CHECK(s.reused);
    CHECK(s.first_block == L);
    s = c.compare(m, opts({ex1, scale(9, 10)}, pattern0));
    CHECK(s.first_block == 10);
    same_as_whole(m, opts({ex1, scale(9, 10)}, pattern0), *s.intervened);
    // The page's exercises 3 and 4 both scale block 9's output: with exercise 1 on, exercise
    // 4's toggle enters block 10 from the run with exercises 1 and 3, applying only its own.
    c.compare(m, opts({ex1, scale(9, 0.1)}, pattern0));
    s = c.compare(m, opts({ex1, scale(9, 0.1), scale(9, 10)}, pattern0));
    CHECK(s.first_block == 10);
    same_as_whole(m, opts({ex1, scale(9, 0.1), scale(9, 10)}, pattern0), *s.intervened);

    // Limits. A state may take half the bytes at most: below that, none is kept.
    const size_t state = kept_state_bytes(m.gpt2.config, static_cast<int>(s.baseline->tokens.size()));
    REQUIRE(result_bytes(*s.intervened) < state / 2);
    Comparer none(16, 2 * state - 1);
    none.compare(m, opts({ex1}, pattern0));
    CHECK(none.compare(m, opts({ex1, scale(0, 10)}, pattern0)).first_block == 0);
    // Room for two states, not for them and three runs' numbers: the older state goes, the
    // runs stay.
    Comparer two(16, 2 * state);
    two.compare(m, opts({ex1}, pattern0));
    CHECK(two.compare(m, opts({ex1, scale(0, 10)}, pattern0)).first_block == 1);
    CHECK(two.kept_runs() == 3);
    CHECK(two.compare(m, opts({ex1}, pattern0)).reused);
    // Exercise 1's run lost its state; the other one changed block 0's output: from block 0.
    s = two.compare(m, opts({ex1, scale(9, 10)}, pattern0));
    CHECK(s.first_block == 0);
    CHECK(two.kept_runs() == 4);
    same_as_whole(m, opts({ex1, scale(9, 10)}, pattern0), *s.intervened);
}
