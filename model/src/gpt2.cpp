#include "hooklab/gpt2.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#include "hooklab/error.h"
#include "hooklab/forward_plan.h"
#include "hooklab/parallel.h"

namespace hooklab {

size_t HookView::numel() const {
    size_t n = 1;
    for (int d : shape) n *= static_cast<size_t>(d);
    return n;
}

size_t Weights::bytes() const {
    size_t b = (wpe.size() + ln_f.weight.size() * 2 + wte.size() + lm_head.bias.size()) * 4 + lm_head.w.bytes();
    for (const auto& bl : blocks) {
        for (const Linear* l : {&bl.c_attn, &bl.attn_proj, &bl.c_fc, &bl.mlp_proj}) b += l->w.bytes() + l->bias.size() * 4;
        b += (bl.ln_1.weight.size() + bl.ln_1.bias.size() + bl.ln_2.weight.size() + bl.ln_2.bias.size()) * 4;
    }
    return b;
}

// ---------------------------------------------------------------- forward

namespace {

// Work (multiply-adds, roughly) per parallel_for chunk: handing a chunk to the pool costs
// a few microseconds, so a chunk should be worth well more than that, and a loop of less
// stays on the calling thread.
constexpr double kChunkWork = 1 << 15;

// The grain for items of `work` each.
int grain_for(double work) { return static_cast<int>(std::clamp(std::ceil(kChunkWork / std::max(work, 1.0)), 1.0, 1e9)); }

}  // namespace

// Four partial sums: one running sum is a chain of dependent adds (LayerNorm took 1.5x
// as long in wasm). The order is fixed, so every caller gets the same bits.
LayerNormStats layernorm_stats(const float* x, int C, double eps) {
    auto sum4 = [&](auto&& f) {
        double s[4] = {};
        int i = 0;
        for (; i + 4 <= C; i += 4)
            for (int l = 0; l < 4; ++l) s[l] += f(x[i + l]);
        for (; i < C; ++i) s[0] += f(x[i]);
        return (s[0] + s[1]) + (s[2] + s[3]);
    };
    const double mean = sum4([](float v) { return static_cast<double>(v); }) / C;
    const double var = sum4([&](float v) { return (v - mean) * (v - mean); }) / C;
    return {mean, 1.0 / std::sqrt(var + eps)};
}

namespace {

// LayerNorm of rows t0 .. t1-1 over the last dim; statistics in double so huge or tiny
// scales stay finite.
void layernorm_rows(const float* x, int t0, int t1, int C, const LayerNormWeights& ln, double eps, float* y) {
    for (int t = t0; t < t1; ++t) {
        const float* xr = x + static_cast<size_t>(t) * C;
        float* yr = y + static_cast<size_t>(t) * C;
        const auto [mean, rstd] = layernorm_stats(xr, C, eps);
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

// e^z for softmax's z = score - max <= 0, in a loop that vectorises (libm's expf is a call
// per score): below -87, where e^z is under 2^-125 of the row's largest term, 0; NaN stays
// NaN (a row of -inf scores gives NaN, as in torch).
inline float exp_softmax(float z) {
    const float e = exp_clamped(z);
    return z != z ? z : z < -87.0f ? 0.0f : e;
}

// q . k over one head, in 8 independent partial sums so that the loop vectorises.
// In wasm the eight sums are two vectors (clang left the loop scalar): the same bits.
inline float dot(const float* a, const float* b, int n) {
    float acc[8] = {};
    int d = 0;
#ifdef __wasm_simd128__
    v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
    for (; d + 8 <= n; d += 8) {
        lo = wasm_f32x4_add(lo, wasm_f32x4_mul(wasm_v128_load(a + d), wasm_v128_load(b + d)));
        hi = wasm_f32x4_add(hi, wasm_f32x4_mul(wasm_v128_load(a + d + 4), wasm_v128_load(b + d + 4)));
    }
    wasm_v128_store(acc, lo);
    wasm_v128_store(acc + 4, hi);
#endif
    for (; d + 8 <= n; d += 8)
        for (int i = 0; i < 8; ++i) acc[i] += a[d + i] * b[d + i];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; d < n; ++d) s += a[d] * b[d];
    return s;
}

// y[d] += p x[d], d < n (x and y apart).
inline void axpy(float p, const float* x, float* y, int n) {
    int d = 0;
#ifdef __wasm_simd128__
    const v128_t pv = wasm_f32x4_splat(p);
    for (; d + 4 <= n; d += 4) wasm_v128_store(y + d, wasm_f32x4_add(wasm_v128_load(y + d), wasm_f32x4_mul(pv, wasm_v128_load(x + d))));
#endif
    for (; d < n; ++d) y[d] += p * x[d];
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

namespace {

#ifdef __wasm_simd128__
// gelu_new on four lanes: the same operations in the same order, so the same bits (wasm
// has no fused multiply-add to contract them), with two steps cheaper than clang's
// vectorised scalar loop: the clamps as pmin/pmax and 2^n from the rounded sum's bits
// instead of a conversion (GELU 2.7 -> 2.2 ms a pass at 32 tokens).
inline v128_t gelu_new4(v128_t x) {
    const v128_t u = wasm_f32x4_mul(wasm_f32x4_splat(0.7978845608028654f),
                                    wasm_f32x4_add(x, wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(0.044715f), x), x), x)));
    // pmax(a, z) is a < z ? z : a, so a NaN z becomes -87 as in exp_clamped.
    const v128_t z = wasm_f32x4_pmin(wasm_f32x4_splat(88.0f), wasm_f32x4_pmax(wasm_f32x4_splat(-87.0f), wasm_f32x4_mul(wasm_f32x4_splat(2.0f), u)));
    const v128_t round = wasm_f32x4_splat(12582912.0f);
    const v128_t rounded = wasm_f32x4_add(wasm_f32x4_mul(z, wasm_f32x4_splat(1.44269504f)), round);
    const v128_t n = wasm_f32x4_sub(rounded, round);
    const v128_t r = wasm_f32x4_sub(wasm_f32x4_sub(z, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f))),
                                    wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
    v128_t p = wasm_f32x4_splat(1.0f / 5040);
    for (const float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
        p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(c));
    // n + 127 from the rounded sum's low bits (1.5 * 2^23 + n for |n| < 2^22), cheaper than a conversion.
    const v128_t scale = wasm_i32x4_shl(wasm_i32x4_sub(rounded, wasm_i32x4_splat(0x4B400000 - 127)), 23);
    const v128_t e = wasm_f32x4_mul(p, scale);
    const v128_t one = wasm_f32x4_splat(1.0f);
    const v128_t t = wasm_f32x4_sub(one, wasm_f32x4_div(wasm_f32x4_splat(2.0f), wasm_f32x4_add(e, one)));
    return wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_splat(0.5f), x), wasm_f32x4_add(one, t));
}
#endif

