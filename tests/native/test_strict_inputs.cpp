// Strict inputs (issue #28, item 1): an intervention key its kind does not take is an error
// that names the key, the kind, the closest valid key and the keys the kind takes, never
// silently ignored ({"kind":"zero","head":3} used to zero every head). What the engine reports
// back as applied parses again to itself, and every documented example still parses.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "helpers.h"
#include "hooklab/error.h"
#include "hooklab/json_io.h"

using nlohmann::json;
using namespace hooklab;
using Catch::Matchers::Contains;

namespace {

const Config& cfg() { return testing::mid_model().gpt2.config; }

std::string parse_error(const json& iv) {
    try {
        parse_intervention(iv, cfg());
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

json run_json(const std::vector<json>& ivs) {
    RunOptions o;
    o.prompt = "The quick brown fox doesn't jump over 12 lazy dogs.";
    o.interventions = testing::ivs(testing::mid_model(), json(ivs));
    o.topk = 5;
    return run(testing::mid_model(), o);
}

// One valid intervention of every kind, each with its selectors where the kind takes them.
const std::vector<json>& valid_examples() {
    static const std::vector<json> v = {
        json::parse(R"({"kind":"zero_head_k","layer":9,"head":2})"),
        json::parse(R"({"kind":"zero_head_k","layer":3,"head":0,"positions":[0,-1]})"),
        json::parse(R"({"kind":"noise_even_neurons","layer":9,"mean":10,"std":1,"seed":0})"),
        json::parse(R"({"kind":"noise_even_neurons","layer":1,"positions":"odd"})"),
        json::parse(R"({"kind":"scale_hidden","layer":9,"factor":0.1})"),
        json::parse(R"({"kind":"scale_hidden","layer":4,"factor":3,"positions":{"range":[1,4]},"features":"even"})"),
        json::parse(R"({"kind":"zero","hook":"blocks.3.attn.hook_z","heads":[3]})"),
        json::parse(R"({"kind":"zero","hook":"attn.hook_z","layer":3,"heads":"odd","positions":[-1]})"),
        json::parse(R"({"kind":"zero","hook":"blocks.3.attn.hook_z","layer":3})"),
        json::parse(R"({"kind":"scale","hook":"blocks.2.attn.hook_pattern","factor":0.5,"positions":"even","features":{"range":[0,2]}})"),
        json::parse(R"({"kind":"add","hook":"hook_embed","value":1,"positions":[-1]})"),
        json::parse(R"({"kind":"set","hook":"mlp.hook_post","layer":5,"value":0,"features":[0,1,2]})"),
        json::parse(R"({"kind":"noise","hook":"blocks.1.attn.hook_q","mean":0,"std":2,"seed":18446744073709551615,"heads":[0,11]})"),
        json::parse(R"({"kind":"noise","hook":"blocks.0.hook_resid_pre"})"),
    };
    return v;
}

// The `{"kind"...}` objects written in a markdown file that are JSON (the prose's templates,
// such as {"kind": "zero"|"scale"...}, are not).
std::vector<json> documented_interventions(const std::string& rel) {
    std::vector<json> out;
    if (!std::ifstream(testing::source(rel))) return out;  // docs move between files; the count below says enough were seen
    const std::string text = testing::read_file(testing::source(rel));
    for (size_t at = text.find("{\"kind\""); at != std::string::npos; at = text.find("{\"kind\"", at + 1)) {
        int depth = 0;
        size_t end = at;
        for (; end < text.size(); ++end) {
            if (text[end] == '{') ++depth;
            if (text[end] == '}' && --depth == 0) break;
            if (text[end] == '\n' && depth > 0 && text.compare(end, 2, "\n\n") == 0) break;
        }
        if (end >= text.size() || depth != 0) continue;
        const std::string candidate = text.substr(at, end - at + 1);
        if (json::accept(candidate)) out.push_back(json::parse(candidate));
    }
    return out;
}

}  // namespace

TEST_CASE("did you mean: case, '_' and '-' aside, else within two edits", "[strict]") {
    const std::vector<std::string> opts = {"interventions", "topk", "capture", "logits", "logitLens"};
    CHECK(closest_key("interventon", opts) == "interventions");
    CHECK(closest_key("intervention", opts) == "interventions");
    CHECK(closest_key("logit_lens", opts) == "logitLens");
    CHECK(closest_key("TopK", opts) == "topk");
    CHECK(closest_key("top_k", opts) == "topk");
    CHECK(closest_key("captrue", opts) == "capture");  // a swap is one edit
    CHECK(closest_key("head", {"kind", "hook", "layer", "positions", "heads", "features"}) == "heads");
    CHECK(closest_key("factr", {"kind", "layer", "factor"}) == "factor");
    CHECK(closest_key("bogus", opts).empty());
    CHECK(closest_key("x", {"by"}).empty());   // two edits are not a typo of a one-letter key
    CHECK(closest_key("", opts).empty());
    CHECK(closest_key(std::string(100, 'a'), opts).empty());
}

TEST_CASE("check_keys: an unknown key names itself, the suggestion and the keys taken", "[strict]") {
    const std::vector<std::string> keys = {"prompt", "topk", "logits", "capture", "logit_lens"};
    CHECK_NOTHROW(check_keys(json{{"prompt", "x"}, {"topk", 3}}, keys, "run", "run"));
    try {
        check_keys(json{{"prompt", "x"}, {"logitlens", true}}, keys, "run", "run");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()) ==
              "run: unknown key \"logitlens\" (did you mean \"logit_lens\"?); run takes prompt, topk, logits, capture, logit_lens");
    }
    // A key that is not printable stays one escaped line.
    try {
        check_keys(json{{"a\nb", 1}}, keys, "run", "run");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Contains("unknown key \"a\\nb\""));
    }
}

