#include "hooklab/gpt2.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hooklab/error.h"
#include "hooklab/loader.h"
#include "hooklab/parallel.h"

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

// Work (multiply-adds, roughly) per parallel_for chunk: handing a chunk to the pool costs
// a few microseconds, so a chunk should be worth well more than that, and a loop of less
// stays on the calling thread.
constexpr double kChunkWork = 1 << 15;

// The grain for items of `work` each.
int grain_for(double work) { return static_cast<int>(std::clamp(std::ceil(kChunkWork / std::max(work, 1.0)), 1.0, 1e9)); }

// LayerNorm of rows t0 .. t1-1 over the last dim; statistics in double so huge or tiny
// scales stay finite.
void layernorm_rows(const float* x, int t0, int t1, int C, const LayerNormWeights& ln, double eps, float* y) {
    for (int t = t0; t < t1; ++t) {
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

// Rows are independent: they are spread over the pool.
void layernorm(const float* x, int T, int C, const LayerNormWeights& ln, double eps, float* y) {
    parallel_for(T, grain_for(4.0 * C), [&](int t0, int t1) { layernorm_rows(x, t0, t1, C, ln, eps, y); });
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

std::vector<float> GPT2::forward(const std::vector<int>& tokens, const HookFn& hook, bool all_logits) const {
    RunState s;
    s.tokens = tokens;
    return forward(std::vector<Segment>{{&s, 0, nullptr}}, 0, hook, all_logits ? Logits::All : Logits::Last);
}

std::vector<float> GPT2::forward(const std::vector<Segment>& segs, int start, const HookFn& hook, Logits which,
                                 bool fire_entry, int end) const {
    const Config& c = config;
    const int C = c.n_embd, H = c.n_head, D = c.d_head(), M = c.d_mlp(), V = c.vocab_size;
    const int S = static_cast<int>(segs.size());
    if (S < 1) throw Error("forward: no sequence to run");
    if (start < 0 || start >= c.n_layer) throw Error("forward: start block " + std::to_string(start) + " is out of range");
    if (end < 0) end = c.n_layer;
    const bool partial = end < c.n_layer;
    const bool saving = std::any_of(segs.begin(), segs.end(), [](const Segment& g) { return g.save != nullptr; });
    if (end < start || end > c.n_layer || (partial && (which != Logits::None || saving)))
        throw Error("forward: a pass that stops at block " + std::to_string(end) + " computes no logits and saves no state");

    // Segment s owns rows [row0[s], row0[s] + rows) of every [rows, .] buffer, and
    // [sc0[s], sc0[s + 1]) of the attention buffers ([H, rows, T] each).
    std::vector<int> Ts(S), firsts(S), row0(S + 1, 0);
    std::vector<size_t> sc0(S + 1, 0);
    for (int s = 0; s < S; ++s) {
        const Segment& g = segs[s];
        const int T = static_cast<int>(g.from->tokens.size());
        check_prompt_length(c, T);
        for (int id : g.from->tokens)
            if (id < 0 || id >= V) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
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
        Ts[s] = T;
        firsts[s] = g.first;
        row0[s + 1] = row0[s] + (T - g.first);
        sc0[s + 1] = sc0[s] + static_cast<size_t>(H) * (T - g.first) * T;
    }
    const int R = row0[S];
    const size_t RC = static_cast<size_t>(R) * C;

    auto fire_view = [&](Hook h, int layer, float* data, std::vector<int> shape, int s, int pos0, int n_pos) {
        HookView v{h, layer, data, std::move(shape)};
        v.pos0 = pos0;
        v.n_pos = n_pos;
        v.segment = s;
        hook(v);
    };
    // A [rows, width] (or [rows, H, D]) activation, once per segment.
    auto fire = [&](Hook h, int layer, std::vector<float>& buf, std::vector<int> tail) {
        if (!hook) return;
        const size_t width = buf.size() / R;
        for (int s = 0; s < S; ++s) {
            std::vector<int> shape{row0[s + 1] - row0[s]};
            shape.insert(shape.end(), tail.begin(), tail.end());
            fire_view(h, layer, buf.data() + row0[s] * width, std::move(shape), s, firsts[s], Ts[s]);
        }
    };
    auto fire_attn = [&](Hook h, int layer, std::vector<float>& buf) {
        if (!hook) return;
        for (int s = 0; s < S; ++s)
            fire_view(h, layer, buf.data() + sc0[s], {H, row0[s + 1] - row0[s], Ts[s]}, s, firsts[s], Ts[s]);
    };
    // Calls f(segment, absolute position, row) for every computed row.
    auto each_row = [&](auto&& f) {
        for (int s = 0; s < S; ++s)
            for (int t = firsts[s]; t < Ts[s]; ++t) f(s, t, row0[s] + t - firsts[s]);
    };
    auto row = [&](std::vector<float>& buf, int r) { return &buf[static_cast<size_t>(r) * C]; };

    // The residual stream entering the first block run: the embeddings, or the saved one.
    std::vector<float> resid(RC);
    if (start == 0) {
        std::vector<float> embed(RC), pos(RC);
        each_row([&](int s, int t, int r) {
            tied_embedding_row(weights.lm_head.w, segs[s].from->tokens[t], row(embed, r));
            std::memcpy(row(pos, r), &weights.wpe[static_cast<size_t>(t) * C], sizeof(float) * C);
        });
        fire(Hook::Embed, -1, embed, {C});
        fire(Hook::PosEmbed, -1, pos, {C});
        for (size_t i = 0; i < RC; ++i) resid[i] = embed[i] + pos[i];
    } else {
        each_row([&](int s, int t, int r) { std::memcpy(row(resid, r), segs[s].from->resid(start, t), sizeof(float) * C); });
        if (fire_entry) fire(Hook::ResidPost, start - 1, resid, {C});
    }
    auto save_rows = [&](std::vector<float>& buf, float* (RunState::*where)(int, int), int layer, bool kv = false) {
        each_row([&](int s, int t, int r) {
            if (segs[s].save && (!kv || segs[s].save->holds_keys_values())) std::memcpy((segs[s].save->*where)(layer, t), row(buf, r), sizeof(float) * C);
        });
    };

    std::vector<float> ln(RC), qkv(RC * 3), q(RC), k(RC), v(RC), z(RC), attn_out(RC), mlp_out(RC);
    std::vector<float> scores(sc0[S]), pattern(scores.size());
    std::vector<float> pre(static_cast<size_t>(R) * M), post(pre.size());
    // The key and value rows segment s attends to: [kv0[s], kv0[s] + Ts[s]) of kj and vj.
    std::vector<size_t> kv0(S + 1, 0);
    for (int s = 0; s < S; ++s) kv0[s + 1] = kv0[s] + Ts[s];
    std::vector<const float*> kj(kv0[S]), vj(kv0[S]);
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const float neg_inf = -std::numeric_limits<float>::infinity();

    // A bare pass that wants each segment's last logits and saves no state: nothing watches
    // the other rows, so the last block computes keys and values for every row but the rest
    // (attention's queries on, the MLP, ln_f) only for `kept` rows: the last ones, and
    // beside them the rows the kernels need to give those the very bits of the full pass
    // (gemm_exact_rows). Empty: every row.
    std::vector<int> kept;
    if (!hook && which == Logits::Last && !saving) {
        for (int s = 0; s < S; ++s) kept.push_back(row0[s + 1] - 1);
        const BlockWeights& wl = weights.blocks.back();
        for (size_t before = 0; before != kept.size();) {
            before = kept.size();
            for (const Linear* m : {&wl.attn_proj, &wl.c_fc, &wl.mlp_proj}) kept = gemm_exact_rows(m->w, R, kept);
        }
        if (static_cast<int>(kept.size()) == R) kept.clear();
    }
    std::vector<char> query(kept.empty() ? 0 : R, 0);  // the last block's query rows (when kept)
    for (int r : kept) query[r] = 1;
    bool only_kept = false;  // in the last block, past the keys and values
    auto skip = [&](int r) { return only_kept && !query[r]; };

    // Attention, one (segment, head) at a time: each writes only its own slices of scores,
    // pattern and z, with the same arithmetic in the same order whichever thread runs it,
    // so the split over threads changes no bit.
    // scores[h, i, j] = q_i . k_j / sqrt(D); the future (j > i) is masked.
    auto head_scores = [&](int s, int h) {
        const int T = Ts[s], first = firsts[s], rows = T - first;
        const float* const* ks = &kj[kv0[s]];
        for (int r = 0; r < rows; ++r) {
            if (skip(row0[s] + r)) continue;
            const int i = first + r;
            float* srow = &scores[sc0[s] + (static_cast<size_t>(h) * rows + r) * T];
            const float* qi = row(q, row0[s] + r) + h * D;
            for (int j = 0; j <= i; ++j) srow[j] = dot(qi, ks[j] + h * D, D) * scale;
            for (int j = i + 1; j < T; ++j) srow[j] = neg_inf;
        }
    };
    // Softmax over the visible prefix, max-subtracted so large scores stay finite.
    auto head_softmax = [&](int s, int h) {
        const int T = Ts[s], first = firsts[s], rows = T - first;
        for (int r = 0; r < rows; ++r) {
            if (skip(row0[s] + r)) continue;
            const int i = first + r;
            const size_t at = sc0[s] + (static_cast<size_t>(h) * rows + r) * T;
            const float* srow = &scores[at];
            float* prow = &pattern[at];
            float mx = neg_inf;
            for (int j = 0; j <= i; ++j) mx = std::max(mx, srow[j]);
            double sum = 0;
            for (int j = 0; j <= i; ++j) { prow[j] = std::exp(srow[j] - mx); sum += prow[j]; }
            for (int j = 0; j <= i; ++j) prow[j] = static_cast<float>(prow[j] / sum);
            for (int j = i + 1; j < T; ++j) prow[j] = 0.0f;
        }
    };
    // z[i, h, :] = sum_j pattern[h, i, j] v[j, h, :] -- over every j, so a hook that
    // writes into the masked part of the pattern is honoured, as in HuggingFace.
    auto head_mix = [&](int s, int h) {
        const int T = Ts[s], rows = T - firsts[s];
        const float* const* vs = &vj[kv0[s]];
        for (int r = 0; r < rows; ++r) {
            if (skip(row0[s] + r)) continue;
            const float* prow = &pattern[sc0[s] + (static_cast<size_t>(h) * rows + r) * T];
            float* zi = row(z, row0[s] + r) + h * D;
            std::fill(zi, zi + D, 0.0f);
            for (int j = 0; j < T; ++j) {
                const float p = prow[j];
                if (p == 0.0f) continue;
                const float* vv = vs[j] + h * D;
                for (int d = 0; d < D; ++d) zi[d] += p * vv[d];
            }
        }
    };
    // f(segment, head) for every pair, spread over the pool (the grain by the pairs'
    // average multiply-adds in QK^T and PV).
    double attn_work = 0;
    for (int s = 0; s < S; ++s) attn_work += 2.0 * H * (Ts[s] - firsts[s]) * Ts[s] * D;
    const int heads_grain = grain_for(attn_work / (S * H));
    auto over_heads = [&](auto&& f) {
        parallel_for(S * H, heads_grain, [&](int b, int e) {
            for (int i = b; i < e; ++i) f(i / H, i % H);
        });
    };

    int rows_out = R;  // rows of resid after the last block: R, or kept.size()
    for (int l = start; l < end; ++l) {
        const BlockWeights& w = weights.blocks[l];
        save_rows(resid, &RunState::resid, l);
        fire(Hook::ResidPre, l, resid, {C});

        // ---- attention
        layernorm(resid.data(), R, C, w.ln_1, c.layer_norm_epsilon, ln.data());
        fire(Hook::Ln1, l, ln, {C});
        gemm(ln.data(), R, w.c_attn.w, w.c_attn.bias.data(), qkv.data());
        fire(Hook::Qkv, l, qkv, {3 * C});
        // [R, 3C] -> q, k, v each [R, H, D] (the columns of one head are contiguous).
        for (int r = 0; r < R; ++r) {
            const float* x = &qkv[static_cast<size_t>(r) * 3 * C];
            std::memcpy(row(q, r), x, sizeof(float) * C);
            std::memcpy(row(k, r), x + C, sizeof(float) * C);
            std::memcpy(row(v, r), x + 2 * C, sizeof(float) * C);
        }
        fire(Hook::Q, l, q, {H, D});
        fire(Hook::K, l, k, {H, D});
        fire(Hook::V, l, v, {H, D});
        save_rows(k, &RunState::k, l, true);
        save_rows(v, &RunState::v, l, true);

        for (int s = 0; s < S; ++s)
            for (int j = 0; j < Ts[s]; ++j) {
                // Positions before `first` come from the run state, the rest from this pass.
                const bool saved = j < firsts[s];
                kj[kv0[s] + j] = saved ? segs[s].from->k(l, j) : row(k, row0[s] + j - firsts[s]);
                vj[kv0[s] + j] = saved ? segs[s].from->v(l, j) : row(v, row0[s] + j - firsts[s]);
            }
        only_kept = !kept.empty() && l == c.n_layer - 1;
        if (hook) {
            // Each step's hook sees every head of every segment before the next step.
            over_heads(head_scores);
            fire_attn(Hook::AttnScores, l, scores);
            over_heads(head_softmax);
            fire_attn(Hook::Pattern, l, pattern);
            over_heads(head_mix);
        } else {
            over_heads([&](int s, int h) {
                head_scores(s, h);
                head_softmax(s, h);
                head_mix(s, h);
            });
        }
        if (only_kept) {
            // The kept rows of z and resid moved to the front (kept is increasing).
            for (size_t i = 0; i < kept.size(); ++i) {
                std::memmove(row(z, static_cast<int>(i)), row(z, kept[i]), sizeof(float) * C);
                std::memmove(row(resid, static_cast<int>(i)), row(resid, kept[i]), sizeof(float) * C);
            }
            rows_out = static_cast<int>(kept.size());
        }
        const int Rb = rows_out;
        const size_t RbC = static_cast<size_t>(Rb) * C;
        fire(Hook::Z, l, z, {H, D});
        gemm(z.data(), Rb, w.attn_proj.w, w.attn_proj.bias.data(), attn_out.data());
        fire(Hook::AttnOut, l, attn_out, {C});
        for (size_t i = 0; i < RbC; ++i) resid[i] += attn_out[i];
        fire(Hook::ResidMid, l, resid, {C});

        // ---- MLP
        layernorm(resid.data(), Rb, C, w.ln_2, c.layer_norm_epsilon, ln.data());
        fire(Hook::Ln2, l, ln, {C});
        gemm(ln.data(), Rb, w.c_fc.w, w.c_fc.bias.data(), pre.data());
        fire(Hook::MlpPre, l, pre, {M});
        parallel_for(Rb, grain_for(20.0 * M), [&](int r0, int r1) {
            for (size_t i = static_cast<size_t>(r0) * M, n = static_cast<size_t>(r1) * M; i < n; ++i) post[i] = gelu_new(pre[i]);
        });
        fire(Hook::MlpPost, l, post, {M});
        gemm(post.data(), Rb, w.mlp_proj.w, w.mlp_proj.bias.data(), mlp_out.data());
        fire(Hook::MlpOut, l, mlp_out, {C});
        for (size_t i = 0; i < RbC; ++i) resid[i] += mlp_out[i];
        fire(Hook::ResidPost, l, resid, {C});
    }
    if (partial) return {};
    save_rows(resid, &RunState::resid, c.n_layer);
    // Where row r of the pass is in resid now (with kept rows: moved to the front).
    auto out_row = [&](int r) {
        return kept.empty() ? r : static_cast<int>(std::lower_bound(kept.begin(), kept.end(), r) - kept.begin());
    };

    layernorm(resid.data(), rows_out, C, weights.ln_f, c.layer_norm_epsilon, ln.data());
    fire(Hook::LnFinal, -1, ln, {C});
    if (which == Logits::None) return {};
    if (which == Logits::All) {
        std::vector<float> logits(static_cast<size_t>(R) * V);
        gemm(ln.data(), R, weights.lm_head.w, nullptr, logits.data());
        fire(Hook::Logits, -1, logits, {V});
        return logits;
    }
    // One row per segment: its last position.
    std::vector<float> last(static_cast<size_t>(S) * C), logits(static_cast<size_t>(S) * V);
    for (int s = 0; s < S; ++s) std::memcpy(&last[static_cast<size_t>(s) * C], row(ln, out_row(row0[s + 1] - 1)), sizeof(float) * C);
    gemm(last.data(), S, weights.lm_head.w, nullptr, logits.data());
    if (hook)
        for (int s = 0; s < S; ++s) fire_view(Hook::Logits, -1, &logits[static_cast<size_t>(s) * V], {1, V}, s, 0, 1);
    return logits;
}

double GPT2::flops_per_forward(int T, bool all_logits) const {
    const double C = config.n_embd, V = config.vocab_size;
    const double per_block = 2.0 * T * (C * 3 * C + C * C + C * 4 * C + 4 * C * C)  // the four GEMMs
                             + 2.0 * 2.0 * T * T * C / 2.0;                       // causal QK^T and PV
    return config.n_layer * per_block + 2.0 * (all_logits ? T : 1) * C * V;
}

double GPT2::flops(int T, int first, int blocks, int logit_rows) const {
    const double C = config.n_embd, V = config.vocab_size;
    const double rows = T - first;
    // Keys seen by positions first..T-1: sum of (i + 1).
    const double keys = (static_cast<double>(T) * (T + 1) - static_cast<double>(first) * (first + 1)) / 2.0;
    const double per_block = 2.0 * rows * 12.0 * C * C + 2.0 * 2.0 * keys * C;
    return blocks * per_block + 2.0 * logit_rows * C * V;
}

std::vector<float> unembed(const GPT2& m, const float* resid, int rows) {
    const int C = m.config.n_embd;
    std::vector<float> ln(static_cast<size_t>(rows) * C), logits(static_cast<size_t>(rows) * m.config.vocab_size);
    layernorm(resid, rows, C, m.weights.ln_f, m.config.layer_norm_epsilon, ln.data());
    gemm(ln.data(), rows, m.weights.lm_head.w, nullptr, logits.data());
    return logits;
}

}  // namespace hooklab