// y[i] = gelu_new(x[i]) for i < n.
void gelu_new_n(const float* x, float* y, size_t n) {
    size_t i = 0;
#ifdef __wasm_simd128__
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, gelu_new4(wasm_v128_load(x + i)));
#endif
    for (; i < n; ++i) y[i] = gelu_new(x[i]);
}

}  // namespace

// ---------------------------------------------------------------- the pass

namespace {

// The last block's matrices past its keys and values, for the plan's kept rows.
std::vector<const PackedMatrix*> last_block_gemms(const Weights& w) {
    const BlockWeights& wl = w.blocks.back();
    return {&wl.attn_proj.w, &wl.c_fc.w, &wl.mlp_proj.w};
}

// Adds the milliseconds of its scope to one field of a StageTimes, when there is one.
class Stopwatch {
public:
    Stopwatch(StageTimes* times, double StageTimes::*field) : times_(times), field_(field) {
        if (times_) t0_ = std::chrono::steady_clock::now();
    }
    ~Stopwatch() {
        if (times_) times_->*field_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
    }
    Stopwatch(const Stopwatch&) = delete;
    Stopwatch& operator=(const Stopwatch&) = delete;

private:
    StageTimes* times_;
    double StageTimes::*field_;
    std::chrono::steady_clock::time_point t0_;
};

// The buffers of one pass. Every [rows, .] buffer holds the rows of all segments one after
// another (ForwardPlan::row0), so that they share each GEMM.
struct Activations {
    std::vector<float> resid, ln;              // [rows, C]
    std::vector<float> qkv;                    // [rows, 3C]: [Q | K | V]
    std::vector<float> q, k, v;                // [rows, H, D]
    std::vector<float> scores, pattern;        // [H, rows, T] per segment (ForwardPlan::sc0)
    std::vector<float> z, attn_out;            // [rows, H, D], [rows, C]
    std::vector<float> pre, post, mlp_out;     // [rows, M], [rows, M], [rows, C]
    // Each segment's key and value rows, from its run state or from k and v
    // (ForwardPlan::kv0): a pass that resumes attends to positions it does not compute.
    std::vector<const float*> kj, vj;

