// WebAssembly SIMD (simd128) GEMM. Built only for wasm (Eigen does not vectorise there).
//
// Layout: the weight W [in, out] is stored as ceil(out / 8) panels of 8 output columns;
// panel p holds W[k, 8p .. 8p+7] for k = 0 .. in-1, contiguous ([in][8]), the last
// panel zero-padded. Both orientations (Conv1D [in, out] and the tied wte [out, in])
// are packed into the same layout at load time, so one kernel serves every matmul.
// F16 weights keep the same layout as IEEE half and are widened one panel at a time
// (in x 8 values, at most 96 KB for GPT-2's widest input) into a scratch buffer.
//
// The micro-kernel computes a 4 x 8 tile of y with 8 v128 accumulators (V8 keeps 15
// vector registers on x64; larger tiles spill). gemm_transposed (the backward's dy W^T)
// reads the same panels, below.
#include "hooklab/kernels.h"

#ifdef __wasm_simd128__

#include <wasm_simd128.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hooklab/parallel.h"
#include "hooklab/safetensors.h"


namespace hooklab {

namespace {

constexpr int kPanel = 8;
// Rows per tile of the micro-kernel; a call's last T % kTile rows form a tile of their own
// (gemm_panel), and F16 panels are widened first only for calls of kTile rows or more.
constexpr int kTile = 4;
// Steps of k an F32 panel's tiles take together before moving on (see gemm_panel).
constexpr int kKBlock = 256;
// Lines loaded together on the way (see gemm_panel).
constexpr int kBurst = 8;
// Panels per parallel_for chunk (32 columns: 24 chunks on a 768-wide output, enough to
// even out cores of unequal speed; the pool's last chunks are smaller), and the
// multiply-adds below which a GEMM stays on the calling thread (~30 us: waking the pool
// would cost a good part of that).
constexpr int kGrain = 4;
constexpr double kParallelMin = 1 << 20;
std::atomic<uint32_t> touch_sink;

inline int panels(int out) { return (out + kPanel - 1) / kPanel; }

// Eight IEEE halves to eight floats, exactly (normals, subnormals, inf and NaN): the
// magnitude bits shifted into place and rescaled by 2^112 handle normals and
// subnormals alike; exponent 31 becomes 255.
inline void widen8(const uint16_t* src, float* dst) {
    const v128_t h = wasm_v128_load(src);
    const v128_t magic = wasm_f32x4_splat(0x1.0p112f);
    const v128_t inf_threshold = wasm_i32x4_splat(0x0f800000);  // (31 << 10) << 13
    const v128_t exp_all = wasm_i32x4_splat(0x7f800000);
    for (int half = 0; half < 2; ++half) {
        const v128_t u = half ? wasm_u32x4_extend_high_u16x8(h) : wasm_u32x4_extend_low_u16x8(h);
        const v128_t sign = wasm_i32x4_shl(wasm_v128_and(u, wasm_i32x4_splat(0x8000)), 16);
        const v128_t mag = wasm_i32x4_shl(wasm_v128_and(u, wasm_i32x4_splat(0x7fff)), 13);
        v128_t f = wasm_f32x4_mul(mag, magic);
        const v128_t special = wasm_i32x4_ge(mag, inf_threshold);
        f = wasm_v128_bitselect(wasm_v128_or(mag, exp_all), f, special);
        wasm_v128_store(dst + 4 * half, wasm_v128_or(f, sign));
    }
}

// The fast widening, exact for zeros, normals and subnormals (not inf/NaN: matrices
// holding those use widen8). Built in 16-bit lanes: the high half of each float is
// sign | (magnitude >> 3), the low half magnitude << 13; interleaved, that is the half's
// bit pattern moved into float position, and one multiply by 2^112 rebiases the exponent.
inline void widen8_fast(v128_t h, v128_t& lo, v128_t& hi) {
    const v128_t hi16 = wasm_v128_and(wasm_v128_bitselect(h, wasm_u16x8_shr(h, 3), wasm_i16x8_splat(static_cast<int16_t>(0x8000))),
                                      wasm_i16x8_splat(static_cast<int16_t>(0x8fff)));
    const v128_t lo16 = wasm_i16x8_shl(h, 13);
    const v128_t magic = wasm_f32x4_splat(0x1.0p112f);
    lo = wasm_f32x4_mul(wasm_i16x8_shuffle(lo16, hi16, 0, 8, 1, 9, 2, 10, 3, 11), magic);
    hi = wasm_f32x4_mul(wasm_i16x8_shuffle(lo16, hi16, 4, 12, 5, 13, 6, 14, 7, 15), magic);
}

void widen_panel(const uint16_t* src, size_t n, float* dst, bool special) {
    size_t i = 0;
    if (special) {
        for (; i + 8 <= n; i += 8) widen8(src + i, dst + i);
    } else {
        for (; i + 8 <= n; i += 8) {
            v128_t lo, hi;
            widen8_fast(wasm_v128_load(src + i), lo, hi);
            wasm_v128_store(dst + i, lo);
            wasm_v128_store(dst + i + 4, hi);
        }
    }
    for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

// One row against an F16 panel, widened in registers (no scratch pass): T = 1 is the
// decode-style case where a separate widening pass would cost more than the GEMV.
inline void tile1x8_f16(const float* x, const uint16_t* w, int K, const float* b, float* y, int nv) {
    v128_t c0 = wasm_v128_load(b), c1 = wasm_v128_load(b + 4);
    v128_t d0 = wasm_f32x4_splat(0), d1 = d0;
    int k = 0;
    for (; k + 2 <= K; k += 2) {
        v128_t w0, w1, w2, w3;
        widen8_fast(wasm_v128_load(w + 8 * k), w0, w1);
        widen8_fast(wasm_v128_load(w + 8 * k + 8), w2, w3);
        const v128_t a = wasm_v128_load32_splat(x + k), a2 = wasm_v128_load32_splat(x + k + 1);
        c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(a, w0));
        c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(a, w1));
        d0 = wasm_f32x4_add(d0, wasm_f32x4_mul(a2, w2));
        d1 = wasm_f32x4_add(d1, wasm_f32x4_mul(a2, w3));
    }
    for (; k < K; ++k) {
        v128_t w0, w1;
        widen8_fast(wasm_v128_load(w + 8 * k), w0, w1);
        const v128_t a = wasm_v128_load32_splat(x + k);
        c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(a, w0));
        c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(a, w1));
    }
    alignas(16) float tmp[8];
    wasm_v128_store(tmp, wasm_f32x4_add(c0, d0));
    wasm_v128_store(tmp + 4, wasm_f32x4_add(c1, d1));
    std::memcpy(y, tmp, sizeof(float) * nv);
}

