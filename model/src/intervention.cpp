#include "hooklab/intervention.h"

#include <algorithm>
#include <cmath>

#include "hooklab/error.h"
#include "hooklab/rng.h"

namespace hooklab {

using nlohmann::json;

// ---------------------------------------------------------------- selectors

Selector Selector::parse(const json& j, const char* what) {
    Selector s;
    auto as_int = [&](const json& v) {
        if (!v.is_number_integer()) throw Error(std::string("intervention: ") + what + " indices must be integers, got " + v.dump());
        const int64_t x = v.get<int64_t>();
        if (x < -(1 << 30) || x > (1 << 30)) throw Error(std::string("intervention: ") + what + " index " + v.dump() + " is out of range");
        return static_cast<int>(x);
    };
    if (j.is_null() || (j.is_string() && j == "all")) return s;
    if (j.is_string() && j == "even") { s.kind = Even; return s; }
    if (j.is_string() && j == "odd") { s.kind = Odd; return s; }
    if (j.is_number_integer()) { s.kind = List; s.list = {as_int(j)}; return s; }
    if (j.is_array()) {
        s.kind = List;
        for (const auto& v : j) s.list.push_back(as_int(v));
        if (s.list.empty()) throw Error(std::string("intervention: ") + what + " list is empty");
        return s;
    }
    if (j.is_object() && j.contains("range") && j["range"].is_array() && j["range"].size() == 2) {
        s.kind = Range;
        s.begin = as_int(j["range"][0]);
        s.end = as_int(j["range"][1]);
        return s;
    }
    throw Error(std::string("intervention: ") + what + " must be \"all\", \"even\", \"odd\", {\"range\":[a,b]} or a list of indices, got " + j.dump());
}

void Selector::validate(int n, const char* what) const {
    auto bad = [&](const std::string& detail) {
        throw Error(std::string("intervention: ") + what + " " + detail + " is out of range (valid: 0.." + std::to_string(n - 1) + ")");
    };
    if (kind == Range && (begin < 0 || end > n || begin >= end))
        bad("range [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
    if (kind == List)
        for (int i : list)
            if (i < -n || i >= n) bad(std::to_string(i));
}

std::vector<char> Selector::mask(int n) const {
    std::vector<char> m(n, kind == All);
    if (kind == Even || kind == Odd)
        for (int i = kind == Even ? 0 : 1; i < n; i += 2) m[i] = 1;
    // Indices past n are left out: generation validates against the final length and
    // masks each shorter pass (an index beyond the sequence so far selects nothing yet).
    if (kind == Range)
        for (int i = begin; i < std::min(end, n); ++i) m[i] = 1;
    if (kind == List)
        for (int i : list)
            if (i >= -n && i < n) m[i < 0 ? i + n : i] = 1;
    return m;
}

json Selector::to_json() const {
    switch (kind) {
        case All: return "all";
        case Even: return "even";
        case Odd: return "odd";
        case Range: return json{{"range", {begin, end}}};
        case List: return list;
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

std::vector<Intervention> parse_interventions(const std::vector<json>& items, const Config& c) {
    std::vector<Intervention> ivs;
    for (const json& j : items) ivs.push_back(parse_intervention(j, c));
    return ivs;
}

Intervention parse_intervention(const json& j, const Config& c) {
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
    json applied = {{"kind", kind}};

    if (kind == "zero_head_k") {
        // Exercise 1: zero head H's Key inside the fused QKV, exactly the chapter's slice.
        iv.layer = integer(j, "layer");
        check_layer(iv.layer, c);
        const int head = integer(j, "head");
        if (head < 0 || head >= c.n_head)
            throw Error("intervention: head " + std::to_string(head) + " is out of range (the model has heads 0.." +
                        std::to_string(c.n_head - 1) + ")");
        iv.op = Intervention::Zero;
        iv.hook = Hook::Qkv;
        iv.features.kind = Selector::Range;
        iv.features.begin = c.n_embd + head * c.d_head();
        iv.features.end = c.n_embd + (head + 1) * c.d_head();
        applied["layer"] = iv.layer;
        applied["head"] = head;
    } else if (kind == "noise_even_neurons") {
        // Exercise 2: even post-GELU neurons replaced by N(mean, std).
        iv.layer = integer(j, "layer");
        check_layer(iv.layer, c);
        iv.op = Intervention::Noise;
        iv.hook = Hook::MlpPost;
        iv.features.kind = Selector::Even;
        iv.mean = number(j, "mean", 10.0);
        iv.std = number(j, "std", 1.0);
        applied["layer"] = iv.layer;
        applied["mean"] = iv.mean;
        applied["std"] = iv.std;
    } else if (kind == "scale_hidden") {
        // Exercises 3 and 4: the block's output (HF output[0]) times a factor.
        iv.layer = integer(j, "layer");
        check_layer(iv.layer, c);
        iv.op = Intervention::Scale;
        iv.hook = Hook::ResidPost;
        iv.factor = number(j, "factor", 1.0, true);
        applied["layer"] = iv.layer;
        applied["factor"] = iv.factor;
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
        if (iv.op == Intervention::Add || iv.op == Intervention::Set) iv.value = number(j, "value", 0.0, true);
        if (iv.op == Intervention::Noise) { iv.mean = number(j, "mean", 0.0); iv.std = number(j, "std", 1.0); }
        applied["hook"] = name;
        if (iv.op == Intervention::Scale) applied["factor"] = iv.factor;
        if (iv.op == Intervention::Add || iv.op == Intervention::Set) applied["value"] = iv.value;
        if (iv.op == Intervention::Noise) { applied["mean"] = iv.mean; applied["std"] = iv.std; }
    }
    if (iv.op == Intervention::Noise) {
        if (iv.std < 0) throw Error("intervention: \"std\" must be >= 0");
        if (j.contains("seed")) {
            if (!j["seed"].is_number_integer() || (!j["seed"].is_number_unsigned() && j["seed"].get<int64_t>() < 0))
                throw Error("intervention: \"seed\" must be a non-negative integer");
            iv.seed = j["seed"].get<uint64_t>();
        }
        applied["seed"] = iv.seed;
    }

    const HookInfo& info = hook_info(iv.hook);
    if (j.contains("positions")) iv.positions = Selector::parse(j["positions"], "positions");
    if (j.contains("heads")) {
        if (info.head_axis < 0) throw Error("intervention: hook " + hook_full_name(iv.hook, iv.layer) + " has no head axis");
        iv.heads = Selector::parse(j["heads"], "heads");
        iv.heads.validate(c.n_head, "heads");
    }
    if (j.contains("features")) {
        const Selector given = Selector::parse(j["features"], "features");
        // The first two exercises fix their features; their report names them, and that report
        // parses again (a round trip), so exactly those features are accepted.
        if ((kind == "zero_head_k" || kind == "noise_even_neurons") && given.to_json() != iv.features.to_json())
            throw Error("intervention: " + kind + " fixes its own features (" + iv.features.to_json().dump() + " at layer " +
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
    applied["hook"] = hook_full_name(iv.hook, iv.layer);
    applied["positions"] = iv.positions.to_json();
    if (info.head_axis >= 0) applied["heads"] = iv.heads.to_json();
    applied["features"] = iv.features.to_json();
    iv.as_applied = applied;
    return iv;
}

void validate_for_length(const Intervention& iv, const Config& c, int T, int logits_rows) {
    const HookInfo& info = hook_info(iv.hook);
    iv.positions.validate(dim_length(info.dims[info.pos_axis], c, T, logits_rows), "positions");
    if (info.dims[info.feat_axis] == Dim::Key) iv.features.validate(T, "features (key positions)");
}

// ---------------------------------------------------------------- applying

void apply_interventions(const std::vector<Intervention>& ivs, HookView& view) {
    for (const Intervention& iv : ivs) {
        if (iv.hook != view.hook || iv.layer != view.layer) continue;
        const HookInfo& info = hook_info(iv.hook);
        const int rank = static_cast<int>(view.shape.size());
        // Express the tensor as [d0, d1, d2] with d2 innermost.
        const int dims[3] = {view.shape[0], rank == 3 ? view.shape[1] : 1, view.shape[rank - 1]};
        // The view may hold only positions [pos0, pos0 + rows) of n_pos: selectors and the
        // noise counter are over the whole sequence, so that a pass computing some rows
        // changes them exactly as a full forward would.
        const int pos_axis = rank == 3 ? info.pos_axis : (info.pos_axis == 0 ? 0 : 2);
        int full[3] = {dims[0], dims[1], dims[2]}, offset[3] = {0, 0, 0};
        if (view.n_pos > 0) {
            full[pos_axis] = view.n_pos;
            offset[pos_axis] = view.pos0;
        }
        auto axis_mask = [&](int axis, int n) -> std::vector<char> {
            if (axis == info.pos_axis) return iv.positions.mask(n);
            if (axis == info.head_axis) return iv.heads.mask(n);
            if (axis == info.feat_axis) return iv.features.mask(n);
            return std::vector<char>(n, 1);
        };
        const int feat_axis = rank == 3 ? 2 : 1;
        std::vector<char> keep[3] = {axis_mask(0, full[0]), rank == 3 ? axis_mask(1, full[1]) : std::vector<char>(1, 1),
                                     axis_mask(feat_axis, full[2])};
        // Noise is keyed by (absolute position, index within the position): the
        // attention tensors' index is key * n_head + head, the others' the flat index of
        // their non-position axes; nothing depends on the sequence length.
        const bool attn = rank == 3 && info.pos_axis == 1;
        for (int a = 0; a < dims[0]; ++a) {
            const int A = a + offset[0];
            if (!keep[0][A]) continue;
            for (int b = 0; b < dims[1]; ++b) {
                const int B = b + offset[1];
                if (!keep[1][B]) continue;
                float* row = view.data + (static_cast<size_t>(a) * dims[1] + b) * dims[2];
                for (int e = 0; e < dims[2]; ++e) {
                    const int E = e + offset[2];
                    if (!keep[2][E]) continue;
                    const uint64_t pos = attn ? B : A;
                    const uint64_t feature = attn ? static_cast<uint64_t>(E) * full[0] + A
                                                  : static_cast<uint64_t>(B) * full[2] + E;
                    float& x = row[e];
                    switch (iv.op) {
                        case Intervention::Zero: x = 0.0f; break;
                        case Intervention::Scale: x = static_cast<float>(x * iv.factor); break;
                        case Intervention::Add: x = static_cast<float>(x + iv.value); break;
                        case Intervention::Set: x = static_cast<float>(iv.value); break;
                        case Intervention::Noise: x = static_cast<float>(iv.mean + iv.std * gaussian_at(iv.seed, pos, feature)); break;
                    }
                }
            }
        }
    }
}

}  // namespace hooklab
