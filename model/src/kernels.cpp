// Native GEMM: Eigen (vectorised for the host with -march=native). The weight keeps
// the orientation it was given in, so the tied lm_head needs no transposed copy.
// F16 weights are widened panel by panel into a scratch buffer.
// Under WebAssembly SIMD the simd128 kernels of kernels_wasm.cpp replace this file.
#include "hooklab/kernels.h"

#ifndef __wasm_simd128__

#include <algorithm>
#include <cstring>
#include <vector>

#include <Eigen/Core>

#include "hooklab/parallel.h"
#include "hooklab/safetensors.h"

namespace hooklab {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapC = Eigen::Map<const RowMat>;
// Output columns per block (see gemm), and the multiply-adds below which a GEMM stays on
// the calling thread (waking the pool would cost a good part of it).
constexpr int kCols = 128;
constexpr double kParallelMin = 1 << 20;

// Few rows (decoding: a row per sequence): Eigen runs a GEMV per row, or for 2+ rows
// packs the whole weight block, several times slower than reading it. Here the weights
// stream once for all rows, and each output sums over k in the same order whatever the
// number of rows (so decoding one sequence or several together gives the same bits).
constexpr int kFewRows = 4;

template <int R>
void few_rows(const float* x, const PackedMatrix& W, const float* bias, float* y, int c0, int nc) {
    const int K = W.in, N = W.out;
    if (W.transposed) {
        // Stored [out, in]: output c is a dot product with weight row c, in 16 lanes
        // (k mod 16) that the compiler vectorises, then added in a fixed order.
        constexpr int L = 16;
        const int K16 = K - K % L;
        for (int c = c0; c < c0 + nc; ++c) {
            const float* w = W.w32.data() + static_cast<size_t>(c) * K;
            float acc[R][L] = {};
            for (int k = 0; k < K16; k += L)
                for (int r = 0; r < R; ++r)
                    for (int l = 0; l < L; ++l) acc[r][l] += x[static_cast<size_t>(r) * K + k + l] * w[k + l];
            for (int r = 0; r < R; ++r) {
                float s = 0;
                for (int l = 0; l < L; ++l) s += acc[r][l];
                for (int k = K16; k < K; ++k) s += x[static_cast<size_t>(r) * K + k] * w[k];
                y[static_cast<size_t>(r) * N + c] = bias ? s + bias[c] : s;
            }
        }
        return;
    }
    // Stored [in, out]: rows of W scaled by x[r, k] and added up, k in order.
    float acc[R][kCols] = {};
    for (int k = 0; k < K; ++k) {
        const float* w = W.w32.data() + static_cast<size_t>(k) * N + c0;
        for (int r = 0; r < R; ++r) {
            const float a = x[static_cast<size_t>(r) * K + k];
            for (int j = 0; j < nc; ++j) acc[r][j] += a * w[j];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int j = 0; j < nc; ++j) y[static_cast<size_t>(r) * N + c0 + j] = bias ? acc[r][j] + bias[c0 + j] : acc[r][j];
}

// Columns c0 .. c0+nc-1 of y = x W + b.
void gemm_block(const float* x, int T, const PackedMatrix& W, const float* bias, float* y, int c0, int nc) {
    if (!W.f16 && T <= kFewRows) {
        switch (T) {
            case 1: return few_rows<1>(x, W, bias, y, c0, nc);
            case 2: return few_rows<2>(x, W, bias, y, c0, nc);
            case 3: return few_rows<3>(x, W, bias, y, c0, nc);
            default: return few_rows<4>(x, W, bias, y, c0, nc);
        }
    }
    MapC X(x, T, W.in);
    Eigen::Map<RowMat, 0, Eigen::OuterStride<>> Y(y + c0, T, nc, Eigen::OuterStride<>(W.out));
    if (!W.f16) {
        if (W.transposed) Y.noalias() = X * MapC(W.w32.data() + static_cast<size_t>(c0) * W.in, nc, W.in).transpose();
        else Y.noalias() = X * MapC(W.w32.data(), W.in, W.out).middleCols(c0, nc);
    } else if (W.transposed) {
        // Stored [out, in]: this block is nc contiguous rows, widened whole.
        static thread_local std::vector<float> panel;
        panel.resize(static_cast<size_t>(nc) * W.in);
        const uint16_t* s = W.w16.data() + static_cast<size_t>(c0) * W.in;
        for (size_t i = 0, n = panel.size(); i < n; ++i) panel[i] = f16_to_f32(s[i]);
        Y.noalias() = X * MapC(panel.data(), nc, W.in).transpose();
    } else {
        // Stored [in, out]: widen kBlock rows of this block at a time (bounded scratch),
        // each a full product so Eigen's kernels still do the work.
        constexpr int kBlock = 256;
        static thread_local std::vector<float> panel;
        panel.resize(static_cast<size_t>(kBlock) * nc);
        for (int r0 = 0; r0 < W.in; r0 += kBlock) {
            const int nr = std::min(kBlock, W.in - r0);
            for (int r = 0; r < nr; ++r) {
                const uint16_t* s = W.w16.data() + static_cast<size_t>(r0 + r) * W.out + c0;
                for (int c = 0; c < nc; ++c) panel[static_cast<size_t>(r) * nc + c] = f16_to_f32(s[c]);
            }
            MapC P(panel.data(), nr, nc);
            if (r0 == 0) Y.noalias() = X.middleCols(r0, nr) * P;
            else Y.noalias() += X.middleCols(r0, nr) * P;
        }
    }
    if (bias) Y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias + c0, nc);
}

}  // namespace

