// hooklab heads: the scoring function on hand-made patterns whose scores are known
// exactly, the repeated-random-token input, every head's scores against transformers'
// attention patterns (tools/hf_goldens.py heads_goldens, tests/golden/heads__mid.json)
// within 1e-5, and the bad inputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "helpers.h"
#include "tolerance.h"
#include "hooklab/error.h"
#include "hooklab/heads.h"
#include "hooklab/run.h"

using nlohmann::json;
using namespace hooklab;

namespace {

HeadsOptions options_of(const json& c) {
    HeadsOptions o;
    if (c.contains("prompt")) o.prompt = c["prompt"].get<std::string>();
    if (c.contains("repeat")) o.repeat = c["repeat"].get<long long>();
    if (c.contains("seed")) o.seed = parse_seed(c["seed"].get<std::string>());
    o.interventions = testing::ivs(testing::mid_model(), c["interventions"]);
    return o;
}

// heads' result as the CLIs print it.
json heads_of(const Model& m, const HeadsOptions& o) { return heads_json(m, heads(m, o)); }

void require_error(const HeadsOptions& o, const std::string& fragment, const Model& m = testing::mid_model()) {
    try {
        heads(m, o);
        FAIL("expected an error containing: " << fragment);
    } catch (const Error& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).find(fragment) != std::string::npos);
    }
}

}  // namespace

TEST_CASE("score_head on hand-made patterns", "[heads]") {
    // Rows sum to 1; every value is a power of two, so each mean is exact.
    const std::vector<float> A = {
        1,     0,     0,   0,     0,
        0.5,   0.5,   0,   0,     0,
        0.25,  0.25,  0.5, 0,     0,
        0.125, 0.125, 0.5, 0.25,  0,
        0.5,   0,     0,   0.125, 0.375,
    };
    // Positions 3 and 4 repeat positions 1 and 2: induction reads A[3][2] and A[4][3].
    const HeadScore s = score_head(A.data(), 5, {9, 4, 5, 4, 5});
    CHECK(s.first_token == (1 + 0.5 + 0.25 + 0.125 + 0.5) / 5);
    REQUIRE(s.previous_token.has_value());
    CHECK(*s.previous_token == (0.5 + 0.25 + 0.5 + 0.125) / 4);
    REQUIRE(s.induction.has_value());
    CHECK(*s.induction == (0.5 + 0.125) / 2);

    // The LATEST earlier occurrence counts: at i = 2, j = 1 (so A[2][2]), not j = 0.
    const std::vector<float> B = {1, 0, 0, 0.5, 0.5, 0, 0.25, 0.25, 0.5};
    const HeadScore r = score_head(B.data(), 3, {3, 3, 3});
    REQUIRE(r.induction.has_value());
    CHECK(*r.induction == (0.5 + 0.5) / 2);

    // No repeated token: induction undefined. One token: previous-token undefined.
    CHECK_FALSE(score_head(B.data(), 3, {1, 2, 3}).induction.has_value());
    const float one = 1;
    const HeadScore t = score_head(&one, 1, {7});
    CHECK(t.first_token == 1);
    CHECK_FALSE(t.previous_token.has_value());
    CHECK_FALSE(t.induction.has_value());
}

TEST_CASE("repeat_tokens: eos, then R draws twice, never eos, uniform over the rest", "[heads]") {
    const auto t = repeat_tokens(50, 7, 100, 99);
    REQUIRE(t.size() == 101);
    CHECK(t[0] == 99);
    for (int k = 0; k < 50; ++k) {
        CHECK(t[1 + k] == t[51 + k]);
        CHECK(t[1 + k] >= 0);
        CHECK(t[1 + k] < 99);
    }
    CHECK(repeat_tokens(50, 7, 100, 99) == t);
    CHECK(repeat_tokens(50, 8, 100, 99) != t);
    // eos at 0 with two ids: every draw is the other one.
    const auto two = repeat_tokens(10, 3, 2, 0);
    for (size_t i = 1; i < two.size(); ++i) CHECK(two[i] == 1);
    // eos in the middle: the ids above it are reachable, eos itself never.
    std::vector<int> seen(10, 0);
    for (int id : repeat_tokens(2000, 1, 10, 4)) ++seen[id];
    CHECK(seen[4] == 1);
    for (int id = 0; id < 10; ++id)
        if (id != 4) CHECK(seen[id] > 2 * 2000 / 9 * 0.8);
}

