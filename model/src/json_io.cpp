// The run JSON: a RunResult written out as both CLIs print it (schema in README).
#include <cmath>

#include "hooklab/run.h"

namespace hooklab {

using nlohmann::json;

namespace {

// JSON has no NaN/Inf: non-finite numbers become null (and the run names the hook
// where they first appeared).
json num(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

std::string token_text(const Model& m, int id) {
    return id < m.tokenizer.vocab_size() ? utf8_lossy(m.tokenizer.token_bytes(id)) : std::string();
}

}  // namespace

json config_json(const Config& c) {
    json j = {{"n_layer", c.n_layer}, {"n_head", c.n_head}, {"n_embd", c.n_embd}, {"n_positions", c.n_positions},
              {"vocab_size", c.vocab_size}, {"layer_norm_epsilon", c.layer_norm_epsilon},
              {"activation_function", c.activation_function}, {"d_head", c.d_head()}, {"d_mlp", c.d_mlp()}};
    if (!c.name.empty()) j["name"] = c.name;
    if (!c.hooklab_meta.empty()) j["hooklab"] = json::parse(c.hooklab_meta);
    return j;
}

std::string dump_json(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

json run_json(const Model& m, const RunResult& r, const RunOptions& opt) {
    json out;
    out["model"] = config_json(m.gpt2.config);
    out["prompt"] = r.prompt;
    out["tokens"] = r.tokens;
    json strs = json::array();
    for (int id : r.tokens) strs.push_back(token_text(m, id));
    out["token_strings"] = strs;
    out["hidden_std"] = json::array();
    for (double x : r.hidden_std) out["hidden_std"].push_back(num(x));
    out["resid_std"] = json::array();
    for (double x : r.resid_std) out["resid_std"].push_back(num(x));

    json st = json::object();
    for (int h = 0; h < kHookCount; ++h) {
        json e = {{"mean", json::array()}, {"std", json::array()}, {"min", json::array()}, {"max", json::array()}, {"norm", json::array()}};
        for (const Stat& s : r.stats[h]) {
            e["mean"].push_back(num(s.mean));
            e["std"].push_back(num(s.std));
            e["min"].push_back(num(s.min));
            e["max"].push_back(num(s.max));
            e["norm"].push_back(num(s.norm));
        }
        st[hook_short_name(static_cast<Hook>(h))] = std::move(e);
    }
    out["stats"] = std::move(st);

    json top = json::array();
    for (const TopToken& t : r.top)
        top.push_back({{"id", t.id}, {"token", token_text(m, t.id)}, {"logit", num(t.logit)}, {"prob", num(t.prob)}});
    out["top"] = std::move(top);
    if (opt.logits) {
        json l = json::array();
        for (float x : r.logits) l.push_back(num(x));
        out["logits_last"] = std::move(l);
    }
    if (!opt.capture.empty()) {
        json captured = json::object();
        for (const Capture& c : r.captures) {
            json data = json::array();
            for (float x : c.data) data.push_back(num(x));
            captured[c.name] = {{"shape", c.shape}, {"data", std::move(data)}};
        }
        out["captures"] = std::move(captured);
    }
    if (opt.logit_lens) {
        json lens = json::array();
        for (const LensLayer& l : r.lens) {
            json top_l = json::array();
            for (const TopToken& t : l.top) top_l.push_back({{"id", t.id}, {"token", token_text(m, t.id)}, {"prob", num(t.prob)}});
            lens.push_back({{"layer", l.layer}, {"top", std::move(top_l)}, {"kl", num(l.kl)}});
        }
        out["logit_lens"] = std::move(lens);
    }
    out["interventions"] = r.interventions;
    out["nonfinite"] = r.nonfinite.empty() ? json(nullptr) : json(r.nonfinite);
    return out;
}

}  // namespace hooklab