    Activations(const ForwardPlan& p, const Config& c) {
        const size_t RC = static_cast<size_t>(p.rows()) * c.n_embd;
        resid.resize(RC);
        ln.resize(RC);
        qkv.resize(RC * 3);
        q.resize(RC);
        k.resize(RC);
        v.resize(RC);
        z.resize(RC);
        attn_out.resize(RC);
        mlp_out.resize(RC);
        scores.resize(p.sc0.back());
        pattern.resize(scores.size());
        pre.resize(static_cast<size_t>(p.rows()) * c.d_mlp());
        post.resize(pre.size());
        kj.resize(p.kv0.back());
        vj.resize(p.kv0.back());
    }
};

// Hands the hook views of a pass's buffers: once per segment, each with that segment's rows.
class Fire {
public:
    Fire(const HookFn& hook, const ForwardPlan& plan) : hook_(hook), plan_(plan) {}
    explicit operator bool() const { return static_cast<bool>(hook_); }

    void view(Hook h, int layer, float* data, std::vector<int> shape, int s, int pos0, int n_pos) const {
        HookView v{h, layer, data, std::move(shape)};
        v.pos0 = pos0;
        v.n_pos = n_pos;
        v.segment = s;
        hook_(v);
    }
    // A [rows, tail...] activation.
    void rows(Hook h, int layer, std::vector<float>& buf, std::initializer_list<int> tail) const {
        if (!hook_) return;
        const size_t width = buf.size() / plan_.rows();
        for (int s = 0; s < plan_.segments; ++s) {
            std::vector<int> shape{plan_.rows(s)};
            shape.insert(shape.end(), tail.begin(), tail.end());
            view(h, layer, buf.data() + plan_.row0[s] * width, std::move(shape), s, plan_.first[s], plan_.T[s]);
        }
    }
    // An attention activation, [H, rows, T].
    void heads(Hook h, int layer, std::vector<float>& buf, int H) const {
        if (!hook_) return;
        for (int s = 0; s < plan_.segments; ++s)
            view(h, layer, buf.data() + plan_.sc0[s], {H, plan_.rows(s), plan_.T[s]}, s, plan_.first[s], plan_.T[s]);
    }

private:
    const HookFn& hook_;
    const ForwardPlan& plan_;
};

// One forward in flight, a function per stage.
struct Pass {
    const Config& c;
    const Weights& w;
    const std::vector<Segment>& segs;
    const ForwardPlan& plan;
    const Fire fire;
    StageTimes* times;
    const int C, H, D, M;
    const float scale;  // 1 / sqrt(D)
    int heads_grain;
    Activations a;

    Pass(const GPT2& m, const std::vector<Segment>& segs_, const ForwardPlan& plan_, const HookFn& hook, StageTimes* times_)
        : c(m.config), w(m.weights), segs(segs_), plan(plan_), fire(hook, plan_), times(times_), C(c.n_embd),
          H(c.n_head), D(c.d_head()), M(c.d_mlp()), scale(1.0f / std::sqrt(static_cast<float>(D))), a(plan_, c) {
        // The grain by a (segment, head) pair's average multiply-adds in QK^T and PV.
        double work = 0;
        for (int s = 0; s < plan.segments; ++s) work += 2.0 * H * (plan.T[s] - plan.first[s]) * plan.T[s] * D;
        heads_grain = grain_for(work / (plan.segments * H));
    }

    float* row(std::vector<float>& buf, int r) const { return &buf[static_cast<size_t>(r) * C]; }

    // Every GEMM goes through here, so that their share of the time can be told apart.
    void matmul(const float* x, int rows, const PackedMatrix& W, const float* bias, float* y) const {
        const Stopwatch sw(times, &StageTimes::gemm);
        const Stopwatch lm(&W == &w.lm_head.w ? times : nullptr, &StageTimes::lm_head);
        gemm(x, rows, W, bias, y);
    }

    void norm(const float* x, int rows, const LayerNormWeights& ln, float* y) const {
        const Stopwatch sw(times, &StageTimes::layernorm);
        layernorm(x, rows, C, ln, c.layer_norm_epsilon, y);
    }