// Loads a 64-byte line (wasm has no prefetch instruction); the caller ORs what it returns
// into touch_sink so that the load stays.
inline uint32_t touch_line(const uint8_t* p) { return *p; }

// One step of k for R rows: the arithmetic of every tile.
template <int R>
inline void step_rx8(v128_t (&c)[R][2], const float* x, size_t ldx, const float* w, int k) {
    const v128_t w0 = wasm_v128_load(w + 8 * k), w1 = wasm_v128_load(w + 8 * k + 4);
    for (int r = 0; r < R; ++r) {
        const v128_t a = wasm_v128_load32_splat(x + r * ldx + k);
        c[r][0] = wasm_f32x4_add(c[r][0], wasm_f32x4_mul(a, w0));
        c[r][1] = wasm_f32x4_add(c[r][1], wasm_f32x4_mul(a, w1));
    }
}

// y[R, 8] = x[R, K] . panel[K, 8] (+ b); ld = row stride of x and y. R is a template
// argument so that the 2R accumulators live in registers (the loops over r unroll).
// On the way it loads `lines` lines from `pf` on, one every `step` steps of k (any left
// at the end, then): see gemm_panel. Returns what they held, ORed.
template <int R>
inline uint32_t tile_rx8(const float* x, size_t ldx, const float* w, int K, const float* b, float* y, size_t ldy, int nv,
                         const uint8_t* pf, int lines, int step, bool resume = false) {
    v128_t c[R][2];
    const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    for (int r = 0; r < R; ++r) {
        c[r][0] = resume ? wasm_v128_load(y + r * ldy) : b0;
        c[r][1] = resume ? wasm_v128_load(y + r * ldy + 4) : b1;
    }
    uint32_t touched = 0;
    int k = 0;
    for (int k1 = step; k1 <= K; k1 += step) {
        for (int b = 0; b < kBurst && lines > 0; ++b) {
            touched |= touch_line(pf);
            pf += 64;
            --lines;
        }
        for (; k < k1; ++k) step_rx8<R>(c, x, ldx, w, k);
    }
    for (; k < K; ++k) step_rx8<R>(c, x, ldx, w, k);
    for (; lines > 0; --lines, pf += 64) touched |= touch_line(pf);
    if (nv == kPanel) {
        for (int r = 0; r < R; ++r) { wasm_v128_store(y + r * ldy, c[r][0]); wasm_v128_store(y + r * ldy + 4, c[r][1]); }
    } else {
        alignas(16) float tmp[8];
        for (int r = 0; r < R; ++r) {
            wasm_v128_store(tmp, c[r][0]);
            wasm_v128_store(tmp + 4, c[r][1]);
            std::memcpy(y + r * ldy, tmp, sizeof(float) * nv);
        }
    }
    return touched;
}

