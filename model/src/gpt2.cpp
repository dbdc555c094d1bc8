#include "hooklab/gpt2.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hooklab/error.h"
#include "hooklab/loader.h"

namespace hooklab {

size_t HookView::numel() const {
    size_t n = 1;
    for (int d : shape) n *= static_cast<size_t>(d);
    return n;
}

size_t Weights::bytes() const {
    size_t b = (wpe.size() + ln_f.weight.size() * 2) * 4 + lm_head.w.bytes();
    for (const auto& bl : blocks) {
        for (const Linear* l : {&bl.c_attn, &bl.attn_proj, &bl.c_fc, &bl.mlp_proj}) b += l->w.bytes() + l->bias.size() * 4;
        b += (bl.ln_1.weight.size() + bl.ln_1.bias.size() + bl.ln_2.weight.size() + bl.ln_2.bias.size()) * 4;
    }
    return b;
}

// ---------------------------------------------------------------- loading

GPT2 GPT2::from_safetensors(const Config& cfg, const uint8_t* data, size_t size, bool f16_weights) {
    // The streaming loader, fed the whole file at once: one code path for every way a
    // checkpoint arrives (file, memory, network stream).
    SafeTensorsStream stream(cfg, f16_weights, size);
    stream.feed(data, size);
    return stream.finish();
}

// ---------------------------------------------------------------- forward

namespace {

// LayerNorm over the last dim; statistics in double so huge or tiny scales stay finite.
void layernorm(const float* x, int T, int C, const LayerNormWeights& ln, double eps, float* y) {
    for (int t = 0; t < T; ++t) {
        const float* xr = x + static_cast<size_t>(t) * C;
        float* yr = y + static_cast<size_t>(t) * C;
        double mean = 0;
        for (int i = 0; i < C; ++i) mean += xr[i];
        mean /= C;
        double var = 0;
        for (int i = 0; i < C; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        var /= C;
        const double rstd = 1.0 / std::sqrt(var + eps);
        for (int i = 0; i < C; ++i)
            yr[i] = static_cast<float>((xr[i] - mean) * rstd) * ln.weight[i] + ln.bias[i];
    }
}

// e^z as straight-line arithmetic, so that a loop of it vectorises (libm's scalar
// tanhf/expm1f calls were 8 % of a wasm forward): e^z = 2^n e^r with n = round(z / ln 2)
// and |r| <= ln(2)/2, e^r from its Taylor series to degree 7 (truncation < 6e-9
// relative). z is clamped to [-87, 88], where 2^n stays a normal float; a NaN z
// becomes -87 (callers carry NaN through their other operand).
inline float exp_clamped(float z) {
    z = z > -87.0f ? z : -87.0f;
    z = z < 88.0f ? z : 88.0f;
    const float n = (z * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest: 1.5 * 2^23
    const float r = (z - n * 0.693359375f) - n * -2.12194440e-4f;     // ln 2 split: the first part is exact in n * hi
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) * (1 << 23);
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// q . k over one head, in 8 independent partial sums so that the loop vectorises.
inline float dot(const float* a, const float* b, int n) {
    float acc[8] = {};
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int i = 0; i < 8; ++i) acc[i] += a[d + i] * b[d + i];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; d < n; ++d) s += a[d] * b[d];
    return s;
}

}  // namespace

// HF's gelu_new, 0.5 x (1 + tanh(u)), with tanh(u) = 1 - 2 / (e^{2u} + 1): 1 + tanh
// rounds to exactly 0 for very negative u as torch's does (so gelu(-inf) is NaN there
// too), and the result stays within a few float ulps of torch.
float gelu_new(float x) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    const float u = k * (x + 0.044715f * x * x * x);
    const float t = 1.0f - 2.0f / (exp_clamped(2.0f * u) + 1.0f);
    return 0.5f * x * (1.0f + t);
}