TEST_CASE("the issue's cases: a typo'd intervention key is an error, not every head zeroed", "[strict]") {
    const std::string e = parse_error(json::parse(R"({"kind":"zero","hook":"blocks.3.attn.hook_z","head":3})"));
    CHECK_THAT(e, Contains("unknown key \"head\""));
    CHECK_THAT(e, Contains("did you mean \"heads\"?"));
    CHECK_THAT(e, Contains("\"zero\""));
    CHECK_THAT(e, Contains("zero takes kind, hook, layer, positions, heads, features"));
    // And a run with it fails before any work, as every bad intervention does.
    CHECK_THROWS_WITH(run_json({json::parse(R"({"kind":"zero","hook":"blocks.3.attn.hook_z","head":3})")}),
                      Contains("did you mean \"heads\"?"));
}

TEST_CASE("each kind refuses a typo'd key with its suggestion and its keys", "[strict]") {
    struct Case {
        const char* json_text;
        const char* key;
        const char* suggestion;  // "" : none is close
        const char* takes;
    };
    const Case cases[] = {
        {R"({"kind":"zero_head_k","layer":9,"haed":2})", "haed", "head", "zero_head_k takes kind, layer, head, positions"},
        {R"({"kind":"zero_head_k","layer":9,"head":2,"heads":[2]})", "heads", "head", "zero_head_k takes kind, layer, head, positions"},
        {R"({"kind":"zero_head_k","layer":9,"head":2,"factor":0})", "factor", "", "zero_head_k takes kind, layer, head, positions"},
        {R"({"kind":"noise_even_neurons","layer":9,"sed":3})", "sed", "seed", "noise_even_neurons takes kind, layer, mean, std, seed, positions"},
        {R"({"kind":"noise_even_neurons","layer":9,"mena":3})", "mena", "mean", "noise_even_neurons takes kind, layer, mean, std, seed, positions"},
        {R"({"kind":"scale_hidden","layer":9,"factr":0.1})", "factr", "factor", "scale_hidden takes kind, layer, factor, positions, features"},
        {R"({"kind":"scale_hidden","layer":9,"factor":0.1,"Layers":9})", "Layers", "layer", "scale_hidden takes kind, layer, factor, positions, features"},
        {R"({"kind":"scale_hidden","layer":9,"factor":0.1,"seed":1})", "seed", "", "scale_hidden takes kind, layer, factor, positions, features"},
        {R"({"kind":"zero","hook":"blocks.3.attn.hook_z","position":[1]})", "position", "positions", "zero takes kind, hook, layer, positions, heads, features"},
        {R"({"kind":"zero","hook":"blocks.3.hook_resid_post","factor":2})", "factor", "", "zero takes kind, hook, layer, positions, heads, features"},
        {R"({"kind":"scale","hook":"blocks.3.hook_resid_post","facotr":2})", "facotr", "factor", "scale takes kind, hook, layer, factor, positions, heads, features"},
        {R"({"kind":"scale","hook":"blocks.3.hook_resid_post","factor":2,"feature":[1]})", "feature", "features", "scale takes kind, hook, layer, factor, positions, heads, features"},
        {R"({"kind":"add","hook":"hook_embed","valu":1})", "valu", "value", "add takes kind, hook, layer, value, positions, heads, features"},
        {R"({"kind":"set","hook":"hook_embed","value":1,"hooks":"x"})", "hooks", "hook", "set takes kind, hook, layer, value, positions, heads, features"},
        {R"({"kind":"noise","hook":"hook_embed","sd":2})", "sd", "std", "noise takes kind, hook, layer, mean, std, seed, positions, heads, features"},
        {R"({"kind":"noise","hook":"hook_embed","factor":2})", "factor", "", "noise takes kind, hook, layer, mean, std, seed, positions, heads, features"},
    };
    for (const Case& c : cases) {
        INFO(c.json_text);
        const std::string e = parse_error(json::parse(c.json_text));
        CHECK_THAT(e, Contains(std::string("unknown key \"") + c.key + "\""));
        CHECK_THAT(e, Contains(c.takes));
        if (*c.suggestion) CHECK_THAT(e, Contains(std::string("did you mean \"") + c.suggestion + "\"?"));
        else CHECK_THAT(e, !Contains("did you mean"));
    }
    // The exercises' report keys are named as such.
    CHECK_THAT(parse_error(json::parse(R"({"kind":"zero_head_k","layer":9,"head":2,"x":1})")),
               Contains("(and hook, features, as the engine reports it)"));
}