// One row: two independent accumulator pairs over even/odd k hide the add latency.
inline void tile1x8(const float* x, const float* w, int K, const float* b, float* y, int nv) {
    v128_t c0 = wasm_v128_load(b), c1 = wasm_v128_load(b + 4);
    v128_t d0 = wasm_f32x4_splat(0), d1 = d0;
    int k = 0;
    for (; k + 2 <= K; k += 2) {
        const v128_t a = wasm_v128_load32_splat(x + k), a2 = wasm_v128_load32_splat(x + k + 1);
        c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(a, wasm_v128_load(w + 8 * k)));
        c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(a, wasm_v128_load(w + 8 * k + 4)));
        d0 = wasm_f32x4_add(d0, wasm_f32x4_mul(a2, wasm_v128_load(w + 8 * k + 8)));
        d1 = wasm_f32x4_add(d1, wasm_f32x4_mul(a2, wasm_v128_load(w + 8 * k + 12)));
    }
    for (; k < K; ++k) {
        const v128_t a = wasm_v128_load32_splat(x + k);
        c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(a, wasm_v128_load(w + 8 * k)));
        c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(a, wasm_v128_load(w + 8 * k + 4)));
    }
    alignas(16) float tmp[8];
    wasm_v128_store(tmp, wasm_f32x4_add(c0, d0));
    wasm_v128_store(tmp + 4, wasm_f32x4_add(c1, d1));
    std::memcpy(y, tmp, sizeof(float) * nv);
}

