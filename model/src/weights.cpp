#include "hooklab/weights.h"

#include <algorithm>

#include "hooklab/error.h"
#include "hooklab/json_io.h"

namespace hooklab {

namespace {

const char* const kBlockWeights[] = {"ln1.w", "ln1.b", "attn.W_Q", "attn.W_K", "attn.W_V", "attn.W_O", "attn.b_Q",
                                     "attn.b_K", "attn.b_V", "attn.b_O", "ln2.w", "ln2.b", "mlp.W_in", "mlp.b_in",
                                     "mlp.W_out", "mlp.b_out"};

// Block L's weight `local` ("attn.W_Q"), in TransformerLens's layout.
WeightTensor block_weight(const GPT2& g, int L, const std::string& local) {
    const Config& c = g.config;
    const int C = c.n_embd, H = c.n_head, D = c.d_head(), M = c.d_mlp();
    const BlockWeights& b = g.weights.blocks[L];
    WeightTensor t;
    auto vec = [&](const std::vector<float>& v) {
        t.shape = {static_cast<int>(v.size())};
        t.data = v;
    };
    if (local == "ln1.w") vec(b.ln_1.weight);
    else if (local == "ln1.b") vec(b.ln_1.bias);
    else if (local == "ln2.w") vec(b.ln_2.weight);
    else if (local == "ln2.b") vec(b.ln_2.bias);
    else if (local == "mlp.b_in") vec(b.c_fc.bias);
    else if (local == "mlp.b_out") vec(b.mlp_proj.bias);
    else if (local == "attn.b_O") vec(b.attn_proj.bias);
    else if (local == "mlp.W_in") { t.shape = {C, M}; t.data = unpack_matrix(b.c_fc.w); }
    else if (local == "mlp.W_out") { t.shape = {M, C}; t.data = unpack_matrix(b.mlp_proj.w); }
    else if (local == "attn.W_O") { t.shape = {H, D, C}; t.data = unpack_matrix(b.attn_proj.w); }  // rows (head, d_head)
    else if (local == "attn.W_Q" || local == "attn.W_K" || local == "attn.W_V") {
        // c_attn [C, 3C], columns [Q | K | V], each (head, d_head): W_Q[h][i][d] = c_attn[i][h * D + d].
        const int part = local == "attn.W_Q" ? 0 : local == "attn.W_K" ? 1 : 2;
        const std::vector<float> w = unpack_matrix(b.c_attn.w);
        t.shape = {H, C, D};
        t.data.resize(static_cast<size_t>(H) * C * D);
        for (int h = 0; h < H; ++h)
            for (int i = 0; i < C; ++i)
                std::copy_n(&w[static_cast<size_t>(i) * 3 * C + part * C + h * D], D, &t.data[(static_cast<size_t>(h) * C + i) * D]);
    } else if (local == "attn.b_Q" || local == "attn.b_K" || local == "attn.b_V") {
        const int part = local == "attn.b_Q" ? 0 : local == "attn.b_K" ? 1 : 2;
        t.shape = {H, D};
        t.data.assign(b.c_attn.bias.begin() + part * C, b.c_attn.bias.begin() + (part + 1) * C);
    }
    return t;
}

}  // namespace

std::vector<std::string> weight_names(const Config& c) {
    std::vector<std::string> out = {"embed.W_E", "pos_embed.W_pos"};
    for (int L = 0; L < c.n_layer; ++L)
        for (const char* w : kBlockWeights) out.push_back("blocks." + std::to_string(L) + "." + w);
    out.insert(out.end(), {"ln_final.w", "ln_final.b", "unembed.W_U", "unembed.b_U", "W_E", "W_pos", "W_U", "b_U"});
    for (const char* w : kBlockWeights) {
        const std::string s(w);
        if (s.rfind("ln", 0) != 0) out.push_back(s.substr(s.find('.') + 1));
    }
    return out;
}

WeightTensor weight_tensor(const GPT2& g, const std::string& name) {
    const Config& c = g.config;
    const int C = c.n_embd, V = c.vocab_size;
    const Weights& w = g.weights;
    WeightTensor t;
    t.name = name;
    if (name == "embed.W_E" || name == "W_E") {
        t.shape = {V, C};
        if (!w.wte.empty()) {  // untied by weight processing
            t.data = w.wte;
            return t;
        }
        t.data.resize(static_cast<size_t>(V) * C);
        for (int v = 0; v < V; ++v) tied_embedding_row(w.lm_head.w, v, &t.data[static_cast<size_t>(v) * C]);
        return t;
    }
    if (name == "unembed.W_U" || name == "W_U") {
        t.shape = {C, V};
        t.data = unpack_matrix(w.lm_head.w);  // [in = C, out = V]
        return t;
    }
    if (name == "unembed.b_U" || name == "b_U") {
        t.shape = {V};
        t.data = w.lm_head.bias;  // set by weight processing (fold_ln, center_unembed)
        if (t.data.empty()) t.data.assign(V, 0.0f);
        return t;
    }
    if (name == "pos_embed.W_pos" || name == "W_pos") {
        t.shape = {c.n_positions, C};
        t.data = w.wpe;
        return t;
    }
    if (name == "ln_final.w" || name == "ln_final.b") {
        t.data = name == "ln_final.w" ? w.ln_f.weight : w.ln_f.bias;
        t.shape = {C};
        return t;
    }
    if (name.rfind("blocks.", 0) == 0) {
        const size_t dot = name.find('.', 7);
        const std::string num = name.substr(7, dot == std::string::npos ? std::string::npos : dot - 7);
        if (dot != std::string::npos && !num.empty() && num.size() < 6 && num.find_first_not_of("0123456789") == std::string::npos) {
            const int L = std::stoi(num);
            const std::string local = name.substr(dot + 1);
            if (std::find(std::begin(kBlockWeights), std::end(kBlockWeights), local) != std::end(kBlockWeights)) {
                if (L >= c.n_layer)
                    throw Error("weight " + name + ": block " + num + " is out of range (this model has blocks 0.." +
                                std::to_string(c.n_layer - 1) + ")");
                WeightTensor b = block_weight(g, L, local);
                b.name = name;
                return b;
            }
        }
    } else {
        // A per-block weight stacked over the blocks: HookedTransformer's model.W_Q.
        for (const char* full : kBlockWeights) {
            const std::string s(full);
            if (s.rfind("ln", 0) == 0 || s.substr(s.find('.') + 1) != name) continue;
            for (int L = 0; L < c.n_layer; ++L) {
                WeightTensor b = block_weight(g, L, s);
                if (L == 0) {
                    t.shape = b.shape;
                    t.shape.insert(t.shape.begin(), c.n_layer);
                    t.data.reserve(b.data.size() * c.n_layer);
                }
                t.data.insert(t.data.end(), b.data.begin(), b.data.end());
            }
            return t;
        }
    }
    std::string msg = "unknown weight \"" + name + "\"";
    const std::string near = closest_key(name, weight_names(c));
    if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
    throw Error(msg + "; TransformerLens's names: embed.W_E, pos_embed.W_pos, blocks.L.ln1.w/b, blocks.L.attn.W_Q/W_K/W_V/W_O, "
                      "blocks.L.attn.b_Q/b_K/b_V/b_O, blocks.L.ln2.w/b, blocks.L.mlp.W_in/b_in/W_out/b_out, ln_final.w/b, "
                      "unembed.W_U/b_U; W_E, W_pos, W_U, b_U; W_Q ... b_out stacked over the blocks");
}

}  // namespace hooklab