    // Keys and values go only to a state with room for them: a state of residuals only
    // serves passes that recompute every position.
    void save_rows(std::vector<float>& buf, float* (RunState::*where)(int, int), int layer, bool kv = false) {
        plan.each_row([&](int s, int t, int r) {
            RunState* save = segs[s].save;
            if (save && (!kv || save->holds_keys_values())) std::memcpy((save->*where)(layer, t), row(buf, r), sizeof(float) * C);
        });
    }

    void embed() {
        const Stopwatch sw(times, &StageTimes::embed);
        const size_t RC = a.resid.size();
        std::vector<float> tok(RC), pos(RC);
        plan.each_row([&](int s, int t, int r) {
            const int id = segs[s].from->tokens[t];
            if (w.wte.empty()) tied_embedding_row(w.lm_head.w, id, row(tok, r));
            else std::memcpy(row(tok, r), &w.wte[static_cast<size_t>(id) * C], sizeof(float) * C);
            std::memcpy(row(pos, r), &w.wpe[static_cast<size_t>(t) * C], sizeof(float) * C);
        });
        fire.rows(Hook::Embed, -1, tok, {C});
        fire.rows(Hook::PosEmbed, -1, pos, {C});
        for (size_t i = 0; i < RC; ++i) a.resid[i] = tok[i] + pos[i];
    }

    // The residual entering block plan.start, as the run state's pass left it.
    void resume() {
        const Stopwatch sw(times, &StageTimes::embed);
        plan.each_row([&](int s, int t, int r) { std::memcpy(row(a.resid, r), segs[s].from->resid(plan.start, t), sizeof(float) * C); });
        // So that an intervention at the entry acts as it does in a whole pass.
        if (plan.fire_entry) fire.rows(Hook::ResidPost, plan.start - 1, a.resid, {C});
    }

    void attention_block(int l) {
        const Stopwatch sw(times, &StageTimes::attention);
        const BlockWeights& bw = w.blocks[l];
        const int R = plan.rows();
        save_rows(a.resid, &RunState::resid, l);
        fire.rows(Hook::ResidPre, l, a.resid, {C});

        norm(a.resid.data(), R, bw.ln_1, a.ln.data());
        fire.rows(Hook::Ln1, l, a.ln, {C});
        matmul(a.ln.data(), R, bw.c_attn.w, bw.c_attn.bias.data(), a.qkv.data());
        fire.rows(Hook::Qkv, l, a.qkv, {3 * C});
        // The columns of one head are contiguous: q, k and v are [rows, H, D] as they stand.
        for (int r = 0; r < R; ++r) {
            const float* x = &a.qkv[static_cast<size_t>(r) * 3 * C];
            std::memcpy(row(a.q, r), x, sizeof(float) * C);
            std::memcpy(row(a.k, r), x + C, sizeof(float) * C);
            std::memcpy(row(a.v, r), x + 2 * C, sizeof(float) * C);
        }
        fire.rows(Hook::Q, l, a.q, {H, D});
        fire.rows(Hook::K, l, a.k, {H, D});
        fire.rows(Hook::V, l, a.v, {H, D});
        save_rows(a.k, &RunState::k, l, true);
        save_rows(a.v, &RunState::v, l, true);

        attend(l);

        const int rows = plan.rows_after(l);
        // The kept rows move to the front; they are increasing, so none is overwritten
        // before it moves.
        if (plan.trims(l))
            for (int i = 0; i < rows; ++i) {
                std::memmove(row(a.z, i), row(a.z, plan.kept[i]), sizeof(float) * C);
                std::memmove(row(a.resid, i), row(a.resid, plan.kept[i]), sizeof(float) * C);
            }
        fire.rows(Hook::Z, l, a.z, {H, D});
        matmul(a.z.data(), rows, bw.attn_proj.w, bw.attn_proj.bias.data(), a.attn_out.data());
        fire.rows(Hook::AttnOut, l, a.attn_out, {C});
        for (size_t i = 0, n = static_cast<size_t>(rows) * C; i < n; ++i) a.resid[i] += a.attn_out[i];
        fire.rows(Hook::ResidMid, l, a.resid, {C});
    }

