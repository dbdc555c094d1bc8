#include "hooklab/patching.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "hooklab/error.h"
#include "hooklab/intervention.h"

// Only to quote text in error messages as JSON strings.
#include <nlohmann/json.hpp>

namespace hooklab {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::vector<int> encode_prompt(const Tokenizer& tok, const Config& c, const std::string& text, const char* what) {
    const std::vector<int> ids = tok.encode(text);
    check_prompt_length(c, static_cast<int>(ids.size()), what);
    return ids;
}

double logit_diff(const float* logits, int answer, int wrong) {
    return static_cast<double>(logits[answer]) - static_cast<double>(logits[wrong]);
}

}  // namespace

const std::vector<std::string>& patch_metrics() {
    static const std::vector<std::string> m = {"logit_diff", "prob", "logprob", "loss"};
    return m;
}

int parse_single_token(const Tokenizer& tok, const Config& c, const std::string& text, const char* what) {
    if (text.size() > 1 && text[0] == '#' && text.find_first_not_of("0123456789", 1) == std::string::npos) {
        if (text.size() > 10) throw Error(std::string(what) + " " + text + " is outside the vocabulary");
        const long long id = std::stoll(text.substr(1));
        if (id >= c.vocab_size)
            throw Error(std::string(what) + " " + text + " is outside the vocabulary (ids 0.." + std::to_string(c.vocab_size - 1) + ")");
        return static_cast<int>(id);
    }
    const std::vector<int> ids = tok.encode(text);
    if (ids.empty()) throw Error(std::string(what) + " is empty: give one token (text such as \" Mary\") or #ID");
    if (ids.size() != 1) {
        std::string parts;
        for (size_t i = 0; i < ids.size(); ++i)
            parts += (i ? " + " : "") + json(utf8_lossy(tok.token_bytes(ids[i]))).dump() + " (#" + std::to_string(ids[i]) + ")";
        throw Error(std::string(what) + " " + json(text).dump() + " is " + std::to_string(ids.size()) + " tokens, " + parts +
                    "; it must be exactly one token: give one of them, or #ID");
    }
    return ids[0];
}

// ------------------------------------------------------------------------ patching

PatchSetup prepare_patch(const Model& m, const PatchOptions& opt) {
    const Config& c = m.gpt2.config;
    PatchSetup p;
    static const std::pair<const char*, Hook> kFamilies[] = {
        {"resid_pre", Hook::ResidPre}, {"attn_out", Hook::AttnOut}, {"mlp_out", Hook::MlpOut}, {"z", Hook::Z}};
    bool known = false;
    for (const auto& f : kFamilies)
        if (opt.hook == f.first) { p.family = f.second; p.family_name = f.first; known = true; }
    if (!known) throw Error("hook must be resid_pre, attn_out, mlp_out or z, got \"" + opt.hook + "\"");
    p.by = opt.by.empty() ? (p.family == Hook::Z ? "head" : "position") : opt.by;
    if (p.by != "position" && p.by != "head") throw Error("by must be position or head, got \"" + p.by + "\"");
    if ((p.family == Hook::Z) != p.by_head())
        throw Error("hook " + p.family_name + " is patched by " + (p.family == Hook::Z ? "head (all positions)" : "position") +
                    ", not by " + p.by);
    p.ivs = opt.interventions;
    p.clean = encode_prompt(m.tokenizer, c, opt.clean, "clean ");
    p.corrupted = encode_prompt(m.tokenizer, c, opt.corrupted, "corrupted ");
    if (p.clean.size() != p.corrupted.size())
        throw Error("the clean prompt is " + std::to_string(p.clean.size()) + " tokens and the corrupted prompt is " +
                    std::to_string(p.corrupted.size()) + ": patching needs the same number of tokens in both");
    p.metric = opt.metric;
    const auto& metrics = patch_metrics();
    if (std::find(metrics.begin(), metrics.end(), p.metric) == metrics.end())
        throw Error("metric must be logit_diff, prob, logprob or loss, got \"" + p.metric + "\"");
    p.answer = parse_single_token(m.tokenizer, c, opt.answer, "answer");
    if (opt.wrong.empty() && p.metric != "logit_diff") p.wrong = -1;
    else p.wrong = parse_single_token(m.tokenizer, c, opt.wrong, "wrong");
    p.T = static_cast<int>(p.clean.size());
    for (const Intervention& iv : p.ivs) validate_for_length(iv, c, p.T, 1);
    return p;
}