std::vector<float> GPT2::forward(const std::vector<int>& tokens, const HookFn& hook, bool all_logits) const {
    const Config& c = config;
    const int T = static_cast<int>(tokens.size()), C = c.n_embd, H = c.n_head, D = c.d_head(), M = c.d_mlp();
    const int V = c.vocab_size;
    if (T < 1) throw Error("the prompt is empty: at least one token is needed");
    if (T > c.n_positions)
        throw Error("the prompt has " + std::to_string(T) + " tokens but the model's context is " +
                    std::to_string(c.n_positions));
    for (int id : tokens)
        if (id < 0 || id >= V) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");

    auto fire = [&](Hook h, int layer, std::vector<float>& buf, std::vector<int> shape) {
        if (!hook) return;
        HookView v{h, layer, buf.data(), std::move(shape)};
        hook(v);
    };
    const size_t TC = static_cast<size_t>(T) * C;

    // Embeddings.
    std::vector<float> embed(TC), pos(TC), resid(TC);
    for (int t = 0; t < T; ++t) {
        tied_embedding_row(weights.lm_head.w, tokens[t], &embed[static_cast<size_t>(t) * C]);
        std::memcpy(&pos[static_cast<size_t>(t) * C], &weights.wpe[static_cast<size_t>(t) * C], sizeof(float) * C);
    }
    fire(Hook::Embed, -1, embed, {T, C});
    fire(Hook::PosEmbed, -1, pos, {T, C});
    for (size_t i = 0; i < TC; ++i) resid[i] = embed[i] + pos[i];

    std::vector<float> ln(TC), qkv(TC * 3), q(TC), k(TC), v(TC), z(TC), attn_out(TC), mlp_out(TC);
    std::vector<float> scores(static_cast<size_t>(H) * T * T), pattern(scores.size());
    std::vector<float> pre(static_cast<size_t>(T) * M), post(pre.size());
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const float neg_inf = -std::numeric_limits<float>::infinity();

    for (int l = 0; l < c.n_layer; ++l) {
        const BlockWeights& w = weights.blocks[l];
        fire(Hook::ResidPre, l, resid, {T, C});

        // ---- attention
        layernorm(resid.data(), T, C, w.ln_1, c.layer_norm_epsilon, ln.data());
        fire(Hook::Ln1, l, ln, {T, C});
        gemm(ln.data(), T, w.c_attn.w, w.c_attn.bias.data(), qkv.data());
        fire(Hook::Qkv, l, qkv, {T, 3 * C});
        // [T, 3C] -> q, k, v each [T, H, D] (the columns of one head are contiguous).
        for (int t = 0; t < T; ++t) {
            const float* row = &qkv[static_cast<size_t>(t) * 3 * C];
            std::memcpy(&q[static_cast<size_t>(t) * C], row, sizeof(float) * C);
            std::memcpy(&k[static_cast<size_t>(t) * C], row + C, sizeof(float) * C);
            std::memcpy(&v[static_cast<size_t>(t) * C], row + 2 * C, sizeof(float) * C);
        }
        fire(Hook::Q, l, q, {T, H, D});
        fire(Hook::K, l, k, {T, H, D});
        fire(Hook::V, l, v, {T, H, D});

        // scores[h, i, j] = q_i . k_j / sqrt(D); the future (j > i) is masked.
        for (int h = 0; h < H; ++h)
            for (int i = 0; i < T; ++i) {
                float* srow = &scores[(static_cast<size_t>(h) * T + i) * T];
                const float* qi = &q[static_cast<size_t>(i) * C + h * D];
                for (int j = 0; j <= i; ++j) srow[j] = dot(qi, &k[static_cast<size_t>(j) * C + h * D], D) * scale;
                for (int j = i + 1; j < T; ++j) srow[j] = neg_inf;
            }
        fire(Hook::AttnScores, l, scores, {H, T, T});

        // Softmax over the visible prefix, max-subtracted so large scores stay finite.
        for (int h = 0; h < H; ++h)
            for (int i = 0; i < T; ++i) {
                const float* srow = &scores[(static_cast<size_t>(h) * T + i) * T];
                float* prow = &pattern[(static_cast<size_t>(h) * T + i) * T];
                float mx = neg_inf;
                for (int j = 0; j <= i; ++j) mx = std::max(mx, srow[j]);
                double sum = 0;
                for (int j = 0; j <= i; ++j) { prow[j] = std::exp(srow[j] - mx); sum += prow[j]; }
                for (int j = 0; j <= i; ++j) prow[j] = static_cast<float>(prow[j] / sum);
                for (int j = i + 1; j < T; ++j) prow[j] = 0.0f;
            }
        fire(Hook::Pattern, l, pattern, {H, T, T});

        // z[i, h, :] = sum_j pattern[h, i, j] v[j, h, :] -- over every j, so a hook that
        // writes into the masked part of the pattern is honoured, as in HuggingFace.
        std::fill(z.begin(), z.end(), 0.0f);
        for (int h = 0; h < H; ++h)
            for (int i = 0; i < T; ++i) {
                const float* prow = &pattern[(static_cast<size_t>(h) * T + i) * T];
                float* zi = &z[static_cast<size_t>(i) * C + h * D];
                for (int j = 0; j < T; ++j) {
                    const float p = prow[j];
                    if (p == 0.0f) continue;
                    const float* vj = &v[static_cast<size_t>(j) * C + h * D];
                    for (int d = 0; d < D; ++d) zi[d] += p * vj[d];
                }
            }
        fire(Hook::Z, l, z, {T, H, D});
        gemm(z.data(), T, w.attn_proj.w, w.attn_proj.bias.data(), attn_out.data());
        fire(Hook::AttnOut, l, attn_out, {T, C});
        for (size_t i = 0; i < TC; ++i) resid[i] += attn_out[i];
        fire(Hook::ResidMid, l, resid, {T, C});

        // ---- MLP
        layernorm(resid.data(), T, C, w.ln_2, c.layer_norm_epsilon, ln.data());
        fire(Hook::Ln2, l, ln, {T, C});
        gemm(ln.data(), T, w.c_fc.w, w.c_fc.bias.data(), pre.data());
        fire(Hook::MlpPre, l, pre, {T, M});
        for (size_t i = 0; i < pre.size(); ++i) post[i] = gelu_new(pre[i]);
        fire(Hook::MlpPost, l, post, {T, M});
        gemm(post.data(), T, w.mlp_proj.w, w.mlp_proj.bias.data(), mlp_out.data());
        fire(Hook::MlpOut, l, mlp_out, {T, C});
        for (size_t i = 0; i < TC; ++i) resid[i] += mlp_out[i];
        fire(Hook::ResidPost, l, resid, {T, C});
    }

    layernorm(resid.data(), T, C, weights.ln_f, c.layer_norm_epsilon, ln.data());
    fire(Hook::LnFinal, -1, ln, {T, C});
    const int rows = all_logits ? T : 1;
    const float* x = all_logits ? ln.data() : ln.data() + static_cast<size_t>(T - 1) * C;
    std::vector<float> logits(static_cast<size_t>(rows) * V);
    gemm(x, rows, weights.lm_head.w, nullptr, logits.data());
    fire(Hook::Logits, -1, logits, {rows, V});
    return logits;
}

double GPT2::flops_per_forward(int T, bool all_logits) const {
    const double C = config.n_embd, V = config.vocab_size;
    const double per_block = 2.0 * T * (C * 3 * C + C * C + C * 4 * C + 4 * C * C)  // the four GEMMs
                             + 2.0 * 2.0 * T * T * C / 2.0;                       // causal QK^T and PV
    return config.n_layer * per_block + 2.0 * (all_logits ? T : 1) * C * V;
}

std::vector<float> unembed(const GPT2& m, const float* resid, int rows) {
    const int C = m.config.n_embd;
    std::vector<float> ln(static_cast<size_t>(rows) * C), logits(static_cast<size_t>(rows) * m.config.vocab_size);
    layernorm(resid, rows, C, m.weights.ln_f, m.config.layer_norm_epsilon, ln.data());
    gemm(ln.data(), rows, m.weights.lm_head.w, nullptr, logits.data());
    return logits;
}

}  // namespace hooklab