    // scores, pattern and z for every (segment, head). A pair writes only its own slices,
    // with the same arithmetic in the same order whichever thread runs it, so the split
    // over threads changes no bit.
    void attend(int l) {
        const Stopwatch sw(times, &StageTimes::heads);
        // Positions before a segment's first were computed by an earlier pass.
        for (int s = 0; s < plan.segments; ++s)
            for (int j = 0; j < plan.T[s]; ++j) {
                const bool saved = j < plan.first[s];
                const int r = plan.row0[s] + j - plan.first[s];
                a.kj[plan.kv0[s] + j] = saved ? segs[s].from->k(l, j) : row(a.k, r);
                a.vj[plan.kv0[s] + j] = saved ? segs[s].from->v(l, j) : row(a.v, r);
            }
        const char* only = plan.trims(l) ? plan.is_kept.data() : nullptr;
        if (fire) {
            // Each step's hook sees every head of every segment before the next step.
            over_heads([&](int s, int h) { head_scores(s, h, only); });
            fire.heads(Hook::AttnScores, l, a.scores, H);
            over_heads([&](int s, int h) { head_softmax(s, h, only); });
            fire.heads(Hook::Pattern, l, a.pattern, H);
            over_heads([&](int s, int h) { head_mix(s, h, only); });
        } else {
            over_heads([&](int s, int h) {
                head_scores(s, h, only);
                head_softmax(s, h, only);
                head_mix(s, h, only);
            });
        }
    }

    template <class F>
    void over_heads(F&& f) {
        parallel_for(plan.segments * H, heads_grain, [&](int b, int e) {
            for (int i = b; i < e; ++i) f(i / H, i % H);
        });
    }

    // scores[h, i, j] = q_i . k_j / sqrt(D); the future (j > i) is masked. `only`: skip
    // the rows it does not mark.
    void head_scores(int s, int h, const char* only) {
        const int T = plan.T[s], first = plan.first[s], rows = T - first;
        const float* const* ks = &a.kj[plan.kv0[s]];
        for (int r = 0; r < rows; ++r) {
            if (only && !only[plan.row0[s] + r]) continue;
            const int i = first + r;
            float* srow = &a.scores[plan.sc0[s] + (static_cast<size_t>(h) * rows + r) * T];
            const float* qi = row(a.q, plan.row0[s] + r) + h * D;
            for (int j = 0; j <= i; ++j) srow[j] = dot(qi, ks[j] + h * D, D) * scale;
            for (int j = i + 1; j < T; ++j) srow[j] = -std::numeric_limits<float>::infinity();
        }
    }

    // Softmax over the visible prefix, max-subtracted so large scores stay finite.
    void head_softmax(int s, int h, const char* only) {
        const int T = plan.T[s], first = plan.first[s], rows = T - first;
        for (int r = 0; r < rows; ++r) {
            if (only && !only[plan.row0[s] + r]) continue;
            const int i = first + r;
            const size_t at = plan.sc0[s] + (static_cast<size_t>(h) * rows + r) * T;
            const float* srow = &a.scores[at];
            float* prow = &a.pattern[at];
            float mx = -std::numeric_limits<float>::infinity();
            for (int j = 0; j <= i; ++j) mx = std::max(mx, srow[j]);
            for (int j = 0; j <= i; ++j) prow[j] = exp_softmax(srow[j] - mx);
            double sum = 0;
            for (int j = 0; j <= i; ++j) sum += prow[j];
            for (int j = 0; j <= i; ++j) prow[j] = static_cast<float>(prow[j] / sum);
            for (int j = i + 1; j < T; ++j) prow[j] = 0.0f;
        }
    }

    // z[i, h, :] = sum_j pattern[h, i, j] v[j, h, :] -- over every j, so a hook that
    // writes into the masked part of the pattern is honoured, as in HuggingFace.
    void head_mix(int s, int h, const char* only) {
        const int T = plan.T[s], rows = T - plan.first[s];
        const float* const* vs = &a.vj[plan.kv0[s]];
        for (int r = 0; r < rows; ++r) {
            if (only && !only[plan.row0[s] + r]) continue;
            const float* prow = &a.pattern[plan.sc0[s] + (static_cast<size_t>(h) * rows + r) * T];
            float* zi = row(a.z, plan.row0[s] + r) + h * D;
            std::fill(zi, zi + D, 0.0f);
            for (int j = 0; j < T; ++j) {
                const float p = prow[j];
                if (p == 0.0f) continue;
                const float* vv = vs[j] + h * D;
                axpy(p, vv, zi, D);
            }
        }
    }