PackedMatrix make_packed(int in, int out, bool transposed, bool f16) {
    PackedMatrix W;
    W.in = in;
    W.out = out;
    W.f16 = f16;
    W.transposed = transposed;
    const size_t n = static_cast<size_t>(in) * out;
    if (f16) W.w16.assign(n, 0);
    else W.w32.assign(n, 0.0f);
    return W;
}

uint64_t packed_bytes(int in, int out, bool f16) { return static_cast<uint64_t>(in) * out * (f16 ? 2 : 4); }

void pack_rows(PackedMatrix& W, const float* src, int row0, int nrows) {
    // The stored matrix keeps the source orientation: rows are contiguous.
    const size_t cols = W.transposed ? W.in : W.out;
    const size_t off = static_cast<size_t>(row0) * cols, n = static_cast<size_t>(nrows) * cols;
    if (W.f16) for (size_t i = 0; i < n; ++i) W.w16[off + i] = f32_to_f16(src[i]);
    else std::memcpy(W.w32.data() + off, src, n * sizeof(float));
}

PackedMatrix pack_matrix(const float* src, int in, int out, bool transposed, bool f16) {
    PackedMatrix W = make_packed(in, out, transposed, f16);
    pack_rows(W, src, 0, transposed ? out : in);
    return W;
}

void gemm(const float* x, int T, const PackedMatrix& W, const float* bias, float* y) {
    // Always in blocks of kCols output columns, one Eigen product each, whatever the
    // number of threads: Eigen's blocking (hence the order of each sum) depends on the
    // product's shape, so splitting only when threaded would change the last bits.
    const int blocks = (W.out + kCols - 1) / kCols;
    auto run = [&](int b0, int b1) {
        for (int b = b0; b < b1; ++b) gemm_block(x, T, W, bias, y, b * kCols, std::min(kCols, W.out - b * kCols));
    };
    if (static_cast<double>(T) * W.in * W.out < kParallelMin) run(0, blocks);
    else parallel_for(blocks, 1, run);
}

