#include "hooklab/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "hooklab/error.h"
#include "hooklab/intervention.h"
#include "hooklab/rng.h"

namespace hooklab {

namespace {

std::string show(double x) {
    std::ostringstream s;
    s << x;
    return s.str();
}

}  // namespace

void validate_sampler(const SamplerOptions& s) {
    if (!(s.temperature >= 0) || !std::isfinite(s.temperature))
        throw Error("temperature must be a finite number >= 0 (0: greedy), got " + show(s.temperature));
    if (s.top_k < 0) throw Error("top-k must be >= 0 (0: no limit), got " + std::to_string(s.top_k));
    if (!(s.top_p > 0 && s.top_p <= 1)) throw Error("top-p must be in (0, 1], got " + show(s.top_p));
}

int sample_token(const float* logits, int V, const SamplerOptions& s, uint64_t step, double* prob) {
    int best = 0;
    for (int i = 0; i < V; ++i) {
        if (!std::isfinite(logits[i]))
            throw Error("the logits are not finite (token id " + std::to_string(i) +
                        "): nothing to sample from; an intervention probably made the run overflow");
        if (logits[i] > logits[best]) best = i;
    }
    const double mx = logits[best];
    double z = 0;
    for (int i = 0; i < V; ++i) z += std::exp(logits[i] - mx);
    int id = best;
    if (s.temperature > 0) {
        // Candidates most likely first (lowest id on a tie) when top-k or top-p needs the
        // order; otherwise in id order, which draws from the same distribution.
        std::vector<int> order(V);
        std::iota(order.begin(), order.end(), 0);
        auto likelier = [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
        const int k = s.top_k > 0 ? std::min(s.top_k, V) : V;
        if (s.top_p < 1 || k < V) std::partial_sort(order.begin(), order.begin() + k, order.end(), likelier);
        std::vector<double> w(k);
        double total = 0;
        for (int i = 0; i < k; ++i) total += w[i] = std::exp((logits[order[i]] - mx) / s.temperature);
        int n = k;
        if (s.top_p < 1) {
            double cum = 0;
            for (n = 0; n < k;) {
                cum += w[n++];
                if (cum >= s.top_p * total) break;
            }
            total = cum;
        }
        const double u = uniform01(s.seed, step) * total;
        double cum = 0;
        id = order[n - 1];
        for (int i = 0; i < n; ++i) {
            cum += w[i];
            if (u < cum) { id = order[i]; break; }
        }
    }
    if (prob) *prob = std::exp(logits[id] - mx) / z;
    return id;
}

namespace {

// One variant of a group: its options, interventions, sequence and steps so far.
struct Variant {
    GenerateOptions opt;
    std::vector<Intervention> ivs;
    RunState state;
    std::vector<int> prompt_tokens, new_tokens;
    std::vector<GenerateStep> steps;
    bool cache = true;
    std::string stopped;  // "" while running
    double ms = 0;

    Variant(const Model& m, const GenerateOptions& o);

    // Its share of the next forward: with the cache, the first step runs the prompt and
    // each later one only the newest token; without it, every step runs the whole sequence.
    Segment segment() {
        const int T = static_cast<int>(state.tokens.size());
        const bool resume = cache && !new_tokens.empty();
        return {&state, resume ? T - 1 : 0, cache ? &state : nullptr};
    }

    // Samples from this variant's row of logits and records the token.
    GenerateStep take(const Model& m, const float* logits, int eos) {
        const Config& c = m.gpt2.config;
        const int T = static_cast<int>(state.tokens.size());
        double prob = 0;
        const int id = sample_token(logits, c.vocab_size, opt.sampler, new_tokens.size(), &prob);
        new_tokens.push_back(id);
        state.tokens.push_back(id);
        const GenerateStep s{id, prob};
        steps.push_back(s);
        if (id == eos) stopped = "endoftext";
        else if (static_cast<int>(new_tokens.size()) >= opt.max_new_tokens) stopped = "length";
        else if (T + 1 >= c.n_positions) stopped = "context";
        return s;
    }
};

Variant::Variant(const Model& m, const GenerateOptions& o) : opt(o) {
    const Config& c = m.gpt2.config;
    if (opt.max_new_tokens < 1) throw Error("max-new-tokens must be at least 1, got " + std::to_string(opt.max_new_tokens));
    validate_sampler(opt.sampler);
    ivs = opt.interventions;
    prompt_tokens = m.tokenizer.encode(opt.prompt);
    const int T0 = static_cast<int>(prompt_tokens.size());
    if (T0 == 0) throw Error("the prompt is empty: type at least one character");
    if (T0 > c.n_positions)
        throw Error("the prompt is " + std::to_string(T0) + " tokens long but this model's context is " +
                    std::to_string(c.n_positions) + " tokens; shorten it");
    // The sequence never outgrows the context. Position indices are checked against its
    // final length (an index past the prompt acts once generation gets there), those
    // counted from the end against the prompt's.
    const int Tmax = static_cast<int>(std::min<int64_t>(c.n_positions, static_cast<int64_t>(T0) + opt.max_new_tokens));
    for (const Intervention& iv : ivs) {
        if (iv.tensor)
            throw Error("intervention set: a tensor value is for a fixed sequence (run, compare, heads, patch...); "
                        "generation grows the sequence, so give one number as \"value\"");
        validate_for_length(iv, c, Tmax, 1);
        const bool attn = iv.hook == Hook::AttnScores || iv.hook == Hook::Pattern;
        auto from_end = [&](const Selector& s, const char* what) {
            if (s.kind != Selector::List) return false;
            bool any = false;
            for (int i : s.list)
                if (i < 0) {
                    any = true;
                    if (i < -T0)
                        throw Error(std::string("intervention: ") + what + " " + std::to_string(i) +
                                    " is out of range for a prompt of " + std::to_string(T0) + " tokens");
                }
            return any;
        };
        const bool pos_from_end = iv.hook != Hook::Logits && from_end(iv.positions, "positions");
        const bool key_from_end = attn && from_end(iv.features, "features (key positions)");
        // Such an intervention changes an earlier position once the sequence grows: a
        // position counted from the end moves, and values written into the pattern past
        // the causal mask let a position see later tokens.
        const bool past_mask = iv.hook == Hook::Pattern &&
                               (iv.op == Intervention::Add || iv.op == Intervention::Set || iv.op == Intervention::Noise);
        if (pos_from_end || key_from_end || past_mask) cache = false;
    }
    state.tokens = prompt_tokens;
    if (cache) state.reserve(c, Tmax);
    if (T0 >= c.n_positions) stopped = "context";
}

const Variant& variant_at(const std::vector<Variant>& vs, int i) {
    if (i < 0 || i >= static_cast<int>(vs.size()))
        throw Error("generate: variant " + std::to_string(i) + " is out of range (0.." + std::to_string(vs.size() - 1) + ")");
    return vs[i];
}

}  // namespace

struct GeneratorGroup::Impl {
    const Model& m;
    std::vector<Variant> variants;
    int eos = -1;
    explicit Impl(const Model& model) : m(model) {}
};

GeneratorGroup::GeneratorGroup(const Model& m, const std::vector<GenerateOptions>& variants)
    : impl_(std::make_unique<Impl>(m)) {
    if (variants.empty()) throw Error("generate: no variant to run");
    impl_->variants.reserve(variants.size());
    for (const GenerateOptions& o : variants) impl_->variants.emplace_back(m, o);
    impl_->eos = m.tokenizer.id_of("<|endoftext|>");
}

GeneratorGroup::~GeneratorGroup() = default;

int GeneratorGroup::size() const { return static_cast<int>(impl_->variants.size()); }

bool GeneratorGroup::done(int i) const { return !variant_at(impl_->variants, i).stopped.empty(); }
bool GeneratorGroup::uses_cache(int i) const { return variant_at(impl_->variants, i).cache; }

bool GeneratorGroup::done() const {
    for (const Variant& v : impl_->variants)
        if (v.stopped.empty()) return false;
    return true;
}

std::vector<std::optional<GenerateStep>> GeneratorGroup::step() {
    Impl& g = *impl_;
    if (done()) {
        std::string why;
        for (const Variant& v : g.variants) why += (why.empty() ? "" : ", ") + v.stopped;
        throw Error("the generation is over (stopped: " + why + ")");
    }
    const auto t0 = std::chrono::steady_clock::now();
    const Config& c = g.m.gpt2.config;
    // Segment k of the forward is live[k]'s: its hooks see only its own interventions.
    std::vector<Variant*> live;
    std::vector<Segment> segs;
    bool any_ivs = false;
    for (Variant& v : g.variants)
        if (v.stopped.empty()) {
            live.push_back(&v);
            segs.push_back(v.segment());
            any_ivs = any_ivs || !v.ivs.empty();
        }
    HookFn hook;
    if (any_ivs)
        hook = [&live](HookView& v) {
            const std::vector<Intervention>& ivs = live[v.segment]->ivs;
            if (!ivs.empty()) apply_interventions(ivs, v);
        };
    const std::vector<float> logits = g.m.gpt2.forward(segs, 0, hook, Logits::Last);

    std::vector<std::optional<GenerateStep>> out;
    size_t k = 0;
    for (Variant& v : g.variants)
        if (std::find(live.begin(), live.end(), &v) == live.end()) out.emplace_back();
        else out.emplace_back(v.take(g.m, &logits[k++ * static_cast<size_t>(c.vocab_size)], g.eos));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (Variant* v : live) v->ms += ms;
    return out;
}

GenerateResult GeneratorGroup::result(int i) const {
    const Variant& g = variant_at(impl_->variants, i);
    const Tokenizer& tok = impl_->m.tokenizer;
    // The text leaves out a final <|endoftext|>: it ends the text rather than being part of it.
    std::string bytes;
    const size_t n = g.new_tokens.size() - (g.stopped == "endoftext" ? 1 : 0);
    for (size_t j = 0; j < n; ++j)
        if (g.new_tokens[j] < tok.vocab_size()) bytes += tok.token_bytes(g.new_tokens[j]);
    GenerateResult r;
    r.prompt_tokens = g.prompt_tokens;
    r.new_tokens = g.new_tokens;
    r.text = utf8_lossy(bytes);
    r.steps = g.steps;
    r.stopped = g.stopped;
    r.ms = g.ms;
    r.tokens_per_s = g.ms > 0 ? g.new_tokens.size() / (g.ms / 1000) : 0.0;
    r.kv_cache = g.cache;
    r.interventions = g.ivs;
    return r;
}

GenerateResult generate(const Model& m, const GenerateOptions& opt) {
    Generator g(m, opt);
    while (!g.done()) g.step();
    return g.result();
}

GenerateComparison generate_compare(const Model& m, const GenerateOptions& opt) {
    GenerateOptions baseline = opt;
    baseline.interventions.clear();
    GeneratorGroup g(m, {baseline, opt});
    while (!g.done()) g.step();
    return {g.result(0), g.result(1)};
}

}  // namespace hooklab
