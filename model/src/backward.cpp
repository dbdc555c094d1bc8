// Gradients of the logit difference with respect to activations, and attribution patching.
//
// Like karpathy's llm.c (gpt2_forward / gpt2_backward): a forward that keeps what the backward
// needs in one activations struct (an arena sized once), then one readable backward pass that
// mirrors the forward stage by stage. The forward is the engine's own GPT2::forward; a hook
// copies each needed tensor as later computations see it (after the run's interventions).
// At every hook point, the backward hands the gradient to whoever asked for it, then applies the
// transposed Jacobian of that hook's interventions (all elementwise: scale multiplies, add passes
// the gradient, zero / set / noise put a constant there and pass 0).
#include "hooklab/backward.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>


#include "hooklab/error.h"
#include "hooklab/intervention.h"
#include "hooklab/parallel.h"
#include "hooklab/safetensors.h"

namespace hooklab {

namespace {

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ the activations kept
//
// Per block: resid_pre [T, C] (ln_1's input), q, k, v [T, C] each, the softmax's output
// [H, T, T], resid_mid [T, C] (ln_2's input), mlp pre [T, 4C] (GELU's input): 9TC + HT^2
// floats. Where an intervention acts on a block's hook_pattern, its pattern after the
// interventions too (z reads that one; the softmax's Jacobian needs its own output): HT^2.
// Outside the blocks: the residual entering block 0 (hook_embed + hook_pos_embed) and the one
// entering ln_f: 2TC.
// GPT-2 small (12 blocks, 12 heads, C = 768) at 128 tokens:
//   12 * (9 * 128 * 768 + 12 * 128 * 128) + 2 * 128 * 768 = 13,172,736 floats = 52.7 MB,
// plus 4.2 M floats of working buffers (below). At its whole context (1024 tokens) the kept
// activations are 237.5 M floats (950 MB) and with the working buffers 1011 MiB: inside
// kBackwardBudgetBytes (1 GiB). GPT-2 medium fits up to 566 tokens, large up to 368.
uint64_t kept_floats(const Config& c, int T, int pattern_interventions) {
    const uint64_t t = static_cast<uint64_t>(T), C = c.n_embd, H = c.n_head, L = c.n_layer;
    return L * (9 * t * C + H * t * t) + pattern_interventions * H * t * t + 2 * t * C;
}

// The backward's working buffers: gradients of one block's tensors (residual, a sub-layer's
// output, ln, z: 4TC; q, k, v and qkv: 6TC; mlp 4TC), the attention's sums in double (2TC),
// the pattern's gradient (then the scores', in place) [H, T, T], 4C^2 as a bound on what the
// transposed products widen (native F16: 64 weight rows per thread; wasm: nothing) and the
// logits' vocabulary row. The forward's own buffers (one
// block's activations) come on top, as for any run.
uint64_t work_floats(const Config& c, int T) {
    const uint64_t t = static_cast<uint64_t>(T), C = c.n_embd, H = c.n_head;
    return 16 * t * C + H * t * t + 4 * C * C + 2 * C + static_cast<uint64_t>(c.vocab_size);
}

class Tape {
public:
    Tape(const Config& c, int T, const std::vector<char>& pattern_iv)
        : T_(T), C_(c.n_embd), H_(c.n_head), L_(c.n_layer), att_post_(c.n_layer, -1) {
        const size_t TC = static_cast<size_t>(T) * C_, HTT = static_cast<size_t>(H_) * T * T;
        block_ = 9 * TC + HTT;
        size_t n = L_ * block_;
        for (int l = 0; l < L_; ++l)
            if (pattern_iv[l]) { att_post_[l] = static_cast<int64_t>(n); n += HTT; }
        x0_ = n;
        n += TC;
        final_ = n;
        n += TC;
        arena_.assign(n, 0.0f);
    }
    int T() const { return T_; }
    float* resid_pre(int l) { return at(l, 0); }
    float* q(int l) { return at(l, 1); }
    float* k(int l) { return at(l, 2); }
    float* v(int l) { return at(l, 3); }
    float* resid_mid(int l) { return at(l, 4); }
    float* pre(int l) { return at(l, 5); }  // [T, 4C]: slots 5..8
    float* att(int l) { return at(l, 9); }  // the softmax's output [H, T, T]
    bool has_att_post(int l) const { return att_post_[l] >= 0; }
    // The pattern that z reads: after the interventions at hook_pattern.
    float* att_post(int l) { return has_att_post(l) ? arena_.data() + att_post_[l] : att(l); }
    float* x0() { return arena_.data() + x0_; }
    float* final_resid() { return arena_.data() + final_; }
    const float* resid_pre(int l) const { return const_cast<Tape*>(this)->resid_pre(l); }
    const float* q(int l) const { return const_cast<Tape*>(this)->q(l); }
    const float* k(int l) const { return const_cast<Tape*>(this)->k(l); }
    const float* v(int l) const { return const_cast<Tape*>(this)->v(l); }
    const float* resid_mid(int l) const { return const_cast<Tape*>(this)->resid_mid(l); }
    const float* pre(int l) const { return const_cast<Tape*>(this)->pre(l); }
    const float* att(int l) const { return const_cast<Tape*>(this)->att(l); }
    const float* att_post(int l) const { return const_cast<Tape*>(this)->att_post(l); }
    const float* x0() const { return const_cast<Tape*>(this)->x0(); }
    const float* final_resid() const { return const_cast<Tape*>(this)->final_resid(); }

private:
    float* at(int l, int slot) { return arena_.data() + l * block_ + static_cast<size_t>(slot) * T_ * C_; }
    int T_, C_, H_, L_;
    size_t block_ = 0, x0_ = 0, final_ = 0;
    std::vector<int64_t> att_post_;
    std::vector<float> arena_;
};

std::vector<char> pattern_intervened(const Config& c, const std::vector<Intervention>& ivs) {
    std::vector<char> on(c.n_layer, 0);
    for (const Intervention& iv : ivs)
        if (iv.hook == Hook::Pattern) on[iv.layer] = 1;
    return on;
}

int count(const std::vector<char>& v) { return static_cast<int>(std::count(v.begin(), v.end(), 1)); }

// Refuses, before any work, a backward whose memory passes the budget: the activations kept,
// the working buffers and `extra` floats of results (`extra_what`: what they are).
void check_budget(const Config& c, int T, int pattern_ivs, uint64_t extra, const std::string& extra_what, uint64_t budget) {
    const uint64_t kept = kept_floats(c, T, pattern_ivs), total = kept + work_floats(c, T) + extra;
    if (total * 4 <= budget) return;
    auto mb = [](uint64_t floats) { return std::to_string((floats * 4 + (1 << 19)) >> 20) + " MB"; };
    throw Error("the backward of a " + std::to_string(T) + "-token prompt through this model (" + std::to_string(c.n_layer) +
                " blocks, " + std::to_string(c.n_head) + " heads, d_model " + std::to_string(c.n_embd) + ") needs " +
                mb(total) + " (the activations it keeps " + mb(kept) + (extra ? ", " + extra_what + " " + mb(extra) : std::string()) +
                "), more than the budget of " + std::to_string(budget >> 20) + " MB; shorten the prompt");
}

// ------------------------------------------------------------------ the forward, keeping

// One forward of `tokens` with the interventions, keeping in `tape` what the backward needs
// (as the interventions left it); `also` sees every hook after the interventions. Returns LD.
double forward_keep(const GPT2& g, const std::vector<int>& tokens, const std::vector<Intervention>& ivs, int answer,
                    int wrong, Tape& tape, const std::function<void(const HookView&)>& also) {
    const int L = g.config.n_layer;
    auto copy = [](const HookView& v, float* dst) { std::memcpy(dst, v.data, sizeof(float) * v.numel()); };
    auto hook = [&](HookView& v) {
        const int l = v.layer;
        // Before the interventions: the residual entering block 0 (embed + pos_embed as the
        // forward added them) and the softmax's own output.
        if (v.hook == Hook::ResidPre && l == 0) copy(v, tape.x0());
        if (v.hook == Hook::Pattern) copy(v, tape.att(l));
        apply_interventions(ivs, v);
        switch (v.hook) {
            case Hook::ResidPre: copy(v, tape.resid_pre(l)); break;
            case Hook::Q: copy(v, tape.q(l)); break;
            case Hook::K: copy(v, tape.k(l)); break;
            case Hook::V: copy(v, tape.v(l)); break;
            case Hook::Pattern: if (tape.has_att_post(l)) copy(v, tape.att_post(l)); break;
            case Hook::ResidMid: copy(v, tape.resid_mid(l)); break;
            case Hook::MlpPre: copy(v, tape.pre(l)); break;
            case Hook::ResidPost: if (l == L - 1) copy(v, tape.final_resid()); break;
            default: break;
        }
        if (also) also(v);
    };
    const std::vector<float> logits = g.forward(tokens, hook, false);
    return static_cast<double>(logits[answer]) - static_cast<double>(logits[wrong]);
}

// ------------------------------------------------------------------ the backward's pieces

// The transposed Jacobian of the interventions at (hook, layer) on the gradient `g` of the
// hook's full tensor (shape as the hook's; a full forward's view: every position). The same
// selection as apply_interventions.
void interventions_vjp(const std::vector<Intervention>& ivs, Hook h, int layer, float* g, const std::vector<int>& shape) {
    for (auto it = ivs.rbegin(); it != ivs.rend(); ++it) {
        const Intervention& iv = *it;
        if (iv.hook != h || iv.layer != layer || iv.op == Intervention::Add) continue;
        const HookInfo& info = hook_info(h);
        const int rank = static_cast<int>(shape.size());
        const int dims[3] = {shape[0], rank == 3 ? shape[1] : 1, shape[rank - 1]};
        auto axis_mask = [&](int axis, int n) -> std::vector<char> {
            if (axis == info.pos_axis) return iv.positions.mask(n);
            if (axis == info.head_axis) return iv.heads.mask(n);
            if (axis == info.feat_axis) return iv.features.mask(n);
            return std::vector<char>(n, 1);
        };
        const std::vector<char> keep[3] = {axis_mask(0, dims[0]), rank == 3 ? axis_mask(1, dims[1]) : std::vector<char>(1, 1),
                                           axis_mask(rank == 3 ? 2 : 1, dims[2])};
        const bool scale = iv.op == Intervention::Scale;
        for (int a = 0; a < dims[0]; ++a) {
            if (!keep[0][a]) continue;
            for (int b = 0; b < dims[1]; ++b) {
                if (!keep[1][b]) continue;
                float* row = g + (static_cast<size_t>(a) * dims[1] + b) * dims[2];
                for (int e = 0; e < dims[2]; ++e)
                    if (keep[2][e]) row[e] = scale ? static_cast<float>(row[e] * iv.factor) : 0.0f;
            }
        }
    }
}

// dx [T, in] = dy [T, out] W^T for y = x W + b: gemm_transposed reads the packed weight in
// place (simd128 in wasm, Eigen natively), split over dx's columns with the same bits
// whatever the number of threads.
void linear_backward(const float* dy, int T, const PackedMatrix& W, float* dx) {
    gemm_transposed(dy, T, W, dx);
}

// y = (x - mean) * rstd * w + b over each row (statistics in double, as the forward):
// dx += rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) with gw = dy * w.
void layernorm_backward(const float* x, const float* dy, int T, int C, const LayerNormWeights& ln, double eps, float* dx) {
    parallel_for(T, std::max(1, (1 << 15) / (8 * C)), [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
            const float* xr = x + static_cast<size_t>(t) * C;
            const float* gr = dy + static_cast<size_t>(t) * C;
            const auto [mean, rstd] = layernorm_stats(xr, C, eps);
            double sg = 0, sgx = 0;
            for (int i = 0; i < C; ++i) {
                const double gw = static_cast<double>(gr[i]) * ln.weight[i];
                sg += gw;
                sgx += gw * (xr[i] - mean) * rstd;
            }
            sg /= C;
            sgx /= C;
            float* out = dx + static_cast<size_t>(t) * C;
            for (int i = 0; i < C; ++i) {
                const double gw = static_cast<double>(gr[i]) * ln.weight[i];
                out[i] += static_cast<float>(rstd * (gw - sg - (xr[i] - mean) * rstd * sgx));
            }
        }
    });
}

// d/dx of HF's gelu_new, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3).
double gelu_new_grad(double x) {
    const double k = 0.7978845608028654, a = 0.044715;
    const double t = std::tanh(k * (x + a * x * x * x));
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * a * x * x);
}

