#pragma once
// Every conversion between the engine's typed values and JSON, in one place: the edges (the
// native CLI, the wasm binding and, through it, the JS API and the node CLI) read requests
// with it and write results with it; the core never sees JSON. The only public header that
// includes nlohmann.
//
// Output is what both CLIs print (schemas in docs/engine.md): objects are written with their
// keys sorted, non-finite numbers as null, token text as valid UTF-8 (dump_json).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hooklab/backward.h"
#include "hooklab/compare.h"
#include "hooklab/generate.h"
#include "hooklab/heads.h"
#include "hooklab/intervention.h"
#include "hooklab/patching.h"
#include "hooklab/run.h"

namespace hooklab {

// Dumps JSON as valid UTF-8 (token strings may hold partial UTF-8 bytes).
std::string dump_json(const nlohmann::json& j, int indent = -1);

// ---------------------------------------------------------------- strict keys (issue #28)
// Every JSON object the engine reads is checked against the keys it knows: an unknown key
// (a typo: "head" for "heads") is an Error, never silently ignored.

// Did you mean: the candidate that is `key` up to case, '_' and '-' ("max_new_tokens" for
// "maxNewTokens"), else the one fewest edits away (insert, delete, substitute, swap two
// neighbours) when that is at most 2 and fewer than key's length, on a tie the one sharing
// the longest start with key; "" when none is close.
// The JS API (wasm/js/hooklab.js, closestKey) and the node CLI follow the same rule.
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

// Throws Error for the first key of `obj` (an object) that is not in `allowed`:
// "<where>: unknown key "k" (did you mean "x"?); <what> takes a, b, c".
void check_keys(const nlohmann::json& obj, const std::vector<std::string>& allowed, const std::string& where,
                const std::string& what);

// ---------------------------------------------------------------- interventions

// The keys each intervention kind takes as input, and those the engine adds when it reports
// the intervention back ("interventions" of the run JSON) and accepts again, so that an applied
// intervention fed back in parses to itself. Empty for an unknown kind.
struct InterventionKeys {
    std::vector<std::string> input, echoed;
};
InterventionKeys intervention_keys(const std::string& kind);

// A selector: "all" | "even" | "odd" | {"range":[a,b]} | an index | [i, j, ...] (null: all).
Selector parse_selector(const nlohmann::json& j, const char* what);
nlohmann::json selector_json(const Selector& s);

// Tensors that interventions refer to by index ({"kind":"set", "value": {"tensor": k}}): the
// JS API sends a typed array's floats beside the JSON rather than inside it.
using InterventionTensors = std::vector<std::shared_ptr<const std::vector<float>>>;

// Parses one intervention object (the named shorthands or the general form) and checks
// everything that does not depend on the prompt: layer, head, features, finite numbers.
// A set's "value" is a number, an array of numbers (nested arrays are read row-major: a
// tensor, see Intervention::tensor) or {"tensor": k}, tensors[k].
Intervention parse_intervention(const nlohmann::json& j, const Config& cfg, const InterventionTensors* tensors = nullptr);
// Each of a list, in order.
std::vector<Intervention> parse_interventions(const std::vector<nlohmann::json>& items, const Config& c,
                                              const InterventionTensors* tensors = nullptr);
// The normalised form reported back ("as applied"): it parses again to the same intervention,
// except a tensor's, reported as {"tensor_size": n} (not its values).
nlohmann::json intervention_json(const Intervention& iv);
nlohmann::json interventions_json(const std::vector<Intervention>& ivs);

// ---------------------------------------------------------------- results

// The "model" block of the run JSON.
nlohmann::json config_json(const Config& c);
// The run JSON: exactly what both CLIs print.
nlohmann::json run_json(const Model& m, const RunResult& r, const RunOptions& opt);
// run_model then run_json.
nlohmann::json run(const Model& m, const RunOptions& opt);
// A comparison as the binding hands it to JS: {kl, top: [{id, token, pBase, pInt, delta}],
// lens?: [{layer, kl, topBase, topInt}]} (lens with `lens`).
nlohmann::json comparison_json(const Model& m, const Comparison& c, bool lens);

// The hook table for a prompt of T tokens: [{name, per_block, dims, shape, axes: {positions,
// heads, features}}] (-1: no such axis).
nlohmann::json hook_table_json(const Config& c, int T);

// hooklab patch: {"hook", "by", "clean_tokens", "corrupted_tokens", "clean_token_strings",
// "corrupted_token_strings", "answer_id", "wrong_id", "answer", "wrong", "clean_logit_diff",
// "corrupted_logit_diff", "n_layer", "interventions", "logit_diff", "normalized", "forwards",
// "ms"}, and for attribution patching "method": "attribution" and "backwards".
nlohmann::json patch_json(const Model& m, const PatchResult& r);
// A sweep's header (Patcher::header): the fields known before the sweep.
nlohmann::json patch_header_json(const Model& m, const PatchResult& r);

// hooklab attribute: {"tokens", "token_strings", "answer_id", "wrong_id", "answer", "wrong",
// "logit_diff", "components": [{"name", "value"}], "interventions"}.
nlohmann::json attribute_json(const Model& m, const AttributeResult& r);

// hooklab heads: {"tokens", "token_strings", "token_loss" ([T - 1], null where not finite),
// "induction", "previous_token", "first_token" (each [n_layer][n_head], null where undefined or
// not finite), "interventions"}, and with a pattern layer "pattern": {"layer", "shape": [H, T, T], "data"}.
nlohmann::json heads_json(const Model& m, const HeadsResult& r, bool with_pattern_data = true);

// One generated token: {"id", "token", "prob"}.
nlohmann::json generate_step_json(const Model& m, const GenerateStep& s);
// A group's step: per variant its step, or null when it had stopped.
nlohmann::json generate_steps_json(const Model& m, const std::vector<std::optional<GenerateStep>>& steps);
// hooklab generate: {"prompt_tokens", "new_tokens", "text", "steps", "stopped" (null while
// running), "ms", "tokens_per_s", "kv_cache", "interventions"}.
nlohmann::json generate_json(const Model& m, const GenerateResult& r);
// hooklab generate --compare: {"baseline": <generate JSON>, "intervened": <generate JSON>}.
nlohmann::json generate_compare_json(const Model& m, const GenerateComparison& r);

// {"tokens", "token_strings", "answer_id", "wrong_id", "answer", "wrong", "logit_diff",
//  "gradients": {"<hook>": {"shape", "gradient"}}, "input_x_gradient", "interventions", "forwards", "backwards"}
// (the gradients goldens' layout, tests/golden/<ckpt>__gradients.json)
nlohmann::json gradients_json(const Model& m, const GradientsResult& r);
// The CLIs' JSON (hooklab gradients, both CLIs): gradients_json's fields, each gradient as
// {"shape", "data"} (as run's captures), and "ms": the time `gradients` took. Without `with_data`
// each gradient is {"shape"} only (the wasm binding hands the values over as Float32Arrays).
nlohmann::json gradients_report(const Model& m, const GradientsResult& r, double ms, bool with_data = true);

}  // namespace hooklab