// Columns 8p .. 8p+7 of y = x W + b. `own` is this thread's widening buffer (F16);
// `first`: the first panel of this thread's run of consecutive ones.
//
// The weights stream from memory once per forward (GPT-2 small's F32 weights are 500 MB).
// While the tiles run, what they read next (the next kKBlock steps of this panel, or the
// next panel) is loaded kBurst lines at a time every `step` steps of k, spread evenly over
// the tiles, so that the CPU's stream prefetcher keeps ahead of those loads and the tiles
// rarely wait on memory; the lines of a burst miss together, so the pipeline waits once for
// eight of them. Touching a whole panel at once before its tiles stalled them instead (Xeon,
// one thread, 32 rows: the forward's F32 GEMMs at 66 % of simd128's peak, 78-80 % with the
// loads spread a line at a time; lm_head 9 % faster again in bursts of 4-8 lines, bursts of
// 16-32 no better; spread twice as fast, every other line, two panels ahead: no better).
// F32 tiles also go kKBlock steps of k at a time (their sums so far wait in y, as floats:
// the same bits), so that the block they read and the one loaded fit in L1 together.
void gemm_panel(const float* x, int T, const PackedMatrix& W, const float* bias, float* y, int p, float* own, bool first) {
    const int K = W.in, N = W.out;
    const size_t panel_size = static_cast<size_t>(K) * kPanel;
    const int n0 = p * kPanel, nv = std::min(kPanel, N - n0);
    alignas(16) float b[kPanel] = {};
    if (bias) std::memcpy(b, bias + n0, sizeof(float) * nv);
    const size_t panel_bytes = panel_size * (W.f16 ? 2 : 4);
    const uint8_t* const base = W.f16 ? reinterpret_cast<const uint8_t*>(W.w16.data()) : reinterpret_cast<const uint8_t*>(W.w32.data());
    const uint8_t* const next = base + (p + 1) * panel_bytes;
    // Tiles that load lines on the way: the 4-row ones and a last one of 2 or 3 rows.
    const int tiles = T / kTile + (T % kTile >= 2);
    uint32_t touched = 0;
    if (first && T >= kTile && !W.f16)
        for (size_t i = 0, n = std::min<size_t>(panel_bytes, kKBlock * kPanel * 4); i < n; i += 64) touched |= touch_line(base + p * panel_bytes + i);
    const float* w;
    if (W.f16) {
        const uint16_t* w16 = W.w16.data() + p * panel_size;
        if (!own) {  // too few rows to pay for a widening pass
            for (int t = 0; t < T; ++t)
                tile1x8_f16(x + static_cast<size_t>(t) * K, w16, K, b, y + static_cast<size_t>(t) * N + n0, nv);
            return;
        }
        widen_panel(w16, panel_size, own, W.f16_special);
        w = own;
    } else {
        w = W.w32.data() + p * panel_size;
    }
    // Tile i loads lines [todo * i / tiles, todo * (i + 1) / tiles) of what comes next.
    int tile = 0, done = 0, todo = 0;
    auto share = [&]() {
        const int upto = static_cast<int>(static_cast<int64_t>(todo) * ++tile / tiles), n = upto - done;
        done = upto;
        return n;
    };
    static_assert(kTile == 4, "the tail below handles 1 to 3 leftover rows");
    const int T4 = T - T % kTile;
    const int kc = !W.f16 && nv == kPanel && T >= kTile ? std::min(K, kKBlock) : K;
    const uint8_t* const end = base + panels(N) * panel_bytes;
    for (int k0 = 0; k0 < K; k0 += kc) {
        const int kk = std::min(kc, K - k0);
        const uint8_t* from = W.f16 ? next : reinterpret_cast<const uint8_t*>(w + static_cast<size_t>(k0 + kk) * kPanel);
        const size_t want = W.f16 ? panel_bytes : static_cast<size_t>(kc) * kPanel * 4;
        todo = T >= kTile && from < end ? static_cast<int>(std::min<size_t>(want, end - from) / 64) : 0;
        tile = done = 0;
        const int step = todo ? std::max(1, kk * tiles * kBurst / todo) : kk;
        const bool resume = k0 > 0;
        for (int t = 0; t < T4; t += kTile) {
            const uint8_t* at = from + static_cast<size_t>(done) * 64;
            const int n = share();
            touched |= tile_rx8<kTile>(x + static_cast<size_t>(t) * K + k0, K, w + static_cast<size_t>(k0) * kPanel, kk, b,
                                       y + static_cast<size_t>(t) * N + n0, N, nv, at, n, step, resume);
        }
        const float* xt = x + static_cast<size_t>(T4) * K + k0;
        float* yt = y + static_cast<size_t>(T4) * N + n0;
        const uint8_t* at = from + static_cast<size_t>(done) * 64;
        const float* wk = w + static_cast<size_t>(k0) * kPanel;
        switch (T - T4) {  // the last rows in one pass over the panel, not one pass per row
            case 3: touched |= tile_rx8<3>(xt, K, wk, kk, b, yt, N, nv, at, share(), step, resume); break;
            case 2: touched |= tile_rx8<2>(xt, K, wk, kk, b, yt, N, nv, at, share(), step, resume); break;
            default: break;
        }
    }
    // One row sums in another order (two partial sums): over the whole panel at once.
    if (T - T4 == 1) tile1x8(x + static_cast<size_t>(T4) * K, w, K, b, y + static_cast<size_t>(T4) * N + n0, nv);
    if (T >= kTile) touch_sink.store(touched, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- dx = dy W^T
//
// For the backward of y = x W + b: dx[t, k] = sum_n dy[t, n] W[k, n], reading the panels in
// place. In panel p, W[k, 8p .. 8p+7] are 8 contiguous values, so 4 consecutive k give a 4 x 8
// block, transposed in registers into 8 vectors c[j] = W[k .. k+3, 8p + j] (F16 widened on the
// way). Then dx[t, k .. k+3] += dy[t, 8p + j] * c[j] for j = 0 .. 7 (dy's values splatted),
// panel after panel: every element of dx is the plain sum over n = 0, 1, .., N-1 in order (a
// last partial panel adds dy's missing columns as 0 * 0), whatever T, the row, the columns
// computed with it or the thread.
//
// The work goes in chunks of up to kTChunk blocks of 4 columns and kTRows rows, panel by
// panel: the chunk's part of a panel is contiguous (a prefetch-like touch pulls in the next
// one while this one is computed), the chunk's sums stay in a stack buffer (kTRows x 128
// floats), and each block of weights read and transposed serves all of the chunk's rows,
// 4 rows x 8 columns at a time in registers, as the forward's tile.
constexpr int kTBlock = 4;
constexpr int kTChunk = 32;  // blocks of 4 columns (128 columns of dx: 4 KB of an F32 panel)
constexpr int kTRows = 32;   // rows of dx per pass over the weights
constexpr int kTTile = 4;    // rows whose sums stay in registers over a panel

// Rows k0 .. k0+nk-1 (nk <= 4; the others zero) of panel p, transposed: c[j] = W[k0 .. k0+3, 8p + j].
inline void load_block_t(const PackedMatrix& W, int p, int k0, int nk, v128_t c[8]) {
    const size_t base = static_cast<size_t>(p) * W.in * kPanel + static_cast<size_t>(k0) * kPanel;
    v128_t r[4][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < 4; ++i) {
        if (i >= nk) {
            r[i][0] = r[i][1] = wasm_f32x4_splat(0.0f);
        } else if (!W.f16) {
            r[i][0] = wasm_v128_load(W.w32.data() + base + i * kPanel);
            r[i][1] = wasm_v128_load(W.w32.data() + base + i * kPanel + 4);
        } else if (!W.f16_special) {
            widen8_fast(wasm_v128_load(W.w16.data() + base + i * kPanel), r[i][0], r[i][1]);
        } else {
            alignas(16) float tmp[8];
            widen8(W.w16.data() + base + i * kPanel, tmp);
            r[i][0] = wasm_v128_load(tmp);
            r[i][1] = wasm_v128_load(tmp + 4);
        }
    }
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; ++h) {  // columns 4h .. 4h+3
        const v128_t t0 = wasm_i32x4_shuffle(r[0][h], r[1][h], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r[0][h], r[1][h], 2, 6, 3, 7);
        const v128_t t2 = wasm_i32x4_shuffle(r[2][h], r[3][h], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r[2][h], r[3][h], 2, 6, 3, 7);
        c[4 * h + 0] = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
        c[4 * h + 1] = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
        c[4 * h + 2] = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
        c[4 * h + 3] = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
    }
}

// R rows of KV blocks of dx's 4 columns: a[r][v] (+)= sum_j d[r][j] * c[v][j], j in order,
// onto the sums so far (zero on the first panel). The R x KV sums stay in registers (4 x 2:
// as the forward's 4 x 8 tile, 8 accumulators and 6 loads for 16 multiply-adds); the loop
// over j is kept (unrolled, clang hoists all its loads and V8 spills them).
template <int R, int KV>
inline void rows_t(const v128_t* d, const v128_t (*c)[kPanel], float* a, int lda, bool first) {
    v128_t s[R][KV];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r)
#pragma clang loop unroll(full)
        for (int v = 0; v < KV; ++v) s[r][v] = first ? wasm_f32x4_splat(0.0f) : wasm_v128_load(a + r * lda + v * kTBlock);
#pragma clang loop unroll(disable)
    for (int j = 0; j < kPanel; ++j) {
        v128_t cj[KV];
#pragma clang loop unroll(full)
        for (int v = 0; v < KV; ++v) cj[v] = c[v][j];
#pragma clang loop unroll(full)
        for (int r = 0; r < R; ++r) {
            const v128_t dj = d[r * kPanel + j];
#pragma clang loop unroll(full)
            for (int v = 0; v < KV; ++v) s[r][v] = wasm_f32x4_add(s[r][v], wasm_f32x4_mul(dj, cj[v]));
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; ++r)
#pragma clang loop unroll(full)
        for (int v = 0; v < KV; ++v) wasm_v128_store(a + r * lda + v * kTBlock, s[r][v]);
}

template <int KV>
inline void rows_all_t(const v128_t* d, const v128_t (*c)[kPanel], float* a, int lda, int nt, bool first) {
    static_assert(kTTile == 4, "the switch below handles 1 to 3 leftover rows");
    int t = 0;
    for (; t + kTTile <= nt; t += kTTile, a += kTTile * lda, d += kTTile * kPanel) rows_t<kTTile, KV>(d, c, a, lda, first);
    switch (nt - t) {  // the last rows, together
        case 3: rows_t<3, KV>(d, c, a, lda, first); break;
        case 2: rows_t<2, KV>(d, c, a, lda, first); break;
        case 1: rows_t<1, KV>(d, c, a, lda, first); break;
        default: break;
    }
}

// Loads one value per 64-byte line of n bytes at p (see gemm_panel's touch).
inline void touch(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i += 64) acc |= b[i];
    touch_sink.store(acc, std::memory_order_relaxed);
}