// Receives the gradient at every hook point (before that hook's interventions' Jacobian).
using GradSink = std::function<void(Hook, int layer, const float* grad, const std::vector<int>& shape)>;

// The backward of LD through the kept forward: the tied unembedding, ln_f, every block in
// reverse, the embeddings. `ixg` (if set) receives input x gradient [T].
void backward(const GPT2& g, const Tape& tape, const std::vector<Intervention>& ivs, int answer, int wrong,
              const GradSink& sink, std::vector<double>* ixg) {
    const Config& c = g.config;
    const Weights& W = g.weights;
    const int T = tape.T(), C = c.n_embd, H = c.n_head, D = c.d_head(), M = c.d_mlp(), V = c.vocab_size;
    const size_t TC = static_cast<size_t>(T) * C, HTT = static_cast<size_t>(H) * T * T;
    const double eps = c.layer_norm_epsilon;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));  // as the forward's scores
    auto at = [&](Hook h, int layer, float* grad, const std::vector<int>& shape) {
        if (sink) sink(h, layer, grad, shape);
        interventions_vjp(ivs, h, layer, grad, shape);
    };
    std::vector<float> dres(TC, 0.0f), dout(TC), dln(TC), dz(TC), dqkv(3 * TC), dpost(static_cast<size_t>(T) * M);
    std::vector<float> dq(TC), dk(TC), dv(TC), dpat(HTT);  // dpat: the pattern's gradient, then the scores
    // Per head sums in double: [T, D] and one row [D], allocated here (no worker allocates).
    std::vector<double> hacc(TC), qacc(C);

    // ---- unembedding (tied): logits[T-1] = ln_final[T-1] . wte^T; only the last row is read.
    std::vector<float> dlogits(V, 0.0f);
    dlogits[answer] += 1.0f;
    dlogits[wrong] -= 1.0f;
    at(Hook::Logits, -1, dlogits.data(), {1, V});
    std::fill(dln.begin(), dln.end(), 0.0f);
    {
        // The interventions' Jacobian is diagonal: only the answer's and wrong's entries remain.
        std::vector<double> acc(C, 0.0);
        std::vector<float> row(C);
        for (int id : answer == wrong ? std::vector<int>{answer} : std::vector<int>{answer, wrong}) {
            if (dlogits[id] == 0.0f) continue;
            tied_embedding_row(W.lm_head.w, id, row.data());
            for (int i = 0; i < C; ++i) acc[i] += static_cast<double>(dlogits[id]) * row[i];
        }
        for (int i = 0; i < C; ++i) dln[static_cast<size_t>(T - 1) * C + i] = static_cast<float>(acc[i]);
    }
    at(Hook::LnFinal, -1, dln.data(), {T, C});
    // ---- ln_f
    layernorm_backward(tape.final_resid(), dln.data(), T, C, W.ln_f, eps, dres.data());

    for (int l = c.n_layer - 1; l >= 0; --l) {
        const BlockWeights& w = W.blocks[l];
        // dres: dLD / d(block l's output as the next block reads it).
        at(Hook::ResidPost, l, dres.data(), {T, C});

        // ---- MLP: resid += c_proj(gelu(c_fc(ln_2(resid))))
        dout = dres;
        at(Hook::MlpOut, l, dout.data(), {T, C});
        linear_backward(dout.data(), T, w.mlp_proj.w, dpost.data());
        at(Hook::MlpPost, l, dpost.data(), {T, M});
        {
            const float* pre = tape.pre(l);
            for (size_t i = 0, n = dpost.size(); i < n; ++i) dpost[i] = static_cast<float>(dpost[i] * gelu_new_grad(pre[i]));
        }
        at(Hook::MlpPre, l, dpost.data(), {T, M});
        linear_backward(dpost.data(), T, w.c_fc.w, dln.data());
        at(Hook::Ln2, l, dln.data(), {T, C});
        layernorm_backward(tape.resid_mid(l), dln.data(), T, C, w.ln_2, eps, dres.data());
        at(Hook::ResidMid, l, dres.data(), {T, C});

        // ---- attention: resid += c_proj(z), z = pattern . v, pattern = softmax(q . k / sqrt(D))
        dout = dres;
        at(Hook::AttnOut, l, dout.data(), {T, C});
        linear_backward(dout.data(), T, w.attn_proj.w, dz.data());
        at(Hook::Z, l, dz.data(), {T, H, D});
        const float *q = tape.q(l), *k = tape.k(l), *v = tape.v(l), *att = tape.att(l), *att_post = tape.att_post(l);
        auto over_heads = [&](auto&& f) {
            parallel_for(H, 1, [&](int h0, int h1) {
                for (int h = h0; h < h1; ++h) f(h);
            });
        };
        // z_i = sum_j P[i, j] v_j over every j (the forward honours a pattern written past the
        // mask): dP[i, j] = dz_i . v_j, dv_j = sum_i P[i, j] dz_i.
        over_heads([&](int h) {
            for (int i = 0; i < T; ++i) {
                const float* dzi = &dz[static_cast<size_t>(i) * C + h * D];
                float* dp = &dpat[(static_cast<size_t>(h) * T + i) * T];
                for (int j = 0; j < T; ++j) {
                    const float* vj = v + static_cast<size_t>(j) * C + h * D;
                    double s = 0;
                    for (int d = 0; d < D; ++d) s += static_cast<double>(dzi[d]) * vj[d];
                    dp[j] = static_cast<float>(s);
                }
            }
            double* acc = &hacc[static_cast<size_t>(h) * T * D];  // [T, D]: dv of head h
            std::fill(acc, acc + static_cast<size_t>(T) * D, 0.0);
            for (int i = 0; i < T; ++i) {
                const float* dzi = &dz[static_cast<size_t>(i) * C + h * D];
                const float* prow = &att_post[(static_cast<size_t>(h) * T + i) * T];
                for (int j = 0; j < T; ++j) {
                    if (prow[j] == 0.0f) continue;
                    double* a = acc + static_cast<size_t>(j) * D;
                    for (int d = 0; d < D; ++d) a[d] += static_cast<double>(prow[j]) * dzi[d];
                }
            }
            for (int j = 0; j < T; ++j)
                for (int d = 0; d < D; ++d) dv[static_cast<size_t>(j) * C + h * D + d] = static_cast<float>(acc[static_cast<size_t>(j) * D + d]);
        });
        at(Hook::Pattern, l, dpat.data(), {H, T, T});
        // Softmax over the visible prefix j <= i: dS_j = P_j (dP_j - sum_k P_k dP_k), in place;
        // the masked scores are never read: 0.
        float* dsc = dpat.data();
        over_heads([&](int h) {
            for (int i = 0; i < T; ++i) {
                const size_t r = (static_cast<size_t>(h) * T + i) * T;
                double dot = 0;
                for (int j = 0; j <= i; ++j) dot += static_cast<double>(att[r + j]) * dsc[r + j];
                for (int j = 0; j <= i; ++j) dsc[r + j] = static_cast<float>(att[r + j] * (dsc[r + j] - dot));
                for (int j = i + 1; j < T; ++j) dsc[r + j] = 0.0f;
            }
        });
        at(Hook::AttnScores, l, dsc, {H, T, T});
        // S[i, j] = q_i . k_j * scale: dq_i = scale sum_j dS[i, j] k_j, dk_j = scale sum_i dS[i, j] q_i.
        over_heads([&](int h) {
            double* acc = &hacc[static_cast<size_t>(h) * T * D];  // [T, D]: dk of head h
            std::fill(acc, acc + static_cast<size_t>(T) * D, 0.0);
            for (int i = 0; i < T; ++i) {
                const float* ds = &dsc[(static_cast<size_t>(h) * T + i) * T];
                const float* qi = q + static_cast<size_t>(i) * C + h * D;
                double* dqi = &qacc[static_cast<size_t>(h) * D];
                std::fill(dqi, dqi + D, 0.0);
                for (int j = 0; j <= i; ++j) {
                    if (ds[j] == 0.0f) continue;
                    const float* kj = k + static_cast<size_t>(j) * C + h * D;
                    double* a = acc + static_cast<size_t>(j) * D;
                    for (int d = 0; d < D; ++d) {
                        dqi[d] += static_cast<double>(ds[j]) * kj[d];
                        a[d] += static_cast<double>(ds[j]) * qi[d];
                    }
                }
                for (int d = 0; d < D; ++d) dq[static_cast<size_t>(i) * C + h * D + d] = static_cast<float>(dqi[d] * scale);
            }
            for (int j = 0; j < T; ++j)
                for (int d = 0; d < D; ++d) dk[static_cast<size_t>(j) * C + h * D + d] = static_cast<float>(acc[static_cast<size_t>(j) * D + d] * scale);
        });
        at(Hook::Q, l, dq.data(), {T, H, D});
        at(Hook::K, l, dk.data(), {T, H, D});
        at(Hook::V, l, dv.data(), {T, H, D});
        // ---- the fused c_attn: [T, 3C] laid out [Q | K | V]
        for (int t = 0; t < T; ++t) {
            float* row = &dqkv[static_cast<size_t>(t) * 3 * C];
            std::memcpy(row, &dq[static_cast<size_t>(t) * C], sizeof(float) * C);
            std::memcpy(row + C, &dk[static_cast<size_t>(t) * C], sizeof(float) * C);
            std::memcpy(row + 2 * C, &dv[static_cast<size_t>(t) * C], sizeof(float) * C);
        }
        at(Hook::Qkv, l, dqkv.data(), {T, 3 * C});
        linear_backward(dqkv.data(), T, w.c_attn.w, dln.data());
        at(Hook::Ln1, l, dln.data(), {T, C});
        layernorm_backward(tape.resid_pre(l), dln.data(), T, C, w.ln_1, eps, dres.data());
        if (l == 0 && ixg) {
            // input x gradient: (hook_embed + hook_pos_embed) . dLD/d(blocks.0.hook_resid_pre), per position.
            ixg->assign(T, 0.0);
            const float* x0 = tape.x0();
            for (int t = 0; t < T; ++t) {
                double s = 0;
                for (int i = 0; i < C; ++i) s += static_cast<double>(x0[static_cast<size_t>(t) * C + i]) * dres[static_cast<size_t>(t) * C + i];
                (*ixg)[t] = s;
            }
        }
        at(Hook::ResidPre, l, dres.data(), {T, C});
    }
    // ---- embeddings: the residual entering block 0 is hook_embed + hook_pos_embed.
    dout = dres;
    at(Hook::Embed, -1, dout.data(), {T, C});
    dout = dres;
    at(Hook::PosEmbed, -1, dout.data(), {T, C});
}

}  // namespace