struct Patcher::Impl : PatchSetup {
    const Model& m;
    RunState corrupted_state;
    std::vector<std::vector<float>> clean_acts;  // [n_layer][T * C]: the clean run's value at the family's hook
    double clean_diff = 0, corrupted_diff = 0;
    std::vector<std::vector<double>> rows;
    std::vector<char> done;
    double flops = 0, ms = 0;

    // W_U[answer] - W_U[wrong]; via_logits when an intervention acts on the logits, which
    // then have to be computed in full.
    std::vector<double> direction;
    double bias_diff = 0;  // b_U[answer] - b_U[wrong]: 0 but with processed weights (fold_ln, center_unembed)
    bool via_logits = false;

    Impl(const Model& model, PatchSetup setup) : PatchSetup(std::move(setup)), m(model) {}

    // The metric of one last-position logits row.
    double measure(const float* logits, int V) const {
        if (metric == "logit_diff") return logit_diff(logits, answer, wrong);
        const double lp = static_cast<double>(logits[answer]) - log_sum_exp(logits, V);
        return metric == "prob" ? std::exp(lp) : metric == "logprob" ? lp : -lp;
    }

    // The metric (the logit difference) at each segment's last position, counting the work. Only its two
    // columns are computed (ln_final's output . direction) unless via_logits.
    std::vector<double> diffs(const std::vector<Segment>& segs, int start, const HookFn& hook) {
        const GPT2& g = m.gpt2;
        const Config& c = g.config;
        std::vector<double> out(segs.size());
        for (const Segment& s : segs) {
            const int T = static_cast<int>(s.from->tokens.size());
            flops += g.flops(T, s.first, c.n_layer - start, via_logits ? 1 : 0) + (via_logits ? 0 : 4.0 * c.n_embd);
        }
        if (via_logits) {
            const std::vector<float> logits = g.forward(segs, start, hook, Logits::Last);
            for (size_t i = 0; i < segs.size(); ++i) out[i] = measure(&logits[i * c.vocab_size], c.vocab_size);
            return out;
        }
        auto read = [&](HookView& v) {
            if (hook) hook(v);
            if (v.hook != Hook::LnFinal) return;
            const float* x = v.data + static_cast<size_t>(v.shape[0] - 1) * c.n_embd;
            double d = 0;
            for (int i = 0; i < c.n_embd; ++i) d += x[i] * direction[i];
            out[v.segment] = d + bias_diff;
        };
        g.forward(segs, start, read, Logits::None);
        return out;
    }
};