// Columns 4 b0 .. min(4 b1, K) - 1 of dx = dy W^T (b1 - b0 <= kTChunk).
void gemm_t_chunk(const float* dy, int T, const PackedMatrix& W, float* dx, int b0, int b1) {
    const int K = W.in, N = W.out, P = panels(N);
    const int k0 = b0 * kTBlock, ncols = std::min(b1 * kTBlock, K) - k0, lda = (b1 - b0) * kTBlock;
    const size_t elem = W.f16 ? 2 : 4;
    const uint8_t* wbytes = W.f16 ? reinterpret_cast<const uint8_t*>(W.w16.data()) : reinterpret_cast<const uint8_t*>(W.w32.data());
    const size_t panel_bytes = static_cast<size_t>(K) * kPanel * elem, slice = static_cast<size_t>(ncols) * kPanel * elem;
    alignas(16) float acc[kTRows * kTChunk * kTBlock];  // the sums: [rows][lda]
    // dy's 8 columns of this panel, each value splatted: [rows][8] vectors. (Read with
    // v128.load: V8 does not fold load32_splat's constant offsets into the address, and
    // keeping an address per offset spills.)
    v128_t dys[kTRows * kPanel];
    for (int t0 = 0; t0 < T; t0 += kTRows) {
        const int nt = std::min(kTRows, T - t0);
        for (int p = 0; p < P; ++p) {
            if (p + 1 < P) touch(wbytes + (p + 1) * panel_bytes + static_cast<size_t>(k0) * kPanel * elem, slice);
            const int n0 = p * kPanel, nv = std::min(kPanel, N - n0);
            for (int t = 0; t < nt; ++t) {  // past N, dy reads as 0 (as W's padding is)
                const float* src = dy + static_cast<size_t>(t0 + t) * N + n0;
                alignas(16) float pad[kPanel] = {};
                if (nv < kPanel) {
                    std::memcpy(pad, src, sizeof(float) * nv);
                    src = pad;
                }
                const v128_t lo = wasm_v128_load(src), hi = wasm_v128_load(src + 4);
                v128_t* d = dys + t * kPanel;
                d[0] = wasm_i32x4_shuffle(lo, lo, 0, 0, 0, 0);
                d[1] = wasm_i32x4_shuffle(lo, lo, 1, 1, 1, 1);
                d[2] = wasm_i32x4_shuffle(lo, lo, 2, 2, 2, 2);
                d[3] = wasm_i32x4_shuffle(lo, lo, 3, 3, 3, 3);
                d[4] = wasm_i32x4_shuffle(hi, hi, 0, 0, 0, 0);
                d[5] = wasm_i32x4_shuffle(hi, hi, 1, 1, 1, 1);
                d[6] = wasm_i32x4_shuffle(hi, hi, 2, 2, 2, 2);
                d[7] = wasm_i32x4_shuffle(hi, hi, 3, 3, 3, 3);
            }
            for (int b = b0; b < b1; b += 2) {  // two blocks (8 columns) at a time
                alignas(16) v128_t c[2][kPanel];
                const int kv = std::min(2, b1 - b);
                for (int v = 0; v < kv; ++v) load_block_t(W, p, (b + v) * kTBlock, std::min(kTBlock, K - (b + v) * kTBlock), c[v]);
                float* a = acc + (b - b0) * kTBlock;
                if (kv == 2) rows_all_t<2>(dys, c, a, lda, nt, p == 0);
                else rows_all_t<1>(dys, c, a, lda, nt, p == 0);
            }
        }
        for (int t = 0; t < nt; ++t) std::memcpy(dx + static_cast<size_t>(t0 + t) * K + k0, acc + t * lda, sizeof(float) * ncols);
    }
}

}  // namespace