uint64_t backward_floats(const Config& c, int T, int pattern_interventions) {
    return kept_floats(c, T, pattern_interventions) + work_floats(c, T);
}

// ------------------------------------------------------------------ gradients

GradientsResult gradients(const Model& m, const GradientsOptions& opt) {
    const GPT2& g = m.gpt2;
    const Config& c = g.config;
    // Everything is checked before any work.
    std::vector<std::pair<Hook, int>> want;
    for (const std::string& name : opt.hooks) {
        Hook h;
        int layer;
        parse_hook_name(name, c, h, layer);
        want.emplace_back(h, layer);
    }
    const std::vector<Intervention>& ivs = opt.interventions;
    GradientsResult r;
    r.tokens = opt.tokens.empty() ? m.tokenizer.encode(opt.prompt) : opt.tokens;
    const int T = static_cast<int>(r.tokens.size());
    check_prompt_length(c, T);
    for (int id : r.tokens)
        if (id < 0 || id >= c.vocab_size) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
    r.answer_id = parse_single_token(m.tokenizer, c, opt.answer, "answer");
    r.wrong_id = parse_single_token(m.tokenizer, c, opt.wrong, "wrong");
    for (const Intervention& iv : ivs) validate_for_length(iv, c, T, 1);
    uint64_t asked = 0;
    for (const auto& [h, layer] : want) {
        uint64_t n = 1;
        for (int d : hook_shape(h, c, T, 1)) n *= static_cast<uint64_t>(d);
        asked += n;
    }
    const std::vector<char> pattern_iv = pattern_intervened(c, ivs);
    check_budget(c, T, count(pattern_iv), asked, "the gradients asked for", opt.budget_bytes);

    for (size_t i = 0; i < want.size(); ++i) r.gradients.push_back({opt.hooks[i], hook_shape(want[i].first, c, T, 1), {}});
    Tape tape(c, T, pattern_iv);
    r.logit_diff = forward_keep(g, r.tokens, ivs, r.answer_id, r.wrong_id, tape, nullptr);
    auto sink = [&](Hook h, int layer, const float* grad, const std::vector<int>& shape) {
        for (size_t i = 0; i < want.size(); ++i)
            if (want[i].first == h && want[i].second == layer) {
                size_t n = 1;
                for (int d : shape) n *= static_cast<size_t>(d);
                r.gradients[i].data.assign(grad, grad + n);
            }
    };
    backward(g, tape, ivs, r.answer_id, r.wrong_id, sink, &r.input_x_gradient);
    r.interventions = ivs;
    return r;
}