TEST_CASE("repeat_tokens draws what tools/reference.py draws", "[heads]") {
    const json draws = testing::read_json(testing::source("tests/golden/heads__mid.json"))["repeat_tokens"];
    REQUIRE(draws.size() >= 3);
    for (const json& d : draws) {
        INFO(d.dump().substr(0, 120));
        CHECK(repeat_tokens(d["repeat"].get<int>(), parse_seed(d["seed"].get<std::string>()), d["vocab_size"].get<int>(),
                            d["eos"].get<int>()) == d["tokens"].get<std::vector<int>>());
    }
}

TEST_CASE("parse_seed takes 0..2^64-1 as decimal text only", "[heads]") {
    CHECK(parse_seed("0") == 0);
    CHECK(parse_seed("18446744073709551615") == 18446744073709551615ull);
    for (const char* bad : {"", "-1", "1.5", "1e3", "abc", " 1", "18446744073709551616", "99999999999999999999", "123456789012345678901"})
        CHECK_THROWS_AS(parse_seed(bad), Error);
}

TEST_CASE("every head's scores equal the PyTorch reference within the golden's tolerance (mid)", "[heads]") {
    const json golden = testing::read_json(testing::source("tests/golden/heads__mid.json"))["cases"];
    REQUIRE(golden.size() >= 4);
    const Config& c = testing::mid_model().gpt2.config;
    for (const json& cs : golden) {
        INFO("case " << cs.dump().substr(0, 200));
        const json got = heads_of(testing::mid_model(), options_of(cs));
        const testing::GoldenTolerance tol(cs.at("tolerance"));
        REQUIRE(got["tokens"] == cs["tokens"]);
        REQUIRE(got["token_strings"] == cs["token_strings"]);
        for (const char* key : {"induction", "previous_token", "first_token"}) {
            REQUIRE(got[key].size() == static_cast<size_t>(c.n_layer));
            for (int l = 0; l < c.n_layer; ++l) {
                REQUIRE(got[key][l].size() == static_cast<size_t>(c.n_head));
                for (int h = 0; h < c.n_head; ++h) {
                    const json &a = got[key][l][h], &b = cs[key][l][h];
                    INFO(key << "[" << l << "][" << h << "]: engine " << a.dump() << " vs reference " << b.dump());
                    REQUIRE(a.is_null() == b.is_null());
                    if (!b.is_null()) CHECK(std::abs(a.get<double>() - b.get<double>()) <= tol.head_score());
                }
            }
        }
    }
}

TEST_CASE("an intervention changes the scores from its block on only", "[heads]") {
    HeadsOptions o;
    o.repeat = 20;
    o.seed = 0;
    const json base = heads_of(testing::mid_model(), o);
    o.interventions = testing::ivs(testing::mid_model(), {{"kind", "zero_head_k"}, {"layer", 9}, {"head", 2}});
    const json iv = heads_of(testing::mid_model(), o);
    for (int l = 0; l < 9; ++l) CHECK(iv["induction"][l] == base["induction"][l]);
    CHECK(iv["first_token"][9][2] != base["first_token"][9][2]);
    // A zero key gives head 9.2 a uniform pattern: A[i][0] = 1/(i+1).
    double want = 0;
    for (int i = 0; i < 41; ++i) want += 1.0 / (i + 1);
    CHECK(std::abs(iv["first_token"][9][2].get<double>() - want / 41) < 1e-6);
    CHECK(iv["interventions"].size() == 1);
}

TEST_CASE("pattern: the block's scored patterns, those a run captures", "[heads]") {
    HeadsOptions o;
    o.prompt = "The cat sat on the mat. The cat sat";
    o.interventions = testing::ivs(testing::mid_model(), {{"kind", "zero_head_k"}, {"layer", 4}, {"head", 1}});
    o.pattern_layer = 4;
    const json got = heads_of(testing::mid_model(), o);
    RunOptions r;
    r.prompt = *o.prompt;
    r.interventions = o.interventions;
    r.capture = {"blocks.4.attn.hook_pattern"};
    const json want = run(testing::mid_model(), r)["captures"]["blocks.4.attn.hook_pattern"];
    CHECK(got["pattern"]["layer"] == 4);
    CHECK(got["pattern"]["shape"] == want["shape"]);
    CHECK(got["pattern"]["data"] == want["data"]);
    o.pattern_layer.reset();
    CHECK_FALSE(heads_of(testing::mid_model(), o).contains("pattern"));
}

