#pragma once
// What one forward reads and leaves behind: the run state a pass resumes from, the
// sequences a pass computes, and which logits it returns. Below both gpt2.h and
// forward_plan.h, which lays a pass out before gpt2.cpp runs it.
#include <vector>

#include "hooklab/config.h"

namespace hooklab {

// What a forward leaves behind so that later work can resume from it: for every block,
// the key and value of every position and the residual stream entering the block
// (before its hook_resid_pre fires), and the final residual (after the last block,
// before ln_f). One arena, laid out [n_layer * 3 + 1][capacity][C].
// A state of residuals only ([n_layer + 1][capacity][C], a third of the memory) serves a
// pass that recomputes every position from some block on: keys and values are read only
// for positions before a pass's first one.
class RunState {
public:
    std::vector<int> tokens;

    // Room for `positions` positions, keeping what is held (when the layout stays).
    void reserve(const Config& c, int positions, bool keys_values = true);
    int capacity() const { return capacity_; }
    bool holds_keys_values() const { return kv_; }
    size_t bytes() const { return arena_.size() * sizeof(float); }
    // k and v exist only in a state with keys and values (forward checks before reading them).
    float* k(int layer, int pos) { return slot(layer * 3 + 0, pos); }
    float* v(int layer, int pos) { return slot(layer * 3 + 1, pos); }
    // layer == n_layer: the final residual (the arena's last slot).
    float* resid(int layer, int pos) { return slot(!kv_ ? layer : layer == n_layer_ ? layer * 3 : layer * 3 + 2, pos); }
    const float* k(int layer, int pos) const { return const_cast<RunState*>(this)->k(layer, pos); }
    const float* v(int layer, int pos) const { return const_cast<RunState*>(this)->v(layer, pos); }
    const float* resid(int layer, int pos) const { return const_cast<RunState*>(this)->resid(layer, pos); }

private:
    float* slot(int s, int pos) { return arena_.data() + (static_cast<size_t>(s) * capacity_ + pos) * C_; }
    int n_layer_ = 0, C_ = 0, capacity_ = 0;
    bool kv_ = true;
    std::vector<float> arena_;
};

// Which logits a pass computes: every computed row, each segment's last row, or none (the
// pass stops after ln_final fires: for callers that need only a few logit columns).
enum class Logits { All, Last, None };

// One sequence's share of a pass that starts at some block and computes positions
// [first, T) of from->tokens (T = its size).
struct Segment {
    // Holds the keys and values of positions < first for every block the pass runs, and,
    // when the pass starts after block 0, the residual entering that block at positions
    // >= first. A pass from block 0 at first = 0 reads only its tokens.
    const RunState* from = nullptr;
    int first = 0;
    // If set, receives the keys, values and residuals of the positions computed (it may
    // be `from` itself: generation appends a token and computes only the new position).
    RunState* save = nullptr;
};

}  // namespace hooklab