// ------------------------------------------------------------------ attribution patching

PatchResult attribution_patch(const Model& m, const PatchOptions& opt, uint64_t budget_bytes) {
    const auto t0 = Clock::now();
    const GPT2& g = m.gpt2;
    const Config& c = g.config;
    const int C = c.n_embd, H = c.n_head, D = c.d_head(), NL = c.n_layer;

    // The checks and messages of patch, in its order.
    const PatchSetup setup = prepare_patch(m, opt);
    if (setup.metric != "logit_diff")
        throw Error("attribution patching estimates the logit difference only (metric logit_diff); for metric " + setup.metric +
                    " use the exact sweep");
    const Hook family = setup.family;
    const std::string& family_name = setup.family_name;
    const bool by_head = setup.by_head();
    const std::vector<Intervention>& ivs = setup.ivs;
    const std::vector<int>& clean = setup.clean;
    const std::vector<int>& corrupted = setup.corrupted;
    const int answer = setup.answer, wrong = setup.wrong, T = setup.T;
    const std::vector<char> pattern_iv = pattern_intervened(c, ivs);
    // Besides the backward: both runs' values at the family's hook in every block.
    check_budget(c, T, count(pattern_iv), 2ull * NL * T * C, "both runs' values at the " + family_name + " hooks", budget_bytes);

    // The clean run: its value at every block's family hook (after the interventions).
    std::vector<float> clean_acts(static_cast<size_t>(NL) * T * C), corrupted_acts(clean_acts.size());
    auto keep = [&](std::vector<float>& into) {
        return [&into, family, T, C](const HookView& v) {
            if (v.hook == family) std::memcpy(&into[static_cast<size_t>(v.layer) * T * C], v.data, sizeof(float) * v.numel());
        };
    };
    const auto keep_clean = keep(clean_acts);
    const std::vector<float> logits = g.forward(clean, [&](HookView& v) {
        apply_interventions(ivs, v);
        keep_clean(v);
    }, false);
    const double clean_diff = static_cast<double>(logits[answer]) - static_cast<double>(logits[wrong]);
    // The corrupted run, kept for the backward.
    Tape tape(c, T, pattern_iv);
    const double corrupted_diff = forward_keep(g, corrupted, ivs, answer, wrong, tape, keep(corrupted_acts));

    // One backward: at each block's family hook, sum (clean - corrupted) * gradient over each slice.
    const int n = by_head ? H : T;
    std::vector<std::vector<double>> rows(NL, std::vector<double>(n, corrupted_diff));
    auto sink = [&](Hook h, int layer, const float* grad, const std::vector<int>&) {
        if (h != family) return;
        const size_t base = static_cast<size_t>(layer) * T * C;
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < C; ++i) {
                const size_t at = static_cast<size_t>(t) * C + i;
                const double delta = static_cast<double>(clean_acts[base + at]) - corrupted_acts[base + at];
                rows[layer][by_head ? i / D : t] += delta * grad[at];
            }
    };
    backward(g, tape, ivs, answer, wrong, sink, nullptr);

    PatchResult r;
    r.hook = family_name;
    r.by = setup.by;
    r.method = "attribution";
    r.clean_tokens = clean;
    r.corrupted_tokens = corrupted;
    r.answer_id = answer;
    r.wrong_id = wrong;
    r.clean_logit_diff = clean_diff;
    r.corrupted_logit_diff = corrupted_diff;
    r.n_layer = NL;
    r.interventions = ivs;
    for (const auto& row : rows) {
        std::vector<double> nm;
        for (double x : row) nm.push_back((x - corrupted_diff) / (clean_diff - corrupted_diff));
        r.normalized.push_back(std::move(nm));
    }
    r.logit_diff = std::move(rows);
    r.forwards = 2;
    r.backwards = 1;
    r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    return r;
}

}  // namespace hooklab
