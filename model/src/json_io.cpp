// Every conversion between the engine's typed values and JSON (json_io.h): requests in
// (interventions, strict keys), results out (run, comparison, hook table, patch, attribute,
// heads, generate, gradients).
#include "hooklab/json_io.h"

#include <algorithm>
#include <cmath>

#include "hooklab/error.h"

namespace hooklab {

using nlohmann::json;

namespace {

// JSON has no NaN/Inf: non-finite numbers become null (the run names the hook where they
// first appeared; a normalised patching value is undefined when clean == corrupted).
json num(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

// Ids past vocab.json (a config may declare a larger vocabulary) have no text.
std::string token_text(const Model& m, int id) {
    return id < m.tokenizer.vocab_size() ? utf8_lossy(m.tokenizer.token_bytes(id)) : std::string();
}

json token_strings(const Model& m, const std::vector<int>& ids) {
    json out = json::array();
    for (int id : ids) out.push_back(token_text(m, id));
    return out;
}

json floats_json(const float* x, size_t n) {
    json out = json::array();
    for (size_t i = 0; i < n; ++i) out.push_back(num(x[i]));
    return out;
}

// [rows][cols] of doubles, null where not finite.
json rows_json(const std::vector<std::vector<double>>& rows) {
    json out = json::array();
    for (const auto& row : rows) {
        json r = json::array();
        for (double x : row) r.push_back(num(x));
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace

std::string dump_json(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

// ---------------------------------------------------------------- selectors

// ---------------------------------------------------------------- selectors

Selector parse_selector(const json& j, const char* what) {
    Selector s;
    auto as_int = [&](const json& v) {
        if (!v.is_number_integer()) throw Error(std::string("intervention: ") + what + " indices must be integers, got " + v.dump());
        const int64_t x = v.get<int64_t>();
        if (x < -(1 << 30) || x > (1 << 30)) throw Error(std::string("intervention: ") + what + " index " + v.dump() + " is out of range");
        return static_cast<int>(x);
    };
    if (j.is_null() || (j.is_string() && j == "all")) return s;
    if (j.is_string() && j == "even") { s.kind = Selector::Even; return s; }
    if (j.is_string() && j == "odd") { s.kind = Selector::Odd; return s; }
    if (j.is_number_integer()) { s.kind = Selector::List; s.list = {as_int(j)}; return s; }
    if (j.is_array()) {
        s.kind = Selector::List;
        for (const auto& v : j) s.list.push_back(as_int(v));
        if (s.list.empty()) throw Error(std::string("intervention: ") + what + " list is empty");
        return s;
    }
    if (j.is_object() && j.contains("range") && j["range"].is_array() && j["range"].size() == 2) {
        s.kind = Selector::Range;
        s.begin = as_int(j["range"][0]);
        s.end = as_int(j["range"][1]);
        return s;
    }
    throw Error(std::string("intervention: ") + what + " must be \"all\", \"even\", \"odd\", {\"range\":[a,b]} or a list of indices, got " + j.dump());
}

json selector_json(const Selector& s) {
    switch (s.kind) {
        case Selector::All: return "all";
        case Selector::Even: return "even";
        case Selector::Odd: return "odd";
        case Selector::Range: return json{{"range", {s.begin, s.end}}};
        case Selector::List: return s.list;
    }
    return nullptr;
}

// ---------------------------------------------------------------- strict keys

namespace {

std::string lower(const std::string& s) {
    std::string o = s;
    for (char& ch : o)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return o;
}

// Lower case without '_' and '-': "max_new_tokens", "MaxNewTokens" and "maxNewTokens" agree.
std::string folded(const std::string& s) {
    std::string o;
    for (char ch : lower(s))
        if (ch != '_' && ch != '-') o += ch;
    return o;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters ("facotr") each count one.
size_t typo_distance(const std::string& a, const std::string& b) {
    const size_t n = a.size(), m = b.size();
    std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
    for (size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (size_t i = 1; i <= n; ++i)
        for (size_t j = 1; j <= m; ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[n][m];
}

// A key as JSON text: quoted and escaped, so the message stays one printable line.
std::string json_text(const std::string& key) { return json(key).dump(-1, ' ', false, json::error_handler_t::replace); }

std::string joined(const std::vector<std::string>& keys) {
    std::string o;
    for (const std::string& k : keys) o += (o.empty() ? "" : ", ") + k;
    return o;
}

}  // namespace

std::string closest_key(const std::string& key, const std::vector<std::string>& candidates) {
    // Keys longer than any option are no typo of one (and the distance is quadratic).
    if (key.size() > 64) return "";
    const std::string f = folded(key);
    if (!f.empty())
        for (const std::string& c : candidates)
            if (folded(c) == f) return c;
    // The fewest edits; on a tie the longer common start ("sed": "seed", not "std").
    std::string best;
    size_t best_d = 3, best_p = 0;  // at most 2 edits
    for (const std::string& c : candidates) {
        const std::string a = lower(key), b = lower(c);
        const size_t d = typo_distance(a, b);
        size_t p = 0;
        while (p < a.size() && p < b.size() && a[p] == b[p]) ++p;
        if (d < key.size() && (d < best_d || (d == best_d && p > best_p))) { best_d = d; best_p = p; best = c; }
    }
    return best;
}

void check_keys(const json& obj, const std::vector<std::string>& allowed, const std::string& where, const std::string& what) {
    if (!obj.is_object()) return;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
        std::string msg = where + ": unknown key " + json_text(it.key());
        const std::string s = closest_key(it.key(), allowed);
        if (!s.empty()) msg += " (did you mean " + json_text(s) + "?)";
        throw Error(msg + "; " + what + " takes " + joined(allowed));
    }
}

InterventionKeys intervention_keys(const std::string& kind) {
    // Input keys, then the keys the engine's report ("as applied") adds for that kind: the
    // exercises' fixed hook point (and fixed features for the first two). The general kinds
    // report nothing their input does not take ("layer" is folded into "hook").
    if (kind == "zero_head_k") return {{"kind", "layer", "head", "positions"}, {"hook", "features"}};
    if (kind == "noise_even_neurons") return {{"kind", "layer", "mean", "std", "seed", "positions"}, {"hook", "features"}};
    if (kind == "scale_hidden") return {{"kind", "layer", "factor", "positions", "features"}, {"hook"}};
    std::vector<std::string> keys = {"kind", "hook", "layer"};
    if (kind == "scale") keys.push_back("factor");
    else if (kind == "add" || kind == "set") keys.push_back("value");
    else if (kind == "noise") keys.insert(keys.end(), {"mean", "std", "seed"});
    else if (kind != "zero") return {};
    keys.insert(keys.end(), {"positions", "heads", "features"});
    return {keys, {}};
}

// ---------------------------------------------------------------- parsing

namespace {

double number(const json& j, const char* key, double dflt, bool required = false) {
    if (!j.contains(key)) {
        if (required) throw Error(std::string("intervention: \"") + key + "\" is required");
        return dflt;
    }
    const json& v = j[key];
    if (!v.is_number()) throw Error(std::string("intervention: \"") + key + "\" must be a finite number, got " + v.dump());
    const double x = v.get<double>();
    if (!std::isfinite(x)) throw Error(std::string("intervention: \"") + key + "\" must be finite");
    return x;
}

int integer(const json& j, const char* key) {
    if (!j.contains(key)) throw Error(std::string("intervention: \"") + key + "\" is required");
    if (!j[key].is_number_integer()) throw Error(std::string("intervention: \"") + key + "\" must be an integer, got " + j[key].dump());
    const int64_t x = j[key].get<int64_t>();
    if (x < -(1 << 30) || x > (1 << 30)) throw Error(std::string("intervention: \"") + key + "\" is out of range");
    return static_cast<int>(x);
}

void check_layer(int layer, const Config& c) {
    if (layer < 0 || layer >= c.n_layer)
        throw Error("intervention: layer " + std::to_string(layer) + " is out of range: this model has blocks 0.." +
                    std::to_string(c.n_layer - 1));
}

}  // namespace

std::vector<Intervention> parse_interventions(const std::vector<json>& items, const Config& c, const InterventionTensors* tensors) {
    std::vector<Intervention> ivs;
    for (const json& j : items) ivs.push_back(parse_intervention(j, c, tensors));
    return ivs;
}

namespace {

// Nested arrays of finite numbers, flattened row-major (each level's arrays of one length).
void flatten_values(const json& v, std::vector<float>& out) {
    for (const json& x : v) {
        if (x.is_array()) {
            flatten_values(x, out);
        } else if (x.is_number() && std::isfinite(x.get<double>())) {
            out.push_back(static_cast<float>(x.get<double>()));
        } else {
            throw Error("intervention set: a tensor \"value\" holds finite numbers only, got " + x.dump());
        }
    }
}

// A set's "value" when not a number: the tensor it gives.
std::shared_ptr<const std::vector<float>> set_tensor(const json& v, const InterventionTensors* tensors) {
    if (v.is_array()) {
        auto t = std::make_shared<std::vector<float>>();
        flatten_values(v, *t);
        if (t->empty()) throw Error("intervention set: the tensor \"value\" is empty");
        return t;
    }
    if (v.is_object() && v.size() == 1 && v.contains("tensor") && v["tensor"].is_number_integer()) {
        const int64_t k = v["tensor"].get<int64_t>();
        if (!tensors || k < 0 || k >= static_cast<int64_t>(tensors->size()) || !(*tensors)[k])
            throw Error("intervention set: \"value\": {\"tensor\": " + std::to_string(k) +
                        "} names no tensor given with the call (in JSON, give the numbers as an array)");
        return (*tensors)[k];
    }
    if (v.is_object() && v.contains("tensor_size"))
        throw Error("intervention set: {\"tensor_size\": n} is how a report describes a tensor; give its values");
    throw Error("intervention: \"value\" must be a finite number, or for set a tensor (an array of numbers), got " + v.dump());
}

}  // namespace

Intervention parse_intervention(const json& j, const Config& c, const InterventionTensors* tensors) {
    if (!j.is_object()) throw Error("intervention must be a JSON object, got " + j.dump());
    if (!j.contains("kind") || !j["kind"].is_string()) throw Error("intervention: \"kind\" (a string) is required");
    const std::string kind = j["kind"].get<std::string>();
    const InterventionKeys keys = intervention_keys(kind);
    if (keys.input.empty())
        throw Error("intervention: unknown kind " + json_text(kind) +
                    " (zero_head_k, noise_even_neurons, scale_hidden, zero, scale, add, set, noise)");
    // Strict keys (issue #28): a key the kind does not read is a typo, never ignored
    // ({"kind":"zero","head":3} would otherwise zero every head).
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const auto in = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), k) != v.end(); };
        if (in(keys.input) || in(keys.echoed)) continue;
        std::vector<std::string> all = keys.input;
        all.insert(all.end(), keys.echoed.begin(), keys.echoed.end());
        std::string msg = "intervention " + json_text(kind) + ": unknown key " + json_text(k);
        const std::string s = closest_key(k, all);
        if (!s.empty()) msg += " (did you mean " + json_text(s) + "?)";
        msg += "; " + kind + " takes " + joined(keys.input);
        if (!keys.echoed.empty()) msg += " (and " + joined(keys.echoed) + ", as the engine reports it)";
        throw Error(msg);
    }
    Intervention iv;

    if (kind == "zero_head_k") {
        // Exercise 1: zero head H's Key inside the fused QKV, exactly the chapter's slice.
        iv.layer = integer(j, "layer");
        check_layer(iv.layer, c);
        const int head = integer(j, "head");
        if (head < 0 || head >= c.n_head)
            throw Error("intervention: head " + std::to_string(head) + " is out of range (the model has heads 0.." +
                        std::to_string(c.n_head - 1) + ")");
        iv.form = Intervention::ZeroHeadK;
        iv.head = head;
        iv.op = Intervention::Zero;
        iv.hook = Hook::Qkv;
        iv.features.kind = Selector::Range;
        iv.features.begin = c.n_embd + head * c.d_head();
        iv.features.end = c.n_embd + (head + 1) * c.d_head();
    } else if (kind == "noise_even_neurons") {
        // Exercise 2: even post-GELU neurons replaced by N(mean, std).
        iv.layer = integer(j, "layer");
        check_layer(iv.layer, c);
        iv.form = Intervention::NoiseEvenNeurons;
        iv.op = Intervention::Noise;
        iv.hook = Hook::MlpPost;
        iv.features.kind = Selector::Even;
        iv.mean = number(j, "mean", 10.0);
        iv.std = number(j, "std", 1.0);
    } else if (kind == "scale_hidden") {
        // Exercises 3 and 4: the block's output (HF output[0]) times a factor.
        iv.layer = integer(j, "layer");
        check_layer(iv.layer, c);
        iv.form = Intervention::ScaleHidden;
        iv.op = Intervention::Scale;
        iv.hook = Hook::ResidPost;
        iv.factor = number(j, "factor", 1.0, true);
    } else if (kind == "zero" || kind == "scale" || kind == "add" || kind == "set" || kind == "noise") {
        if (!j.contains("hook") || !j["hook"].is_string()) throw Error("intervention: \"hook\" (a hook point name) is required");
        std::string name = j["hook"].get<std::string>();
        const bool full = name.rfind("blocks.", 0) == 0;
        if (j.contains("layer") && !full) name = "blocks." + std::to_string(integer(j, "layer")) + "." + name;
        try {
            parse_hook_name(name, c, iv.hook, iv.layer);
        } catch (const Error& e) {
            throw Error(std::string("intervention: ") + e.what());
        }
        // "layer" beside a full name: it must say the same block (it used to be ignored).
        if (j.contains("layer") && full && integer(j, "layer") != iv.layer)
            throw Error("intervention: \"layer\" " + j["layer"].dump() + " disagrees with the hook " + json_text(name) +
                        " (block " + std::to_string(iv.layer) + "); give the block once");
        iv.op = kind == "zero" ? Intervention::Zero : kind == "scale" ? Intervention::Scale
              : kind == "add" ? Intervention::Add : kind == "set" ? Intervention::Set : Intervention::Noise;
        if (iv.op == Intervention::Scale) iv.factor = number(j, "factor", 1.0, true);
        if (iv.op == Intervention::Set && j.contains("value") && !j["value"].is_number()) iv.tensor = set_tensor(j["value"], tensors);
        else if (iv.op == Intervention::Add || iv.op == Intervention::Set) iv.value = number(j, "value", 0.0, true);
        if (iv.op == Intervention::Noise) { iv.mean = number(j, "mean", 0.0); iv.std = number(j, "std", 1.0); }
    }
    if (iv.op == Intervention::Noise) {
        if (iv.std < 0) throw Error("intervention: \"std\" must be >= 0");
        if (j.contains("seed")) {
            if (!j["seed"].is_number_integer() || (!j["seed"].is_number_unsigned() && j["seed"].get<int64_t>() < 0))
                throw Error("intervention: \"seed\" must be a non-negative integer");
            iv.seed = j["seed"].get<uint64_t>();
        }
    }

    const HookInfo& info = hook_info(iv.hook);
    if (j.contains("positions")) iv.positions = parse_selector(j["positions"], "positions");
    if (j.contains("heads")) {
        if (info.head_axis < 0) throw Error("intervention: hook " + hook_full_name(iv.hook, iv.layer) + " has no head axis");
        iv.heads = parse_selector(j["heads"], "heads");
        iv.heads.validate(c.n_head, "heads");
    }
    if (j.contains("features")) {
        const Selector given = parse_selector(j["features"], "features");
        // The first two exercises fix their features; their report names them, and that report
        // parses again (a round trip), so exactly those features are accepted.
        if ((kind == "zero_head_k" || kind == "noise_even_neurons") && given != iv.features)
            throw Error("intervention: " + kind + " fixes its own features (" + selector_json(iv.features).dump() + " at layer " +
                        std::to_string(iv.layer) + "), got " + j["features"].dump() +
                        "; for other features use the general form, e.g. {\"kind\":\"" +
                        (kind == "zero_head_k" ? "zero\",\"hook\":\"blocks." + std::to_string(iv.layer) + ".attn.hook_qkv\""
                                               : "noise\",\"hook\":\"blocks." + std::to_string(iv.layer) + ".mlp.hook_post\"") +
                        ",\"features\":...}");
        iv.features = given;
    }
    // The exercises' own hook point, reported back as "hook": accepted again only as it is.
    if (j.contains("hook") && (kind == "zero_head_k" || kind == "noise_even_neurons" || kind == "scale_hidden")) {
        const std::string own = hook_full_name(iv.hook, iv.layer);
        if (!j["hook"].is_string() || j["hook"].get<std::string>() != own)
            throw Error("intervention: " + kind + " acts on its own hook point, \"" + own + "\" at layer " + std::to_string(iv.layer) +
                        ", got \"hook\": " + j["hook"].dump() + "; leave \"hook\" out, or use the general form " +
                        "{\"kind\":\"zero\"|\"scale\"|\"add\"|\"set\"|\"noise\",\"hook\":...}");
    }
    // Features of attention patterns are key positions: checked once the prompt is known.
    if (info.dims[info.feat_axis] != Dim::Key) iv.features.validate(hook_feature_count(iv.hook, c, 0), "features");
    return iv;
}

json intervention_json(const Intervention& iv) {
    json applied = {{"kind", intervention_kind(iv)}};
    // The shorthands report their block (and zero_head_k its head); the general form names
    // it in "hook" alone.
    if (iv.form != Intervention::General) applied["layer"] = iv.layer;
    if (iv.form == Intervention::ZeroHeadK) applied["head"] = iv.head;
    if (iv.op == Intervention::Scale) applied["factor"] = iv.factor;
    if (iv.tensor) applied["value"] = {{"tensor_size", iv.tensor->size()}};
    else if (iv.op == Intervention::Add || iv.op == Intervention::Set) applied["value"] = iv.value;
    if (iv.op == Intervention::Noise) {
        applied["mean"] = iv.mean;
        applied["std"] = iv.std;
        applied["seed"] = iv.seed;
    }
    applied["hook"] = hook_full_name(iv.hook, iv.layer);
    applied["positions"] = selector_json(iv.positions);
    if (hook_info(iv.hook).head_axis >= 0) applied["heads"] = selector_json(iv.heads);
    applied["features"] = selector_json(iv.features);
    return applied;
}

json interventions_json(const std::vector<Intervention>& ivs) {
    json out = json::array();
    for (const Intervention& iv : ivs) out.push_back(intervention_json(iv));
    return out;
}

// ---------------------------------------------------------------- run

json config_json(const Config& c) {
    json j = {{"n_layer", c.n_layer}, {"n_head", c.n_head}, {"n_embd", c.n_embd}, {"n_positions", c.n_positions},
              {"vocab_size", c.vocab_size}, {"layer_norm_epsilon", c.layer_norm_epsilon},
              {"activation_function", c.activation_function}, {"d_head", c.d_head()}, {"d_mlp", c.d_mlp()}};
    if (!c.name.empty()) j["name"] = c.name;
    if (!c.hooklab_meta.empty()) j["hooklab"] = json::parse(c.hooklab_meta);
    // TransformerLens's weight processing, when the model was loaded with it (processing.h).
    if (c.processing.any())
        j["processing"] = {{"fold_ln", c.processing.fold_ln},
                           {"center_writing_weights", c.processing.center_writing_weights},
                           {"center_unembed", c.processing.center_unembed},
                           {"fold_value_biases", c.processing.fold_value_biases}};
    return j;
}

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
    if (opt.all_logits) {
        json loss = json::array();
        for (double x : r.token_loss) loss.push_back(num(x));
        out["token_loss"] = std::move(loss);
        if (opt.logits) {
            // [T][V]: long (the CLI's --logits all); the JS API sends it as one Float32Array.
            json rows = json::array();
            const size_t V = r.logits.size();
            for (size_t t = 0; V && t < r.all_logits.size() / V; ++t) {
                json row = json::array();
                for (size_t v = 0; v < V; ++v) row.push_back(num(r.all_logits[t * V + v]));
                rows.push_back(std::move(row));
            }
            out["logits_all"] = std::move(rows);
        }
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
    out["interventions"] = interventions_json(r.interventions);
    out["nonfinite"] = r.nonfinite.empty() ? json(nullptr) : json(r.nonfinite);
    return out;
}


json run(const Model& m, const RunOptions& opt) { return run_json(m, run_model(m, opt), opt); }

json comparison_json(const Model& m, const Comparison& c, bool lens) {
    json top = json::array();
    for (const auto& t : c.top) {
        const bool both = std::isfinite(t.p_base) && std::isfinite(t.p_int);
        top.push_back({{"id", t.id}, {"token", token_text(m, t.id)}, {"pBase", num(t.p_base)}, {"pInt", num(t.p_int)},
                       {"delta", both ? json(t.p_int - t.p_base) : json(nullptr)}});
    }
    json j = {{"kl", num(c.kl)}, {"top", std::move(top)}};
    if (lens) {
        json rows = json::array();
        auto top1 = [&](const TopToken& t) { return json{{"id", t.id}, {"token", token_text(m, t.id)}, {"prob", num(t.prob)}}; };
        for (const auto& l : c.lens) rows.push_back({{"layer", l.layer}, {"kl", num(l.kl)}, {"topBase", top1(l.top_base)}, {"topInt", top1(l.top_int)}});
        j["lens"] = std::move(rows);
    }
    return j;
}

json hook_table_json(const Config& c, int T) {
    json out = json::array();
    for (int h = 0; h < kHookCount; ++h) {
        const HookInfo& i = hook_info(static_cast<Hook>(h));
        json dims = json::array();
        for (Dim d : i.dims) dims.push_back(dim_name(d));
        out.push_back({{"name", i.per_block ? std::string("blocks.{i}.") + i.name : std::string(i.name)},
                       {"per_block", i.per_block}, {"dims", dims}, {"shape", hook_shape(i.hook, c, T)},
                       {"axes", {{"positions", i.pos_axis}, {"heads", i.head_axis}, {"features", i.feat_axis}}}});
    }
    return out;
}

// ---------------------------------------------------------------- patch, attribute

json patch_header_json(const Model& m, const PatchResult& r) {
    json out = {{"hook", r.hook}, {"by", r.by},
                {"clean_tokens", r.clean_tokens}, {"corrupted_tokens", r.corrupted_tokens},
                {"clean_token_strings", token_strings(m, r.clean_tokens)},
                {"corrupted_token_strings", token_strings(m, r.corrupted_tokens)},
                {"answer_id", r.answer_id}, {"answer", token_text(m, r.answer_id)},
                {"n_layer", r.n_layer}, {"interventions", interventions_json(r.interventions)}};
    if (r.wrong_id >= 0) {
        out["wrong_id"] = r.wrong_id;
        out["wrong"] = token_text(m, r.wrong_id);
    }
    // The default metric's keys as they always were; another metric's carry its name.
    if (r.metric != "logit_diff") out["metric"] = r.metric;
    out["clean_" + r.metric] = num(r.clean_logit_diff);
    out["corrupted_" + r.metric] = num(r.corrupted_logit_diff);
    return out;
}

json patch_json(const Model& m, const PatchResult& r) {
    json out = patch_header_json(m, r);
    out[r.metric] = rows_json(r.logit_diff);
    out["normalized"] = rows_json(r.normalized);
    if (r.method == "attribution") {
        // Whole passes run: counts.
        out["method"] = r.method;
        out["forwards"] = static_cast<int>(r.forwards);
        out["backwards"] = r.backwards;
    } else {
        out["forwards"] = r.forwards;  // the work, in whole forwards
    }
    out["ms"] = r.ms;
    return out;
}

json attribute_json(const Model& m, const AttributeResult& r) {
    json comps = json::array();
    for (const Component& c : r.components) comps.push_back({{"name", c.name}, {"value", num(c.value)}});
    return {{"tokens", r.tokens}, {"token_strings", token_strings(m, r.tokens)},
            {"answer_id", r.answer_id}, {"wrong_id", r.wrong_id},
            {"answer", token_text(m, r.answer_id)}, {"wrong", token_text(m, r.wrong_id)},
            {"logit_diff", num(r.logit_diff)}, {"components", std::move(comps)},
            {"interventions", interventions_json(r.interventions)}};
}

// ---------------------------------------------------------------- heads

namespace {

json num_or_null(const std::optional<double>& x) { return x && std::isfinite(*x) ? json(*x) : json(nullptr); }

}  // namespace

json heads_json(const Model& m, const HeadsResult& r, bool with_pattern_data) {
    json out;
    out["tokens"] = r.tokens;
    json loss = json::array();
    for (double x : r.token_loss) loss.push_back(num(x));
    out["token_loss"] = std::move(loss);
    out["token_strings"] = token_strings(m, r.tokens);
    json ind = json::array(), prev = json::array(), first = json::array();
    for (const auto& layer : r.scores) {
        json a = json::array(), b = json::array(), f = json::array();
        for (const HeadScore& s : layer) {
            a.push_back(num_or_null(s.induction));
            b.push_back(num_or_null(s.previous_token));
            f.push_back(num_or_null(s.first_token));
        }
        ind.push_back(std::move(a));
        prev.push_back(std::move(b));
        first.push_back(std::move(f));
    }
    out["induction"] = std::move(ind);
    out["previous_token"] = std::move(prev);
    out["first_token"] = std::move(first);
    out["interventions"] = interventions_json(r.interventions);
    if (r.pattern_layer) {
        out["pattern"] = {{"layer", *r.pattern_layer}, {"shape", r.pattern_shape}};
        if (with_pattern_data) out["pattern"]["data"] = floats_json(r.pattern.data(), r.pattern.size());
    }
    return out;
}

// ---------------------------------------------------------------- generate

json generate_step_json(const Model& m, const GenerateStep& s) {
    return {{"id", s.id}, {"token", token_text(m, s.id)}, {"prob", s.prob}};
}

json generate_steps_json(const Model& m, const std::vector<std::optional<GenerateStep>>& steps) {
    json out = json::array();
    for (const auto& s : steps) out.push_back(s ? generate_step_json(m, *s) : json(nullptr));
    return out;
}

json generate_json(const Model& m, const GenerateResult& r) {
    json steps = json::array();
    for (const GenerateStep& s : r.steps) steps.push_back(generate_step_json(m, s));
    return {{"prompt_tokens", r.prompt_tokens},
            {"new_tokens", r.new_tokens},
            {"text", r.text},
            {"steps", std::move(steps)},
            {"stopped", r.stopped.empty() ? json(nullptr) : json(r.stopped)},
            {"ms", r.ms},
            {"tokens_per_s", r.tokens_per_s},
            {"kv_cache", r.kv_cache},
            {"interventions", interventions_json(r.interventions)}};
}

json generate_compare_json(const Model& m, const GenerateComparison& r) {
    return {{"baseline", generate_json(m, r.baseline)}, {"intervened", generate_json(m, r.intervened)}};
}

// ---------------------------------------------------------------- gradients

namespace {

// gradients_json's fields around the gradients object `grads`.
json gradients_object(const Model& m, const GradientsResult& r, json grads) {
    json ixg = json::array();
    for (double x : r.input_x_gradient) ixg.push_back(num(x));
    return {{"tokens", r.tokens}, {"token_strings", token_strings(m, r.tokens)},
            {"answer_id", r.answer_id}, {"wrong_id", r.wrong_id},
            {"answer", token_text(m, r.answer_id)}, {"wrong", token_text(m, r.wrong_id)},
            {"logit_diff", num(r.logit_diff)}, {"gradients", std::move(grads)}, {"input_x_gradient", std::move(ixg)},
            {"interventions", interventions_json(r.interventions)}, {"forwards", 1}, {"backwards", 1}};
}

}  // namespace

json gradients_json(const Model& m, const GradientsResult& r) {
    json grads = json::object();
    for (const HookGradient& hg : r.gradients)
        grads[hg.name] = {{"shape", hg.shape}, {"gradient", floats_json(hg.data.data(), hg.data.size())}};
    return gradients_object(m, r, std::move(grads));
}

json gradients_report(const Model& m, const GradientsResult& r, double ms, bool with_data) {
    json grads = json::object();
    for (const HookGradient& hg : r.gradients) {
        json e = {{"shape", hg.shape}};
        if (with_data) e["data"] = floats_json(hg.data.data(), hg.data.size());
        grads[hg.name] = std::move(e);
    }
    json out = gradients_object(m, r, std::move(grads));
    out["ms"] = ms;
    return out;
}

}  // namespace hooklab