uint64_t packed_bytes(int in, int out, bool f16) {
    return static_cast<uint64_t>(panels(out)) * kPanel * in * (f16 ? 2 : 4);
}

PackedMatrix make_packed(int in, int out, bool transposed, bool f16) {
    PackedMatrix W;
    W.in = in;
    W.out = out;
    W.f16 = f16;
    W.transposed = transposed;
    const size_t n = static_cast<size_t>(panels(out)) * kPanel * in;
    if (f16) W.w16.assign(n, 0);
    else W.w32.assign(n, 0.0f);
    return W;
}

void pack_rows(PackedMatrix& W, const float* src, int row0, int nrows) {
    const size_t in = W.in;
    auto put = [&](size_t k, size_t n, float v) {
        const size_t idx = (n / kPanel) * in * kPanel + k * kPanel + n % kPanel;
        if (W.f16) {
            const uint16_t h = f32_to_f16(v);
            if ((h & 0x7c00) == 0x7c00) W.f16_special = true;
            W.w16[idx] = h;
        } else {
            W.w32[idx] = v;
        }
    };
    if (!W.transposed) {  // rows are k, each over all out columns
        for (int r = 0; r < nrows; ++r)
            for (int n = 0; n < W.out; ++n) put(row0 + r, n, src[static_cast<size_t>(r) * W.out + n]);
    } else {  // rows are output columns n, each over all k
        for (int r = 0; r < nrows; ++r)
            for (size_t k = 0; k < in; ++k) put(k, row0 + r, src[r * in + k]);
    }
}