Patcher::Patcher(const Model& m, const PatchOptions& opt) : impl_(std::make_unique<Impl>(m, prepare_patch(m, opt))) {
    const auto t0 = Clock::now();
    Impl& p = *impl_;
    const Config& c = m.gpt2.config;
    const int C = c.n_embd;

    if (p.wrong >= 0) {
        std::vector<float> ua(C), uw(C);
        tied_embedding_row(m.gpt2.weights.lm_head.w, p.answer, ua.data());
        tied_embedding_row(m.gpt2.weights.lm_head.w, p.wrong, uw.data());
        p.direction.resize(C);
        for (int i = 0; i < C; ++i) p.direction[i] = static_cast<double>(ua[i]) - uw[i];
        const auto& b_U = m.gpt2.weights.lm_head.bias;
        if (!b_U.empty()) p.bias_diff = static_cast<double>(b_U[p.answer]) - b_U[p.wrong];
    }
    // Any other metric than the logit difference reads the whole distribution.
    p.via_logits = p.metric != "logit_diff";
    for (const Intervention& iv : p.ivs) p.via_logits = p.via_logits || iv.hook == Hook::Logits;

    // The clean run: its value at every block's patched hook (after the interventions).
    p.clean_acts.assign(c.n_layer, std::vector<float>(static_cast<size_t>(p.T) * C));
    auto record = [&](HookView& v) {
        apply_interventions(p.ivs, v);
        if (v.hook == p.family) std::memcpy(p.clean_acts[v.layer].data(), v.data, sizeof(float) * v.numel());
    };
    RunState clean_tokens;
    clean_tokens.tokens = p.clean;
    p.clean_diff = p.diffs({{&clean_tokens, 0, nullptr}}, 0, record)[0];
    // The corrupted run, kept: every patched run resumes from it.
    p.corrupted_state.tokens = p.corrupted;
    auto intervene = [&](HookView& v) { apply_interventions(p.ivs, v); };
    p.corrupted_diff = p.diffs({{&p.corrupted_state, 0, &p.corrupted_state}}, 0, intervene)[0];
    p.rows.assign(c.n_layer, {});  // clean and corrupted counted in flops by diffs()
    p.done.assign(c.n_layer, 0);
    p.ms = ms_since(t0);
}

Patcher::~Patcher() = default;

int Patcher::layers() const { return impl_->m.gpt2.config.n_layer; }

const std::vector<double>& Patcher::run_layer(int L) {
    const auto t0 = Clock::now();
    Impl& p = *impl_;
    const GPT2& g = p.m.gpt2;
    const Config& c = g.config;
    const int C = c.n_embd, D = c.d_head(), T = p.T;
    if (L < 0 || L >= c.n_layer)
        throw Error("block " + std::to_string(L) + " is out of range (the model has blocks 0.." + std::to_string(c.n_layer - 1) + ")");

    // One patched run per position p (starting at block L, computing positions >= p:
    // everything before is the corrupted run's) or per head (block L on, all positions).
    const int n = p.by_head() ? c.n_head : T;
    std::vector<double>& out = p.rows[L];
    out.assign(n, 0.0);
    // Runs share GEMMs up to a row budget that keeps the attention buffers small.
    const int budget = std::max(T, 256);
    for (int i0 = 0; i0 < n;) {
        std::vector<Segment> segs;
        int rows = 0;
        for (int i = i0; i < n; ++i) {
            const int first = p.by_head() ? 0 : i;
            if (!segs.empty() && rows + (T - first) > budget) break;
            segs.push_back({&p.corrupted_state, first, nullptr});
            rows += T - first;
        }
        const float* clean = p.clean_acts[L].data();
        auto hook = [&](HookView& v) {
            apply_interventions(p.ivs, v);
            if (v.hook != p.family || v.layer != L) return;
            const int i = i0 + v.segment;
            if (p.by_head()) {
                for (int t = 0; t < T; ++t)
                    std::memcpy(v.data + static_cast<size_t>(t) * C + i * D, clean + static_cast<size_t>(t) * C + i * D, sizeof(float) * D);
            } else {
                // The view starts at position i (= v.pos0): its first row is the patched one.
                std::memcpy(v.data, clean + static_cast<size_t>(v.pos0) * C, sizeof(float) * C);
            }
        };
        const std::vector<double> d = p.diffs(segs, L, hook);
        std::copy(d.begin(), d.end(), out.begin() + i0);
        i0 += static_cast<int>(segs.size());
    }
    p.done[L] = 1;
    p.ms += ms_since(t0);
    return out;
}