std::vector<int> gemm_exact_rows(const PackedMatrix& W, int T, const std::vector<int>& rows) {
    // few_rows sums every row in the same order for any count up to kFewRows; Eigen's
    // kernels and blocking depend on the product's shape, so beyond that only all rows
    // give all rows their bits.
    if (!W.f16 && T <= kFewRows) return rows;
    std::vector<int> all(T);
    for (int r = 0; r < T; ++r) all[r] = r;
    return all;
}

void tied_embedding_row(const PackedMatrix& W, int token, float* dst) {
    // Packed from wte [V, C] with transposed == true: row `token` is contiguous.
    const size_t off = static_cast<size_t>(token) * W.in;
    if (W.f16) for (int i = 0; i < W.in; ++i) dst[i] = f16_to_f32(W.w16[off + i]);
    else std::memcpy(dst, W.w32.data() + off, sizeof(float) * W.in);
}

std::vector<float> unpack_matrix(const PackedMatrix& W) {
    // Stored in the source orientation: [in, out], or [out, in] when transposed.
    std::vector<float> out(static_cast<size_t>(W.in) * W.out);
    auto at = [&](size_t i) { return W.f16 ? f16_to_f32(W.w16[i]) : W.w32[i]; };
    for (size_t k = 0; k < static_cast<size_t>(W.in); ++k)
        for (size_t n = 0; n < static_cast<size_t>(W.out); ++n)
            out[k * W.out + n] = at(W.transposed ? n * W.in + k : k * W.out + n);
    return out;
}

void gemm_transposed(const float* dy, int T, const PackedMatrix& W, float* dx) {
    // dx[T, in] = dy[T, out] W^T in blocks of kTCols columns of dx (rows of W), one Eigen
    // product each whatever the number of threads (Eigen's blocking, hence each sum's order,
    // depends on the product's shape), on the stored floats mapped in place: W [in, out]'s
    // rows c0.. transposed, or the columns c0.. of a transposed store, which is W^T itself.
    // F16: the block's weights widened into a per-thread buffer (nc x out floats), then the
    // same product.
    constexpr int kTCols = 64;
    const int in = W.in, out = W.out;
    const int blocks = (in + kTCols - 1) / kTCols;
    using MapCS = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
    MapC DY(dy, T, out);
    auto run = [&](int b0, int b1) {
        for (int b = b0; b < b1; ++b) {
            const int c0 = b * kTCols, nc = std::min(kTCols, in - c0);
            Eigen::Map<RowMat, 0, Eigen::OuterStride<>> DX(dx + c0, T, nc, Eigen::OuterStride<>(in));
            if (!W.f16) {
                if (W.transposed) DX.noalias() = DY * MapCS(W.w32.data() + c0, out, nc, Eigen::OuterStride<>(in));
                else DX.noalias() = DY * MapC(W.w32.data() + static_cast<size_t>(c0) * out, nc, out).transpose();
                continue;
            }
            static thread_local std::vector<float> panel;
            panel.resize(static_cast<size_t>(nc) * out);
            if (W.transposed) {  // stored [out, in]: W^T's columns c0 .. c0+nc-1, as [out, nc]
                for (int n = 0; n < out; ++n) {
                    const uint16_t* s = W.w16.data() + static_cast<size_t>(n) * in + c0;
                    for (int c = 0; c < nc; ++c) panel[static_cast<size_t>(n) * nc + c] = f16_to_f32(s[c]);
                }
                DX.noalias() = DY * MapC(panel.data(), out, nc);
            } else {  // stored [in, out]: rows c0 .. c0+nc-1, contiguous
                const uint16_t* s = W.w16.data() + static_cast<size_t>(c0) * out;
                for (size_t i = 0, n = panel.size(); i < n; ++i) panel[i] = f16_to_f32(s[i]);
                DX.noalias() = DY * MapC(panel.data(), nc, out).transpose();
            }
        }
    };
    if (static_cast<double>(T) * in * out < kParallelMin) run(0, blocks);
    else parallel_for(blocks, 1, run);
}

const char* kernel_name() { return "eigen"; }

}  // namespace hooklab

#endif  // !__wasm_simd128__