PackedMatrix pack_matrix(const float* src, int in, int out, bool transposed, bool f16) {
    PackedMatrix W = make_packed(in, out, transposed, f16);
    pack_rows(W, src, 0, transposed ? out : in);
    return W;
}

void gemm(const float* x, int T, const PackedMatrix& W, const float* bias, float* y) {
    const int K = W.in, N = W.out, P = panels(N);
    const size_t panel_size = static_cast<size_t>(K) * kPanel;
    // One widening buffer per thread, allocated here by the caller: a worker that grew the
    // wasm memory would leave the JS side's heap views stale.
    static thread_local std::vector<float> scratch;
    const bool widen = W.f16 && (T >= kTile || W.f16_special);
    if (widen && scratch.size() < panel_size * threads()) scratch.resize(panel_size * threads());
    // The caller's buffer, by pointer: inside the lambda, `scratch` would name the running
    // thread's own (empty) thread_local vector.
    float* const buffers = widen ? scratch.data() : nullptr;
    // Panels are independent and each is computed by the same code whichever thread
    // takes it, so the result does not depend on the number of threads.
    auto panels_range = [&](int p0, int p1) {
        float* own = buffers ? buffers + panel_size * thread_slot() : nullptr;
        for (int p = p0; p < p1; ++p) gemm_panel(x, T, W, bias, y, p, own, p == p0);
    };
    if (static_cast<double>(T) * K * N < kParallelMin) panels_range(0, P);
    else parallel_for(P, kGrain, panels_range);
}