    void mlp_block(int l) {
        const Stopwatch sw(times, &StageTimes::mlp);
        const BlockWeights& bw = w.blocks[l];
        const int rows = plan.rows_after(l);
        norm(a.resid.data(), rows, bw.ln_2, a.ln.data());
        fire.rows(Hook::Ln2, l, a.ln, {C});
        matmul(a.ln.data(), rows, bw.c_fc.w, bw.c_fc.bias.data(), a.pre.data());
        fire.rows(Hook::MlpPre, l, a.pre, {M});
        {
            const Stopwatch sw(times, &StageTimes::gelu);
            parallel_for(rows, grain_for(20.0 * M), [&](int r0, int r1) {
                gelu_new_n(&a.pre[static_cast<size_t>(r0) * M], &a.post[static_cast<size_t>(r0) * M], static_cast<size_t>(r1 - r0) * M);
            });
        }
        fire.rows(Hook::MlpPost, l, a.post, {M});
        matmul(a.post.data(), rows, bw.mlp_proj.w, bw.mlp_proj.bias.data(), a.mlp_out.data());
        fire.rows(Hook::MlpOut, l, a.mlp_out, {C});
        for (size_t i = 0, n = static_cast<size_t>(rows) * C; i < n; ++i) a.resid[i] += a.mlp_out[i];
        fire.rows(Hook::ResidPost, l, a.resid, {C});
    }

    std::vector<float> unembed() {
        const Stopwatch sw(times, &StageTimes::unembed);
        save_rows(a.resid, &RunState::resid, c.n_layer);
        norm(a.resid.data(), plan.rows_after(c.n_layer - 1), w.ln_f, a.ln.data());
        fire.rows(Hook::LnFinal, -1, a.ln, {C});
        const int V = c.vocab_size, R = plan.rows(), S = plan.segments;
        if (plan.which == Logits::None) return {};
        if (plan.which == Logits::All) {
            std::vector<float> logits(static_cast<size_t>(R) * V);
            matmul(a.ln.data(), R, w.lm_head.w, w.lm_head.bias.empty() ? nullptr : w.lm_head.bias.data(), logits.data());
            fire.rows(Hook::Logits, -1, logits, {V});
            return logits;
        }
        // One row per segment, its last position: the logits' position axis is that row.
        std::vector<float> last(static_cast<size_t>(S) * C), logits(static_cast<size_t>(S) * V);
        for (int s = 0; s < S; ++s) std::memcpy(&last[static_cast<size_t>(s) * C], row(a.ln, plan.out_row(plan.row0[s + 1] - 1)), sizeof(float) * C);
        matmul(last.data(), S, w.lm_head.w, w.lm_head.bias.empty() ? nullptr : w.lm_head.bias.data(), logits.data());
        if (fire)
            for (int s = 0; s < S; ++s) fire.view(Hook::Logits, -1, &logits[static_cast<size_t>(s) * V], {1, V}, s, 0, 1);
        return logits;
    }
};

}  // namespace

std::vector<float> GPT2::forward(const std::vector<int>& tokens, const HookFn& hook, bool all_logits, StageTimes* times) const {
    RunState s;
    s.tokens = tokens;
    return forward(std::vector<Segment>{{&s, 0, nullptr}}, 0, hook, all_logits ? Logits::All : Logits::Last, false, -1, times);
}

std::vector<float> GPT2::forward(const std::vector<Segment>& segs, int start, const HookFn& hook, Logits which,
                                 bool fire_entry, int end, StageTimes* times) const {
    const ForwardPlan plan = plan_forward(config, last_block_gemms(weights), segs, start, end, which, fire_entry, static_cast<bool>(hook));
    if (times) ++times->passes;
    Pass pass(*this, segs, plan, hook, times);
    if (plan.start == 0)
        pass.embed();
    else
        pass.resume();
    for (int l = plan.start; l < plan.end; ++l) {
        pass.attention_block(l);
        pass.mlp_block(l);
    }
    if (plan.partial) return {};
    return pass.unembed();
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
    const auto& b_U = m.weights.lm_head.bias;
    gemm(ln.data(), rows, m.weights.lm_head.w, b_U.empty() ? nullptr : b_U.data(), logits.data());
    return logits;
}

}  // namespace hooklab
