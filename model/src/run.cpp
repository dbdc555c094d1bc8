// One run: validate everything, one forward with every hook observed (interventions,
// statistics, captures, the logit lens' residual rows), then the last position's numbers.
#include "hooklab/run.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "hooklab/error.h"
#include "hooklab/intervention.h"
#include "hooklab/loader.h"

namespace hooklab {

namespace {

// The first block whose computation a hook at (hook, layer) can see or change: hooks
// before the blocks touch all of them, hooks after them (ln_final, logits) none. A block's
// output is what the next block reads: a run resumed there fires that hook on entry
// (forward's fire_entry), so block `layer` itself is not recomputed.
int first_block_touched(Hook h, int layer, int n_layer) {
    if (h == Hook::ResidPost) return layer + 1;
    if (hook_is_per_block(h)) return layer;
    return hook_before_blocks(h) ? 0 : n_layer;
}

// Each hook's interventions, in the order they apply.
using AtHooks = std::map<std::pair<Hook, int>, std::vector<Intervention>>;

// Where a run resumed from a kept one starts.
struct Resume {
    int block = 0;         // the first block computed: the two runs agree on every hook before it
    size_t on_entry = 0;   // of this run's interventions at block-1's output, those k applied already
    bool same = false;     // the same interventions everywhere: the runs differ at most in captures
};

// Where a run starts when it resumes from `k` (block 0: no sooner than a whole run). Where k
// made the same captures, it has those too.
Resume resume_from(const Config& c, const AtHooks& mine, const RunOptions& opt, const std::vector<std::pair<Hook, int>>& wanted,
                   const std::vector<int>& tokens, const KeptRun& k) {
    const int L = c.n_layer;
    if (k.result.tokens != tokens || !k.result.nonfinite.empty() || k.state.capacity() < static_cast<int>(tokens.size())) return {};
    AtHooks theirs;
    for (const Intervention& iv : k.result.interventions) theirs[{iv.hook, iv.layer}].push_back(iv);
    int start = L - 1;  // the forward runs at least the last block
    auto differ = [&](const AtHooks& a, const AtHooks& b) {
        for (const auto& [at, list] : a) {
            const auto other = b.find(at);
            if (other == b.end() || other->second != list) start = std::min(start, first_block_touched(at.first, at.second, L));
        }
    };
    differ(mine, theirs);
    differ(theirs, mine);
    const bool same = mine == theirs;
    if (opt.capture != k.capture)
        for (const auto& w : wanted) start = std::min(start, first_block_touched(w.first, w.second, L));
    // The run enters `start` by firing block start-1's output hook again, on the residual
    // k's run left there: only where k's interventions there are the first of this run's
    // (those are applied already; the rest apply on entry).
    const std::vector<Intervention> none;
    for (; start > 0; --start) {
        const auto t = theirs.find({Hook::ResidPost, start - 1});
        if (t == theirs.end()) return {start, 0, same};
        const auto n = mine.find({Hook::ResidPost, start - 1});
        const std::vector<Intervention>& m = n == mine.end() ? none : n->second;
        if (t->second.size() <= m.size() && std::equal(t->second.begin(), t->second.end(), m.begin())) return {start, t->second.size(), same};
    }
    return {0, 0, same};
}

RunResult run_impl(const Model& m, const RunOptions& opt, const std::vector<const KeptRun*>& from, RunState* keep,
                   uint64_t max_state_bytes) {
    const Config& c = m.gpt2.config;
    const int V = c.vocab_size, C = c.n_embd, L = c.n_layer;
    if (opt.topk < 0 || opt.topk > V)
        throw Error("topk must be between 0 and the vocabulary size (" + std::to_string(V) + ")");

    // Everything is checked before the forward starts.
    const std::vector<Intervention>& ivs = opt.interventions;
    std::vector<std::pair<Hook, int>> wanted;
    for (const std::string& name : opt.capture) {
        Hook h;
        int layer;
        try {
            parse_hook_name(name, c, h, layer);
        } catch (const Error& e) {
            throw Error(std::string("capture: ") + e.what());
        }
        wanted.emplace_back(h, layer);
    }
    RunResult r;
    r.prompt = opt.prompt;
    r.tokens = m.tokenizer.encode(opt.prompt);
    const int T = static_cast<int>(r.tokens.size());
    check_prompt_length(c, T);
    // With every position's logits, the logits hook holds T rows.
    for (const Intervention& iv : ivs) validate_for_length(iv, c, T, opt.all_logits ? T : 1);

    r.stats.resize(kHookCount);
    for (int h = 0; h < kHookCount; ++h) r.stats[h].resize(hook_is_per_block(static_cast<Hook>(h)) ? L : 1);
    std::vector<float> lens_rows(opt.logit_lens ? static_cast<size_t>(L) * C : 0);

    // The kept run this one may start latest from, and where.
    AtHooks mine;
    for (const Intervention& iv : ivs) mine[{iv.hook, iv.layer}].push_back(iv);
    Resume at;
    const KeptRun* src = nullptr;
    for (const KeptRun* k : opt.all_logits ? std::vector<const KeptRun*>() : from) {
        const Resume b = k ? resume_from(c, mine, opt, wanted, r.tokens, *k) : Resume{};
        if (b.block > at.block || (b.block == at.block && b.same && !at.same)) at = b, src = k;
    }
    const int start = at.block;
    // A run that differs from the kept one only in its captures (a per-position
    // hook, an attention pattern) or options (the lens, top-k) stops after the last block its
    // captures need, and takes the rest from the kept run: nothing after can differ.
    int end = L;
    if (src && at.same) {
        end = start;
        // One past the block where each capture fires (block start-1's output: on entry, so start).
        for (const auto& [h, layer] : wanted) end = std::max(end, hook_is_per_block(h) ? layer + 1 : hook_before_blocks(h) ? 0 : L);
    }
    r.first_block = end == start ? L : start;
    r.end_block = end;
    // On entry, block start-1's output hook applies only what the kept run did not.
    std::vector<Intervention> entry_ivs;
    size_t skip = at.on_entry;
    for (const Intervention& iv : ivs) {
        if (iv.hook == Hook::ResidPost && iv.layer == start - 1 && skip > 0) {
            --skip;
            continue;
        }
        entry_ivs.push_back(iv);
    }
    if (start > 0) {
        // Blocks [0, start) as the kept run computed them, but for block start-1's output:
        // its hook fires again on entry, and pushes its stds and lens row.
        const RunResult& b = src->result;
        if (opt.capture == src->capture)
            for (const Capture& cap : b.captures) {
                Hook h;
                int layer;
                parse_hook_name(cap.name, c, h, layer);
                if (first_block_touched(h, layer, L) < start) r.captures.push_back(cap);
            }
        for (int h = 0; h < kHookCount; ++h) {
            const Hook hk = static_cast<Hook>(h);
            const int upto = hook_is_per_block(hk) ? start : hook_before_blocks(hk) ? 1 : 0;
            std::copy(b.stats[h].begin(), b.stats[h].begin() + upto, r.stats[h].begin());
        }
        r.hidden_std.assign(b.hidden_std.begin(), b.hidden_std.begin() + start);
        r.resid_std.assign(b.resid_std.begin(), b.resid_std.begin() + start - 1);
        if (opt.logit_lens)
            for (int l = 0; l < start - 1; ++l)
                std::memcpy(&lens_rows[static_cast<size_t>(l) * C], src->state.resid(l + 1, T - 1), sizeof(float) * C);
    }

    auto hook = [&](HookView& v) {
        // A resumed pass fires block start-1's output hook once, on entry.
        apply_interventions(start > 0 && v.hook == Hook::ResidPost && v.layer == start - 1 ? entry_ivs : ivs, v);
        const Stat s = stats_of(v);
        r.stats[static_cast<int>(v.hook)][std::max(v.layer, 0)] = s;
        if (!s.finite && r.nonfinite.empty()) r.nonfinite = hook_full_name(v.hook, v.layer);
        // HF hidden_states: the embeddings, then each block's output; the last is replaced
        // by ln_f's output below.
        if (v.hook == Hook::ResidPre && v.layer == 0) r.hidden_std.push_back(s.std);
        if (v.hook == Hook::ResidPost) {
            r.hidden_std.push_back(s.std);
            r.resid_std.push_back(s.std);
            if (opt.logit_lens)
                std::memcpy(&lens_rows[static_cast<size_t>(v.layer) * C], v.data + static_cast<size_t>(T - 1) * C, sizeof(float) * C);
        }
        for (const auto& w : wanted)
            if (w.first == v.hook && w.second == v.layer)
                r.captures.push_back({hook_full_name(v.hook, v.layer), v.shape, std::vector<float>(v.data, v.data + v.numel())});
    };
    // A run whose interventions all act past the middle block keeps no state: a later run
    // could take from it, beyond the baseline's forward, only those few blocks, which cost
    // less than the copy of the whole state and its fresh memory (in wasm, a third more on a
    // toggle at block 9 of 12 while the heap grows: measured).
    int departs = L;  // the first block where this run can differ from the baseline
    for (const Intervention& iv : ivs) departs = std::min(departs, first_block_touched(iv.hook, iv.layer, L));
    if (keep && (opt.all_logits || kept_state_bytes(c, T) > max_state_bytes || (!ivs.empty() && departs > L / 2))) keep = nullptr;
    // Every resume here recomputes all positions from its block, so residuals are enough.
    if (keep && start == 0 && end == L) keep->reserve(c, T, false);
    if (end < L) {
        // Blocks [start, end) for the captures, then the rest as the kept run has it.
        RunState s;
        s.tokens = r.tokens;
        m.gpt2.forward({Segment{start > 0 ? &src->state : &s, 0, nullptr}}, start, hook, Logits::None, start > 0, end);
        const RunResult& b = src->result;
        for (int h = 0; h < kHookCount; ++h) {
            const Hook hk = static_cast<Hook>(h);
            if (hook_is_per_block(hk)) std::copy(b.stats[h].begin() + end, b.stats[h].end(), r.stats[h].begin() + end);
            else if (!hook_before_blocks(hk)) r.stats[h] = b.stats[h];
        }
        r.hidden_std.insert(r.hidden_std.end(), b.hidden_std.begin() + r.hidden_std.size(), b.hidden_std.end());
        r.resid_std.insert(r.resid_std.end(), b.resid_std.begin() + r.resid_std.size(), b.resid_std.end());
        if (opt.logit_lens)
            for (int l = end; l < L - 1; ++l)
                std::memcpy(&lens_rows[static_cast<size_t>(l) * C], src->state.resid(l + 1, T - 1), sizeof(float) * C);
        r.logits = b.logits;
        if (keep) *keep = src->state;  // the same forward
    } else if (start > 0 && keep) {
        // This run's state: the kept one's blocks before `start`, its own from there.
        *keep = src->state;
        r.logits = m.gpt2.forward({Segment{keep, 0, keep}}, start, hook, Logits::Last, true);
    } else if (start > 0) {
        r.logits = m.gpt2.forward({Segment{&src->state, 0, nullptr}}, start, hook, Logits::Last, true);
    } else {
        RunState s;
        s.tokens = r.tokens;
        r.logits = m.gpt2.forward({Segment{&s, 0, keep}}, 0, hook, opt.all_logits ? Logits::All : Logits::Last);
        if (opt.all_logits) {
            r.token_loss = next_token_loss(r.logits, r.tokens, V);
            r.all_logits = std::move(r.logits);
            r.logits.assign(r.all_logits.end() - V, r.all_logits.end());
        }
    }
    r.hidden_std.back() = r.stats[static_cast<int>(Hook::LnFinal)][0].std;
    r.lse = log_sum_exp(r.logits.data(), V);
    r.top = top_k(r.logits.data(), V, opt.topk);
    r.interventions = ivs;

    if (opt.logit_lens) {
        // One GEMM over every block's row (the weights stream through once); the last
        // block's reading is the output itself.
        r.lens_logits = L > 1 ? unembed(m.gpt2, lens_rows.data(), L - 1) : std::vector<float>();
        r.lens_logits.insert(r.lens_logits.end(), r.logits.begin(), r.logits.end());
        const std::vector<double> p_final = probabilities(r.logits.data(), V, r.lse);
        for (int l = 0; l < L; ++l) {
            const float* row = &r.lens_logits[static_cast<size_t>(l) * V];
            const double lse = l == L - 1 ? r.lse : log_sum_exp(row, V);
            r.lens_lse.push_back(lse);
            r.lens.push_back({l, top_k(row, V, opt.topk, lse), kl_divergence(p_final.data(), r.logits.data(), r.lse, row, lse, V)});
        }
    }
    return r;
}

}  // namespace

RunResult run_model(const Model& m, const RunOptions& opt, const std::vector<const KeptRun*>& from) {
    return run_impl(m, opt, from, nullptr, 0);
}

KeptRun run_kept(const Model& m, const RunOptions& opt, const std::vector<const KeptRun*>& from, uint64_t max_state_bytes) {
    KeptRun k;
    k.result = run_impl(m, opt, from, &k.state, max_state_bytes);
    k.capture = opt.capture;
    return k;
}

Comparison compare_runs(RunResult& b, const RunResult& i, int k) {
    const int V = static_cast<int>(b.logits.size());
    if (b.tokens != i.tokens || i.logits.size() != b.logits.size())
        throw Error("compare: the two runs are not on the same prompt and model");
    Comparison out;
    out.kl = kl_divergence(b.logits.data(), b.lse, i.logits.data(), i.lse, V);
    // Probabilities as the page's log-softmax gives them: finite logits only.
    auto prob = [&](const RunResult& r, int id) {
        const double lp = r.logits[id] - r.lse;
        return std::isfinite(lp) ? std::exp(lp) : std::numeric_limits<double>::quiet_NaN();
    };
    std::vector<int> ids;
    for (size_t n = 0; n < b.top.size() && static_cast<int>(n) < k; ++n) ids.push_back(b.top[n].id);
    // Tokens that entered the intervened top k (not when its logits went non-finite: its
    // order is then arbitrary).
    for (size_t n = 0; n < i.top.size() && static_cast<int>(n) < k; ++n)
        if (std::find(ids.begin(), ids.end(), i.top[n].id) == ids.end() && std::isfinite(i.top[n].prob)) ids.push_back(i.top[n].id);
    for (int id : ids) out.top.push_back({id, prob(b, id), prob(i, id)});
    if (!b.lens.empty() && b.lens.size() == i.lens.size()) {
        if (b.lens_probs.empty())
            for (size_t l = 0; l < b.lens.size(); ++l) {
                const std::vector<double> p = probabilities(&b.lens_logits[l * V], V, b.lens_lse[l]);
                b.lens_probs.insert(b.lens_probs.end(), p.begin(), p.end());
            }
        for (size_t l = 0; l < b.lens.size(); ++l)
            out.lens.push_back({static_cast<int>(l),
                                kl_divergence(&b.lens_probs[l * V], &b.lens_logits[l * V], b.lens_lse[l], &i.lens_logits[l * V],
                                              i.lens_lse[l], V),
                                b.lens[l].top.empty() ? TopToken{} : b.lens[l].top[0],
                                i.lens[l].top.empty() ? TopToken{} : i.lens[l].top[0]});
    }
    return out;
}

}  // namespace hooklab