std::vector<int> gemm_exact_rows(const PackedMatrix& W, int T, const std::vector<int>& rows) {
    // gemm_panel runs rows in 4-row tiles from row 0 and the last 1-3 rows as a tile of
    // their own, whose 1-row kernel sums in another order than the others (two partial
    // sums). Whole tiles keep every row in a tile of its own size and place: each kept
    // tile but the last has 4 rows, and the last one, if short, is the last of T too.
    const int tiles = (T + kTile - 1) / kTile;
    std::vector<char> keep(tiles, 0);
    for (int r : rows) keep[r / kTile] = 1;
    // F16 weights are widened first only when a call has 4 rows or more (else each row
    // widens in registers, summed in the 1-row order): a short last tile stays short of 4
    // only if T is.
    if (W.f16 && T >= kTile && std::count(keep.begin(), keep.end(), 1) == 1 && keep[tiles - 1] && T % kTile)
        keep[tiles - 2] = 1;
    std::vector<int> out;
    for (int t = 0; t < tiles; ++t)
        if (keep[t])
            for (int r = t * kTile; r < std::min(T, (t + 1) * kTile); ++r) out.push_back(r);
    return out;
}

void tied_embedding_row(const PackedMatrix& W, int token, float* dst) {
    // Column `token` of the packed [in, out] matrix: stride 8 inside one panel.
    const size_t base = static_cast<size_t>(token / kPanel) * W.in * kPanel + token % kPanel;
    if (W.f16) for (int k = 0; k < W.in; ++k) dst[k] = f16_to_f32(W.w16[base + static_cast<size_t>(k) * kPanel]);
    else for (int k = 0; k < W.in; ++k) dst[k] = W.w32[base + static_cast<size_t>(k) * kPanel];
}

std::vector<float> unpack_matrix(const PackedMatrix& W) {
    // Column n of [in, out] lives in panel n / 8, lane n % 8, whatever the source orientation.
    std::vector<float> out(static_cast<size_t>(W.in) * W.out);
    for (size_t k = 0; k < static_cast<size_t>(W.in); ++k)
        for (size_t n = 0; n < static_cast<size_t>(W.out); ++n) {
            const size_t i = (n / kPanel) * W.in * kPanel + k * kPanel + n % kPanel;
            out[k * W.out + n] = W.f16 ? f16_to_f32(W.w16[i]) : W.w32[i];
        }
    return out;
}

void gemm_transposed(const float* dy, int T, const PackedMatrix& W, float* dx) {
    const int K = W.in, N = W.out;
    if (N == 0) {
        std::fill(dx, dx + static_cast<size_t>(T) * K, 0.0f);
        return;
    }
    // Blocks of 4 columns of dx, independent, each summed in the same order whichever thread
    // takes it and whichever blocks it is computed with: the bits do not depend on the
    // number of threads.
    const int blocks = (K + kTBlock - 1) / kTBlock;
    auto run = [&](int b0, int b1) {
        for (int b = b0; b < b1; b += kTChunk) gemm_t_chunk(dy, T, W, dx, b, std::min(b1, b + kTChunk));
    };
    if (static_cast<double>(T) * K * N < kParallelMin) run(0, blocks);
    else parallel_for(blocks, std::min(kTChunk, std::max(4, blocks / (2 * threads()))), run);
}

const char* kernel_name() { return "simd128-4x8"; }

}  // namespace hooklab

#endif  // __wasm_simd128__