TEST_CASE("token_loss: each position's loss is what a run of the prefix predicts", "[heads]") {
    HeadsOptions o;
    o.prompt = "The cat sat on the mat. The cat sat on the";
    o.interventions = testing::ivs(testing::mid_model(), {{"kind", "zero_head_k"}, {"layer", 4}, {"head", 1}});
    const json got = heads_of(testing::mid_model(), o);
    const std::vector<int> tokens = got["tokens"];
    REQUIRE(got["token_loss"].size() == tokens.size() - 1);
    std::string prefix;
    for (size_t t = 0; t + 1 < tokens.size(); ++t) {
        prefix += got["token_strings"][t].get<std::string>();
        RunOptions r;
        r.prompt = prefix;
        r.interventions = o.interventions;
        const RunResult rr = run_model(testing::mid_model(), r);
        REQUIRE(rr.tokens == std::vector<int>(tokens.begin(), tokens.begin() + t + 1));
        double mx = -1e300, z = 0;
        for (float x : rr.logits) mx = std::max(mx, static_cast<double>(x));
        for (float x : rr.logits) z += std::exp(x - mx);
        const double want = mx + std::log(z) - rr.logits[tokens[t + 1]];
        INFO("position " << t);
        CHECK(std::abs(got["token_loss"][t].get<double>() - want) <= 1e-4 * std::max(1.0, want));
    }
    // --repeat R: 2R + 1 tokens, 2R predictions.
    HeadsOptions rep;
    rep.repeat = 20;
    rep.seed = 3;
    CHECK(heads_of(testing::mid_model(), rep)["token_loss"].size() == 40);
}

TEST_CASE("heads refuses bad input with a clear message", "[heads]") {
    HeadsOptions o;
    require_error(o, "exactly one");
    o.prompt = "Hello";
    o.repeat = 5;
    o.seed = 1;
    require_error(o, "exactly one");
    o.repeat.reset();
    require_error(o, "seed only goes with --repeat");
    o.seed.reset();
    o.prompt = "";
    require_error(o, "empty");
    o.prompt.reset();
    o.repeat = 5;
    require_error(o, "--repeat needs --seed");
    o.seed = 1;
    o.repeat = 0;
    require_error(o, "between 1 and 63");
    o.repeat = 64;  // 2*64+1 = 129 > 128 positions
    require_error(o, "between 1 and 63");
    o.repeat = 63;
    CHECK(heads_of(testing::mid_model(), o)["tokens"].size() == 127);
    // A block out of range: refused when parsed (json_io.h), as both CLIs parse it.
    CHECK_THROWS_WITH(testing::ivs(testing::mid_model(), {{{"kind", "zero_head_k"}, {"layer", 12}, {"head", 0}}}),
                      Catch::Matchers::Contains("layer 12 is out of range"));
    o.pattern_layer = 12;
    require_error(o, "pattern block 12 is out of range");
    o.pattern_layer = -1;
    require_error(o, "pattern block -1 is out of range");
    o.pattern_layer.reset();

    // A vocabulary without <|endoftext|>: --repeat cannot build its input.
    json vocab = json::parse(testing::read_file(testing::ckpt("mid") + "/vocab.json"));
    REQUIRE(vocab.contains("<|endoftext|>"));
    REQUIRE(vocab["<|endoftext|>"] == static_cast<int>(vocab.size()) - 1);  // the last id: the rest stay contiguous
    vocab.erase("<|endoftext|>");
    Model m = testing::mid_model();
    m.tokenizer = Tokenizer::from_files(vocab.dump(), testing::read_file(testing::ckpt("mid") + "/merges.txt"));
    HeadsOptions r;
    r.repeat = 5;
    r.seed = 1;
    require_error(r, "no <|endoftext|> token", m);
    r.repeat.reset();
    r.seed.reset();
    r.prompt = "Hello";
    CHECK(heads_of(m, r)["tokens"].size() >= 1);
}
