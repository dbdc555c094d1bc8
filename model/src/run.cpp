#include "hooklab/run.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

#include "hooklab/error.h"
#include "hooklab/intervention.h"

namespace hooklab {

using nlohmann::json;

namespace {

// One read into a buffer of the file's size: a checkpoint can be gigabytes, so no
// stream copies.
std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) throw Error("cannot open " + path);
    const std::streamoff size = f.tellg();
    if (size < 0) throw Error("cannot read " + path);
    std::string data(static_cast<size_t>(size), '\0');
    f.seekg(0);
    if (size > 0 && !f.read(&data[0], size)) throw Error("cannot read " + path);
    return data;
}

struct Stat { double mean = 0, std = 0, min = 0, max = 0, norm = 0; bool finite = true; };

// Two passes in double: mean, then squared deviations (sample std, N-1, as torch.std).
// Masked attention scores (-inf by construction) are left out.
Stat stats_of(const HookView& v) {
    const bool causal = v.hook == Hook::AttnScores;
    const int T = causal ? v.shape[1] : 0;
    auto visible = [&](size_t idx) { return !causal || static_cast<int>(idx % T) <= static_cast<int>((idx / T) % T); };
    Stat s;
    double sum = 0, sq = 0;
    size_t n = 0;
    s.min = std::numeric_limits<double>::infinity();
    s.max = -s.min;
    const size_t N = v.numel();
    for (size_t i = 0; i < N; ++i) {
        if (!visible(i)) continue;
        const double x = v.data[i];
        if (!std::isfinite(x)) s.finite = false;
        sum += x;
        sq += x * x;
        s.min = std::min(s.min, x);
        s.max = std::max(s.max, x);
        ++n;
    }
    s.mean = sum / n;
    double dev = 0;
    for (size_t i = 0; i < N; ++i)
        if (visible(i)) dev += (v.data[i] - s.mean) * (v.data[i] - s.mean);
    s.std = n > 1 ? std::sqrt(dev / (n - 1)) : 0.0;
    s.norm = std::sqrt(sq);
    return s;
}

// JSON has no NaN/Inf: non-finite numbers become null (and the run names the hook
// where they first appeared).
json num(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

}  // namespace

json config_json(const Config& c) {
    json j = {{"n_layer", c.n_layer}, {"n_head", c.n_head}, {"n_embd", c.n_embd}, {"n_positions", c.n_positions},
              {"vocab_size", c.vocab_size}, {"layer_norm_epsilon", c.layer_norm_epsilon},
              {"activation_function", c.activation_function}, {"d_head", c.d_head()}, {"d_mlp", c.d_mlp()}};
    if (!c.name.empty()) j["name"] = c.name;
    if (!c.hooklab_meta.empty()) j["hooklab"] = json::parse(c.hooklab_meta);
    return j;
}

Model load_model_buffers(const std::string& config_text, const uint8_t* st, size_t size, const std::string& vocab,
                         const std::string& merges, bool f16_weights) {
    Model m;
    const Config cfg = parse_config(config_text);
    m.tokenizer = Tokenizer::from_files(vocab, merges);
    if (m.tokenizer.vocab_size() > cfg.vocab_size)
        throw Error("vocab.json has " + std::to_string(m.tokenizer.vocab_size()) + " tokens but config.json says vocab_size " +
                    std::to_string(cfg.vocab_size));
    m.gpt2 = GPT2::from_safetensors(cfg, st, size, f16_weights);
    return m;
}

Model load_model_dir(const std::string& dir, bool f16_weights) {
    const std::string st = read_file(dir + "/model.safetensors");
    return load_model_buffers(read_file(dir + "/config.json"), reinterpret_cast<const uint8_t*>(st.data()), st.size(),
                              read_file(dir + "/vocab.json"), read_file(dir + "/merges.txt"), f16_weights);
}