TEST_CASE("keys the exercises report back are accepted only with the values reported", "[strict]") {
    CHECK_THAT(parse_error(json::parse(R"({"kind":"zero_head_k","layer":9,"head":2,"features":"even"})")),
               Contains("zero_head_k fixes its own features"));
    CHECK_THAT(parse_error(json::parse(R"({"kind":"noise_even_neurons","layer":9,"features":"odd"})")),
               Contains("noise_even_neurons fixes its own features"));
    CHECK_THAT(parse_error(json::parse(R"({"kind":"scale_hidden","layer":9,"factor":2,"hook":"blocks.8.hook_resid_post"})")),
               Contains("acts on its own hook point, \"blocks.9.hook_resid_post\""));
    CHECK_THAT(parse_error(json::parse(R"({"kind":"zero_head_k","layer":9,"head":2,"hook":"blocks.9.attn.hook_z"})")),
               Contains("acts on its own hook point"));
    CHECK_THAT(parse_error(json::parse(R"({"kind":"noise_even_neurons","layer":9,"hook":7})")), Contains("acts on its own hook point"));
    // The general form's "layer" beside a full hook name must say the same block.
    CHECK_THAT(parse_error(json::parse(R"({"kind":"zero","hook":"blocks.3.attn.hook_z","layer":5})")),
               Contains("\"layer\" 5 disagrees with the hook \"blocks.3.attn.hook_z\""));
    // Unchanged: a head selector where the hook has no head axis, an unknown kind.
    CHECK_THAT(parse_error(json::parse(R"({"kind":"zero","hook":"blocks.3.mlp.hook_post","heads":[1]})")), Contains("no head axis"));
    CHECK_THAT(parse_error(json::parse(R"({"kind":"zero_heads","layer":1})")), Contains("unknown kind \"zero_heads\""));
}

TEST_CASE("an intervention as the engine reports it parses again to itself", "[strict]") {
    for (const json& iv : valid_examples()) {
        INFO(iv.dump());
        const Intervention a = parse_intervention(iv, cfg());
        const Intervention b = parse_intervention(intervention_json(a), cfg());
        CHECK(intervention_json(b) == intervention_json(a));
        CHECK(b == a);
        CHECK(b.op == a.op);
        CHECK(b.hook == a.hook);
        CHECK(b.layer == a.layer);
        CHECK(b.seed == a.seed);
        CHECK(selector_json(b.features) == selector_json(a.features));
        CHECK(selector_json(b.positions) == selector_json(a.positions));
        CHECK(selector_json(b.heads) == selector_json(a.heads));
    }
    // Through whole runs: the reported list fed back gives the same run and the same report.
    std::vector<json> ivs;
    for (const json& iv : valid_examples())
        if (iv["kind"] != "zero_head_k" || iv.size() == 3) ivs.push_back(iv);  // each once is enough
    const json first = run_json(ivs);
    const json again = run_json(first["interventions"].get<std::vector<json>>());
    CHECK(again["interventions"] == first["interventions"]);
    CHECK(again["stats"] == first["stats"]);
    CHECK(again["top"] == first["top"]);
}

TEST_CASE("every documented intervention still parses", "[strict]") {
    size_t n = 0;
    for (const char* doc : {"README.md", "docs/engine.md", "docs/lesson.md", "wasm/README.md"}) {
        for (const json& iv : documented_interventions(doc)) {
            INFO(doc << ": " << iv.dump());
            CHECK_NOTHROW(parse_intervention(iv, cfg()));
            ++n;
        }
    }
    CHECK(n >= 6);  // the three exercises as documented, the CLI examples, the lesson's
    for (const json& iv : valid_examples()) {
        INFO(iv.dump());
        CHECK_NOTHROW(parse_intervention(iv, cfg()));
    }
}
