#include "hooklab/forward_plan.h"

#include <algorithm>
#include <string>

#include "hooklab/error.h"

namespace hooklab {

int ForwardPlan::out_row(int r) const {
    return kept.empty() ? r : static_cast<int>(std::lower_bound(kept.begin(), kept.end(), r) - kept.begin());
}

ForwardPlan plan_forward(const Config& c, const std::vector<const PackedMatrix*>& last_gemms, const std::vector<Segment>& segs,
                         int start, int end, Logits which, bool fire_entry, bool hooked) {
    const int S = static_cast<int>(segs.size());
    if (S < 1) throw Error("forward: no sequence to run");
    if (start < 0 || start >= c.n_layer) throw Error("forward: start block " + std::to_string(start) + " is out of range");
    if (end < 0) end = c.n_layer;
    const bool partial = end < c.n_layer;
    const bool saving = std::any_of(segs.begin(), segs.end(), [](const Segment& g) { return g.save != nullptr; });
    if (end < start || end > c.n_layer || (partial && (which != Logits::None || saving)))
        throw Error("forward: a pass that stops at block " + std::to_string(end) + " computes no logits and saves no state");

    ForwardPlan p;
    p.segments = S;
    p.start = start;
    p.end = end;
    p.n_layer = c.n_layer;
    p.partial = partial;
    p.fire_entry = fire_entry;
    p.which = which;
    p.T.resize(S);
    p.first.resize(S);
    p.row0.assign(S + 1, 0);
    p.sc0.assign(S + 1, 0);
    p.kv0.assign(S + 1, 0);
    for (int s = 0; s < S; ++s) {
        const Segment& g = segs[s];
        const int T = static_cast<int>(g.from->tokens.size());
        check_prompt_length(c, T);
        for (int id : g.from->tokens)
            if (id < 0 || id >= c.vocab_size) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
        if (g.first < 0 || g.first >= T) throw Error("forward: first position " + std::to_string(g.first) + " is out of range");
        if (g.save) {
            // Room doubles, so that appending one token at a time copies little.
            if (g.save->capacity() < T)
                g.save->reserve(c, std::min(c.n_positions, std::max(T, 2 * g.save->capacity())), g.save->holds_keys_values());
            if (g.save != g.from) g.save->tokens = g.from->tokens;
        }
        if ((g.first > 0 || start > 0) && g.from->capacity() < T)
            throw Error("forward: the run state holds fewer positions than the pass resumes from");
        if (g.first > 0 && !g.from->holds_keys_values())
            throw Error("forward: a pass from position " + std::to_string(g.first) + " needs a run state with keys and values");
        p.T[s] = T;
        p.first[s] = g.first;
        p.row0[s + 1] = p.row0[s] + (T - g.first);
        p.sc0[s + 1] = p.sc0[s] + static_cast<size_t>(c.n_head) * (T - g.first) * T;
        p.kv0[s + 1] = p.kv0[s] + T;
    }

    // Nothing but the logits watches the other rows. A row the kernels need beside a kept
    // one may in turn need others, so the set grows until it stops changing.
    const int R = p.rows();
    if (!hooked && which == Logits::Last && !saving) {
        for (int s = 0; s < S; ++s) p.kept.push_back(p.row0[s + 1] - 1);
        for (size_t before = 0; before != p.kept.size();) {
            before = p.kept.size();
            for (const PackedMatrix* w : last_gemms) p.kept = gemm_exact_rows(*w, R, p.kept);
        }
        if (static_cast<int>(p.kept.size()) == R) p.kept.clear();
    }
    if (!p.kept.empty()) {
        p.is_kept.assign(R, 0);
        for (int r : p.kept) p.is_kept[r] = 1;
    }
    return p;
}

}  // namespace hooklab