std::string dump_json(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

json run(const Model& m, const RunOptions& opt) {
    const Config& c = m.gpt2.config;
    if (opt.topk < 0 || opt.topk > c.vocab_size)
        throw Error("topk must be between 0 and the vocabulary size (" + std::to_string(c.vocab_size) + ")");

    // Everything is checked before the forward starts.
    std::vector<Intervention> ivs;
    for (const json& j : opt.interventions) ivs.push_back(parse_intervention(j, c));
    std::vector<std::pair<Hook, int>> captures;
    for (const std::string& name : opt.capture) {
        Hook h;
        int layer;
        parse_hook_name(name, h, layer);
        if (layer >= c.n_layer) throw Error("capture " + name + ": layer out of range (0.." + std::to_string(c.n_layer - 1) + ")");
        captures.emplace_back(h, layer);
    }
    const std::vector<int> tokens = m.tokenizer.encode(opt.prompt);
    const int T = static_cast<int>(tokens.size());
    if (T == 0) throw Error("the prompt is empty: type at least one character");
    if (T > c.n_positions)
        throw Error("the prompt is " + std::to_string(T) + " tokens long but this model's context is " +
                    std::to_string(c.n_positions) + " tokens; shorten it");
    for (const Intervention& iv : ivs) validate_for_length(iv, c, T, 1);

    // Stats arrays: [hook][layer or 0].
    std::vector<std::vector<Stat>> stats(kHookCount);
    for (int h = 0; h < kHookCount; ++h) stats[h].resize(hook_is_per_block(static_cast<Hook>(h)) ? c.n_layer : 1);
    json captured = json::object();
    std::string first_nonfinite;
    std::vector<double> hidden_std, resid_std;

    auto hook = [&](HookView& v) {
        apply_interventions(ivs, v);
        const Stat s = stats_of(v);
        stats[static_cast<int>(v.hook)][std::max(v.layer, 0)] = s;
        if (!s.finite && first_nonfinite.empty()) first_nonfinite = hook_full_name(v.hook, v.layer);
        // HF hidden_states: the embeddings, then each block's output; the last is replaced
        // by ln_f's output below.
        if (v.hook == Hook::ResidPre && v.layer == 0) hidden_std.push_back(s.std);
        if (v.hook == Hook::ResidPost) { hidden_std.push_back(s.std); resid_std.push_back(s.std); }
        for (const auto& cap : captures)
            if (cap.first == v.hook && cap.second == v.layer) {
                json& slot = captured[hook_full_name(v.hook, v.layer)];
                slot["shape"] = v.shape;
                json data = json::array();
                for (size_t i = 0; i < v.numel(); ++i) data.push_back(num(v.data[i]));
                slot["data"] = std::move(data);
            }
    };
    const std::vector<float> logits = m.gpt2.forward(tokens, hook, false);
    hidden_std.back() = stats[static_cast<int>(Hook::LnFinal)][0].std;

    json out;
    out["model"] = config_json(c);
    out["prompt"] = opt.prompt;
    out["tokens"] = tokens;
    json strs = json::array();
    for (int id : tokens) strs.push_back(utf8_lossy(m.tokenizer.token_bytes(id)));
    out["token_strings"] = strs;
    out["hidden_std"] = json::array();
    for (double x : hidden_std) out["hidden_std"].push_back(num(x));
    out["resid_std"] = json::array();
    for (double x : resid_std) out["resid_std"].push_back(num(x));

    json st = json::object();
    for (int h = 0; h < kHookCount; ++h) {
        json e = {{"mean", json::array()}, {"std", json::array()}, {"min", json::array()}, {"max", json::array()}, {"norm", json::array()}};
        for (const Stat& s : stats[h]) {
            e["mean"].push_back(num(s.mean));
            e["std"].push_back(num(s.std));
            e["min"].push_back(num(s.min));
            e["max"].push_back(num(s.max));
            e["norm"].push_back(num(s.norm));
        }
        st[hook_short_name(static_cast<Hook>(h))] = std::move(e);
    }
    out["stats"] = std::move(st);

    // Top-k at the last position; softmax in double over the whole vocabulary.
    const int V = c.vocab_size;
    double mx = -std::numeric_limits<double>::infinity();
    for (int i = 0; i < V; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
    double z = 0;
    for (int i = 0; i < V; ++i) z += std::exp(logits[i] - mx);
    std::vector<int> order(V);
    std::iota(order.begin(), order.end(), 0);
    const int k = std::min(opt.topk, V);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        // NaN logits sort last rather than breaking the ordering.
        const float la = std::isnan(logits[a]) ? -INFINITY : logits[a], lb = std::isnan(logits[b]) ? -INFINITY : logits[b];
        return la > lb || (la == lb && a < b);
    });
    json top = json::array();
    for (int i = 0; i < k; ++i) {
        const int id = order[i];
        top.push_back({{"id", id}, {"token", id < m.tokenizer.vocab_size() ? utf8_lossy(m.tokenizer.token_bytes(id)) : std::string()},
                       {"logit", num(logits[id])}, {"prob", num(std::exp(logits[id] - mx) / z)}});
    }
    out["top"] = std::move(top);
    if (opt.logits) {
        json l = json::array();
        for (int i = 0; i < V; ++i) l.push_back(num(logits[i]));
        out["logits_last"] = std::move(l);
    }
    if (!opt.capture.empty()) out["captures"] = std::move(captured);
    json applied = json::array();
    for (const Intervention& iv : ivs) applied.push_back(iv.as_applied);
    out["interventions"] = std::move(applied);
    out["nonfinite"] = first_nonfinite.empty() ? json(nullptr) : json(first_nonfinite);
    return out;
}

}  // namespace hooklab