PatchResult Patcher::header() const {
    const Impl& p = *impl_;
    PatchResult r;
    r.hook = p.family_name;
    r.by = p.by;
    r.clean_tokens = p.clean;
    r.corrupted_tokens = p.corrupted;
    r.answer_id = p.answer;
    r.wrong_id = p.wrong;
    r.metric = p.metric;
    r.clean_logit_diff = p.clean_diff;
    r.corrupted_logit_diff = p.corrupted_diff;
    r.n_layer = p.m.gpt2.config.n_layer;
    r.interventions = p.ivs;
    return r;
}

namespace {

// (x - corrupted) / (clean - corrupted) per entry: 0 is the corrupted run, 1 the clean one.
std::vector<double> normalized_row(const std::vector<double>& row, double clean, double corrupted) {
    std::vector<double> out;
    for (double x : row) out.push_back((x - corrupted) / (clean - corrupted));
    return out;
}

}  // namespace

PatchResult Patcher::result() const {
    const Impl& p = *impl_;
    PatchResult r = header();
    for (size_t L = 0; L < p.rows.size(); ++L) {
        if (!p.done[L]) throw Error("patching: block " + std::to_string(L) + " has not been run");
        r.logit_diff.push_back(p.rows[L]);
        r.normalized.push_back(normalized_row(p.rows[L], p.clean_diff, p.corrupted_diff));
    }
    r.forwards = p.flops / p.m.gpt2.flops(p.T, 0, p.m.gpt2.config.n_layer, 1);
    r.ms = p.ms;
    return r;
}

PatchResult patch(const Model& m, const PatchOptions& opt) {
    Patcher p(m, opt);
    for (int L = 0; L < p.layers(); ++L) p.run_layer(L);
    return p.result();
}

// ------------------------------------------------------------------------ attribution

