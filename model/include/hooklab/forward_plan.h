#pragma once
// The shape of one GPT2::forward, settled before it runs: which blocks, which rows, where
// each segment's rows sit in the shared buffers, and which rows the last block may skip.
// The pass itself then only computes; every decision about batching, resuming and
// trimming lives here.
#include <cstddef>
#include <vector>

#include "hooklab/config.h"
#include "hooklab/kernels.h"
#include "hooklab/run_state.h"

namespace hooklab {

struct ForwardPlan {
    int segments = 0;
    int start = 0, end = 0;    // blocks [start, end) run
    int n_layer = 0;
    bool partial = false;      // end < n_layer: no ln_f, no logits, no state saved
    bool fire_entry = false;   // start > 0: hook_resid_post of block start-1 fires on the residual read back
    Logits which = Logits::All;

    // Per segment: its length T and the first position computed.
    std::vector<int> T, first;
    // [segments + 1] offsets. Segment s owns rows [row0[s], row0[s + 1]) of every [rows, .]
    // buffer, [sc0[s], sc0[s + 1]) of the attention buffers ([H, its rows, T] each), and
    // [kv0[s], kv0[s] + T[s]) of the key and value rows it attends to.
    std::vector<int> row0;
    std::vector<size_t> sc0, kv0;

    // A bare pass that wants each segment's last logits and saves no state: the last block
    // computes keys and values for every row, but the rest of it (attention's queries on,
    // the MLP, ln_f) only for these rows, increasing: the last ones, and beside them the
    // rows the kernels need to give those the very bits of the full pass (gemm_exact_rows).
    // Empty: every row.
    std::vector<int> kept;
    std::vector<char> is_kept;  // [rows] when kept is not empty

    int rows() const { return row0.back(); }
    int rows(int s) const { return row0[s + 1] - row0[s]; }
    // Whether block `layer` computes only the kept rows past its keys and values.
    bool trims(int layer) const { return !kept.empty() && layer == n_layer - 1; }
    // Rows of the residual after block `layer`'s attention (trimmed rows move to the front).
    int rows_after(int layer) const { return trims(layer) ? static_cast<int>(kept.size()) : rows(); }
    // Where row r of the pass sits in the residual after the last block.
    int out_row(int r) const;
    // f(segment, absolute position, row) for every computed row.
    template <class F>
    void each_row(F&& f) const {
        for (int s = 0; s < segments; ++s)
            for (int t = first[s]; t < T[s]; ++t) f(s, t, row0[s] + t - first[s]);
    }
};

// Checks a forward's request, throwing the forward's errors, and lays it out. Each save
// state grows to hold its sequence and takes its tokens here, before what the state to
// read holds is checked: generation saves into the very state it resumes from.
// `hooked`: whether a hook watches (then every row is computed). `last_gemms`: the last
// block's matrices past its keys and values (attention's output, the MLP's two), whose
// kernels decide which rows a trimmed pass must keep.
ForwardPlan plan_forward(const Config& c, const std::vector<const PackedMatrix*>& last_gemms, const std::vector<Segment>& segs,
                         int start, int end, Logits which, bool fire_entry, bool hooked);

}  // namespace hooklab
