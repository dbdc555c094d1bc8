// TransformerLens's weight processing at load time: ProcessWeights.process_weights
// (transformer_lens 3.9 / 4.3 weight_processing.py), for GPT-2's LayerNorm blocks. Sums in
// double, each result rounded once to float (TransformerLens sums in float32: the two differ
// by float32 rounding).
#include "hooklab/processing.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "hooklab/error.h"
#include "hooklab/json_io.h"

namespace hooklab {

std::string Processing::describe() const {
    std::string s;
    auto add = [&](bool on, const char* name) {
        if (on) s += (s.empty() ? "" : ", ") + std::string(name);
    };
    add(fold_ln, "fold_ln");
    add(center_writing_weights, "center_writing_weights");
    add(center_unembed, "center_unembed");
    add(fold_value_biases, "fold_value_biases");
    return s;
}

const char* const kProcessingNames[4] = {"fold_ln", "center_writing_weights", "center_unembed", "fold_value_biases"};

Processing parse_processing(const std::string& list) {
    Processing p;
    if (list == "tl") return Processing::transformer_lens();
    std::vector<std::string> names(std::begin(kProcessingNames), std::end(kProcessingNames));
    size_t start = 0;
    while (start <= list.size()) {
        const size_t comma = std::min(list.find(',', start), list.size());
        const std::string n = list.substr(start, comma - start);
        if (n == "fold_ln") p.fold_ln = true;
        else if (n == "center_writing_weights") p.center_writing_weights = true;
        else if (n == "center_unembed") p.center_unembed = true;
        else if (n == "fold_value_biases") p.fold_value_biases = true;
        else {
            std::string msg = "--process: unknown weight processing \"" + n + "\"";
            const std::string near = closest_key(n, names);
            if (!near.empty()) msg += " (did you mean " + near + "?)";
            throw Error(msg + "; the options: fold_ln, center_writing_weights, center_unembed, fold_value_biases, or tl for all four");
        }
        start = comma + 1;
    }
    return p;
}

namespace {

// A dense [in, out] copy of a packed matrix, edited, then packed back in its orientation.
struct Dense {
    int in, out;
    std::vector<float> w;
    explicit Dense(const PackedMatrix& m) : in(m.in), out(m.out), w(unpack_matrix(m)) {}
    float& at(int i, int o) { return w[static_cast<size_t>(i) * out + o]; }
    void store(PackedMatrix& m) const {
        if (!m.transposed) {
            m = pack_matrix(w.data(), in, out, false, m.f16);
            return;
        }
        std::vector<float> t(w.size());  // [out, in]
        for (int i = 0; i < in; ++i)
            for (int o = 0; o < out; ++o) t[static_cast<size_t>(o) * in + i] = w[static_cast<size_t>(i) * out + o];
        m = pack_matrix(t.data(), in, out, true, m.f16);
    }
};

// y = LN(x) W + b with LN's weight g and bias beta: b += beta W, W = diag(g) W, then every
// column of W made mean-free over the input (d_model): LN's output is mean-free.
void fold_into(LayerNormWeights& ln, Dense& W, std::vector<float>& bias) {
    const int in = W.in, out = W.out;
    if (bias.empty()) bias.assign(out, 0.0f);
    for (int o = 0; o < out; ++o) {
        double s = 0;
        for (int i = 0; i < in; ++i) s += static_cast<double>(W.at(i, o)) * ln.bias[i];
        bias[o] = static_cast<float>(bias[o] + s);
    }
    for (int i = 0; i < in; ++i)
        for (int o = 0; o < out; ++o) W.at(i, o) *= ln.weight[i];
    for (int o = 0; o < out; ++o) {
        double m = 0;
        for (int i = 0; i < in; ++i) m += W.at(i, o);
        m /= in;
        for (int i = 0; i < in; ++i) W.at(i, o) = static_cast<float>(W.at(i, o) - m);
    }
    ln.weight.assign(ln.weight.size(), 1.0f);
    ln.bias.assign(ln.bias.size(), 0.0f);
}

// Each row of a [rows, C] matrix made mean-free.
void center_rows(float* x, size_t rows, int C) {
    for (size_t r = 0; r < rows; ++r) {
        float* v = x + r * C;
        double m = 0;
        for (int i = 0; i < C; ++i) m += v[i];
        m /= C;
        for (int i = 0; i < C; ++i) v[i] = static_cast<float>(v[i] - m);
    }
}

}  // namespace

void process_weights(GPT2& g, const Processing& p) {
    if (!p.any()) return;
    Config& c = g.config;
    if (c.processing.any()) throw Error("the weights are already processed (" + c.processing.describe() + ")");
    Weights& w = g.weights;
    const int C = c.n_embd, V = c.vocab_size, H = c.n_head, D = c.d_head();
    // W_E and W_U part: keep W_E apart before W_U changes.
    if ((p.fold_ln || p.center_writing_weights || p.center_unembed) && w.wte.empty()) {
        w.wte.resize(static_cast<size_t>(V) * C);
        for (int v = 0; v < V; ++v) tied_embedding_row(w.lm_head.w, v, &w.wte[static_cast<size_t>(v) * C]);
    }
    if (p.fold_ln) {
        for (BlockWeights& b : w.blocks) {
            Dense qkv(b.c_attn.w), fc(b.c_fc.w);
            fold_into(b.ln_1, qkv, b.c_attn.bias);
            fold_into(b.ln_2, fc, b.c_fc.bias);
            qkv.store(b.c_attn.w);
            fc.store(b.c_fc.w);
        }
        Dense U(w.lm_head.w);
        fold_into(w.ln_f, U, w.lm_head.bias);
        U.store(w.lm_head.w);
    }
    if (p.center_writing_weights) {
        center_rows(w.wte.data(), V, C);
        center_rows(w.wpe.data(), static_cast<size_t>(c.n_positions), C);
        for (BlockWeights& b : w.blocks)
            for (Linear* l : {&b.attn_proj, &b.mlp_proj}) {
                Dense W(l->w);
                center_rows(W.w.data(), W.in, C);
                W.store(l->w);
                center_rows(l->bias.data(), 1, C);
            }
    }
    if (p.center_unembed) {
        Dense U(w.lm_head.w);
        center_rows(U.w.data(), C, V);
        U.store(w.lm_head.w);
        if (!w.lm_head.bias.empty()) center_rows(w.lm_head.bias.data(), 1, V);
    }
    if (p.fold_value_biases) {
        for (BlockWeights& b : w.blocks) {
            const Dense O(b.attn_proj.w);  // rows (head, d_head)
            float* b_V = &b.c_attn.bias[2 * C];
            for (int m = 0; m < C; ++m) {
                double s = 0;
                for (int r = 0; r < H * D; ++r) s += static_cast<double>(b_V[r]) * O.w[static_cast<size_t>(r) * C + m];
                b.attn_proj.bias[m] = static_cast<float>(b.attn_proj.bias[m] + s);
            }
            std::fill(b_V, b_V + C, 0.0f);
            if (p.center_writing_weights) center_rows(b.attn_proj.bias.data(), 1, C);
        }
    }
    c.processing = p;
}

}  // namespace hooklab
