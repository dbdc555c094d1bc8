#include "hooklab/run_state.h"

#include <cstring>

namespace hooklab {

void RunState::reserve(const Config& c, int positions, bool keys_values) {
    const bool same = C_ == c.n_embd && n_layer_ == c.n_layer && kv_ == keys_values;
    if (positions <= capacity_ && same) return;
    const int slots = keys_values ? c.n_layer * 3 + 1 : c.n_layer + 1, keep = same ? capacity_ : 0;
    std::vector<float> arena(static_cast<size_t>(slots) * positions * c.n_embd);
    for (int s = 0; s < slots && keep > 0; ++s)
        std::memcpy(&arena[static_cast<size_t>(s) * positions * c.n_embd], slot(s, 0), sizeof(float) * keep * c.n_embd);
    arena_.swap(arena);
    n_layer_ = c.n_layer;
    C_ = c.n_embd;
    capacity_ = positions;
    kv_ = keys_values;
}

}  // namespace hooklab
