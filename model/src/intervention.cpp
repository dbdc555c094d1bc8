#include "hooklab/intervention.h"

#include <algorithm>
#include <cmath>

#include "hooklab/error.h"
#include "hooklab/rng.h"

namespace hooklab {

// ---------------------------------------------------------------- selectors

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

bool operator==(const Selector& a, const Selector& b) {
    return a.kind == b.kind && a.begin == b.begin && a.end == b.end && a.list == b.list;
}

// ---------------------------------------------------------------- interventions

bool operator==(const Intervention& a, const Intervention& b) {
    return a.form == b.form && a.op == b.op && a.hook == b.hook && a.layer == b.layer && a.head == b.head &&
           a.positions == b.positions && a.heads == b.heads && a.features == b.features && a.factor == b.factor &&
           a.value == b.value && a.mean == b.mean && a.std == b.std && a.seed == b.seed && !a.tensor == !b.tensor &&
           (!a.tensor || a.tensor == b.tensor || *a.tensor == *b.tensor);
}

std::string intervention_kind(const Intervention& iv) {
    switch (iv.form) {
        case Intervention::ZeroHeadK: return "zero_head_k";
        case Intervention::NoiseEvenNeurons: return "noise_even_neurons";
        case Intervention::ScaleHidden: return "scale_hidden";
        case Intervention::General: break;
    }
    switch (iv.op) {
        case Intervention::Zero: return "zero";
        case Intervention::Scale: return "scale";
        case Intervention::Add: return "add";
        case Intervention::Set: return "set";
        case Intervention::Noise: return "noise";
    }
    return "";
}

void validate_for_length(const Intervention& iv, const Config& c, int T, int logits_rows) {
    const HookInfo& info = hook_info(iv.hook);
    iv.positions.validate(dim_length(info.dims[info.pos_axis], c, T, logits_rows), "positions");
    if (info.dims[info.feat_axis] == Dim::Key) iv.features.validate(T, "features (key positions)");
    if (iv.tensor) {
        const std::vector<int> shape = hook_shape(iv.hook, c, T, logits_rows);
        size_t whole = 1, selected = 1;
        std::string dims;
        for (size_t a = 0; a < shape.size(); ++a) {
            whole *= shape[a];
            const int ai = static_cast<int>(a);
            const std::vector<char> m = ai == info.pos_axis ? iv.positions.mask(shape[a])
                                      : ai == info.head_axis ? iv.heads.mask(shape[a])
                                      : ai == info.feat_axis ? iv.features.mask(shape[a]) : std::vector<char>(shape[a], 1);
            selected *= static_cast<size_t>(std::count(m.begin(), m.end(), 1));
            dims += (a ? ", " : "") + std::to_string(shape[a]);
        }
        const size_t n = iv.tensor->size();
        if (n != whole && n != selected)
            throw Error("intervention set: the tensor has " + std::to_string(n) + " values; " + hook_full_name(iv.hook, iv.layer) +
                        " is [" + dims + "] here (" + std::to_string(whole) + " values) and the selection holds " +
                        std::to_string(selected) + ": give either");
    }
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
        // A tensor's index of each element: the whole tensor's row-major index, or, when it
        // holds the selection only, the element's rank among the selected (the selection is a
        // product of per-axis masks, so a rank per axis).
        const float* values = iv.tensor ? iv.tensor->data() : nullptr;
        std::vector<size_t> rank_of[3];
        size_t count[3] = {0, 0, 0};
        for (int a = 0; a < 3 && values; ++a) {
            rank_of[a].resize(keep[a].size());
            for (size_t i = 0; i < keep[a].size(); ++i) rank_of[a][i] = keep[a][i] ? count[a]++ : 0;
        }
        const bool whole = iv.tensor && iv.tensor->size() == static_cast<size_t>(full[0]) * full[1] * full[2];
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
                        case Intervention::Set:
                            x = !values ? static_cast<float>(iv.value)
                                : whole ? values[(static_cast<size_t>(A) * full[1] + B) * full[2] + E]
                                        : values[(rank_of[0][A] * count[1] + rank_of[1][B]) * count[2] + rank_of[2][E]];
                            break;
                        case Intervention::Noise: x = static_cast<float>(iv.mean + iv.std * gaussian_at(iv.seed, pos, feature)); break;
                    }
                }
            }
        }
    }
}

}  // namespace hooklab