AttributeResult attribute(const Model& m, const AttributeOptions& opt) {
    const GPT2& g = m.gpt2;
    const Config& c = g.config;
    const int C = c.n_embd, H = c.n_head, D = c.d_head(), NL = c.n_layer;
    const std::vector<Intervention>& ivs = opt.interventions;
    for (const Intervention& iv : ivs) {
        const std::string name = hook_full_name(iv.hook, iv.layer);
        if (iv.hook == Hook::ResidPre || iv.hook == Hook::ResidMid || iv.hook == Hook::ResidPost)
            throw Error("direct logit attribution: the intervention on " + name +
                        " changes the residual stream itself, which is not the sum of the components that write to it "
                        "any more, so the decomposition is not defined; intervene inside attention or the MLP instead");
        if (iv.hook == Hook::AttnOut)
            throw Error("direct logit attribution: the intervention on " + name +
                        " changes the attention output after the heads are summed, so it no longer splits into the heads' "
                        "outputs; intervene on attn.hook_z (per head) instead");
        if (iv.hook == Hook::LnFinal || iv.hook == Hook::Logits)
            throw Error("direct logit attribution: the intervention on " + name +
                        " acts after the residual stream is read out, so the decomposition of the logit difference "
                        "through ln_final is not defined");
    }
    const std::vector<int> tokens = encode_prompt(m.tokenizer, c, opt.prompt, "");
    const int answer = parse_single_token(m.tokenizer, c, opt.answer, "answer");
    const int wrong = parse_single_token(m.tokenizer, c, opt.wrong, "wrong");
    const int T = static_cast<int>(tokens.size());
    for (const Intervention& iv : ivs) validate_for_length(iv, c, T, 1);

    // The last position's value of every component (after the interventions).
    std::vector<float> embed(C), pos(C), z(static_cast<size_t>(NL) * C), mlp(static_cast<size_t>(NL) * C);
    auto last = [&](const HookView& v) { return v.data + (v.numel() / v.shape[0]) * (v.shape[0] - 1); };
    auto hook = [&](HookView& v) {
        apply_interventions(ivs, v);
        if (v.hook == Hook::Embed) std::memcpy(embed.data(), last(v), sizeof(float) * C);
        if (v.hook == Hook::PosEmbed) std::memcpy(pos.data(), last(v), sizeof(float) * C);
        if (v.hook == Hook::Z) std::memcpy(&z[static_cast<size_t>(v.layer) * C], last(v), sizeof(float) * C);
        if (v.hook == Hook::MlpOut) std::memcpy(&mlp[static_cast<size_t>(v.layer) * C], last(v), sizeof(float) * C);
    };
    RunState state;
    state.tokens = tokens;
    const std::vector<float> logits = g.forward(std::vector<Segment>{{&state, 0, &state}}, 0, hook, Logits::Last);
    const double diff = logit_diff(logits.data(), answer, wrong);

    // ln_f with the run's own last-position scale frozen: a component x contributes
    // (x - mean(x)) / sqrt(var(resid) + eps) * ln_f.weight . (W_U[answer] - W_U[wrong]).
    const float* resid = state.resid(NL, T - 1);
    double mean = 0, var = 0;
    for (int i = 0; i < C; ++i) mean += resid[i];
    mean /= C;
    for (int i = 0; i < C; ++i) var += (resid[i] - mean) * (resid[i] - mean);
    var /= C;
    const double rstd = 1.0 / std::sqrt(var + c.layer_norm_epsilon);
    std::vector<float> ua(C), uw(C);
    tied_embedding_row(g.weights.lm_head.w, answer, ua.data());
    tied_embedding_row(g.weights.lm_head.w, wrong, uw.data());
    std::vector<double> dir(C);
    for (int i = 0; i < C; ++i) dir[i] = static_cast<double>(ua[i]) - uw[i];
    auto through_ln = [&](const float* x) {
        double mx = 0, s = 0;
        for (int i = 0; i < C; ++i) mx += x[i];
        mx /= C;
        for (int i = 0; i < C; ++i) s += (x[i] - mx) * rstd * g.weights.ln_f.weight[i] * dir[i];
        return s;
    };

    AttributeResult r;
    auto add = [&](const std::string& name, double value) { r.components.push_back({name, value}); };
    add("embed", through_ln(embed.data()));
    add("pos_embed", through_ln(pos.data()));
    std::vector<float> zh(static_cast<size_t>(H) * C), heads(static_cast<size_t>(H) * C);
    for (int l = 0; l < NL; ++l) {
        // Head h's output: z_h through its D rows of W_O, as one row of an [H, C] product.
        std::fill(zh.begin(), zh.end(), 0.0f);
        for (int h = 0; h < H; ++h)
            std::memcpy(&zh[static_cast<size_t>(h) * C + h * D], &z[static_cast<size_t>(l) * C + h * D], sizeof(float) * D);
        gemm(zh.data(), H, g.weights.blocks[l].attn_proj.w, nullptr, heads.data());
        for (int h = 0; h < H; ++h)
            add("blocks." + std::to_string(l) + ".attn.head." + std::to_string(h), through_ln(&heads[static_cast<size_t>(h) * C]));
        add("blocks." + std::to_string(l) + ".attn.bias", through_ln(g.weights.blocks[l].attn_proj.bias.data()));
        add("blocks." + std::to_string(l) + ".mlp", through_ln(&mlp[static_cast<size_t>(l) * C]));
    }
    double bias = 0;
    for (int i = 0; i < C; ++i) bias += g.weights.ln_f.bias[i] * dir[i];
    add("ln_final.bias", bias);
    // Processed weights (fold_ln, center_unembed) carry an unembedding bias: its share of the
    // difference, so that the components still sum to it.
    const auto& b_U = g.weights.lm_head.bias;
    if (!b_U.empty()) add("unembed.bias", static_cast<double>(b_U[answer]) - b_U[wrong]);

    r.tokens = tokens;
    r.answer_id = answer;
    r.wrong_id = wrong;
    r.logit_diff = diff;
    r.interventions = ivs;
    return r;
}

}  // namespace hooklab
