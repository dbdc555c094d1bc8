// Native GEMM: Eigen (vectorised for the host with -march=native). The weight keeps
// the orientation it was given in, so the tied lm_head needs no transposed copy.
// F16 weights are widened panel by panel into a scratch buffer.
// Under WebAssembly SIMD the simd128 kernels of kernels_wasm.cpp replace this file.
#include "hooklab/kernels.h"

#ifndef __wasm_simd128__

#include <algorithm>
#include <cstring>

#include <Eigen/Core>

#include "hooklab/safetensors.h"

namespace hooklab {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapC = Eigen::Map<const RowMat>;
using Map = Eigen::Map<RowMat>;

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
    MapC X(x, T, W.in);
    Map Y(y, T, W.out);
    if (!W.f16) {
        if (W.transposed) Y.noalias() = X * MapC(W.w32.data(), W.out, W.in).transpose();
        else Y.noalias() = X * MapC(W.w32.data(), W.in, W.out);
    } else {
        // Widen a block of rows of the stored matrix at a time: bounded scratch, and each
        // block is a full GEMM so Eigen's kernels still do the work.
        constexpr int kBlock = 256;
        const int rows = W.transposed ? W.out : W.in, cols = W.transposed ? W.in : W.out;
        std::vector<float> panel(static_cast<size_t>(kBlock) * cols);
        for (int r0 = 0; r0 < rows; r0 += kBlock) {
            const int nr = std::min(kBlock, rows - r0);
            const uint16_t* s = W.w16.data() + static_cast<size_t>(r0) * cols;
            for (size_t i = 0, n = static_cast<size_t>(nr) * cols; i < n; ++i) panel[i] = f16_to_f32(s[i]);
            MapC P(panel.data(), nr, cols);
            if (W.transposed) Y.middleCols(r0, nr).noalias() = X * P.transpose();
            else if (r0 == 0) Y.noalias() = X.middleCols(r0, nr) * P;
            else Y.noalias() += X.middleCols(r0, nr) * P;
        }
    }
    if (bias) Y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias, W.out);
}

void tied_embedding_row(const PackedMatrix& W, int token, float* dst) {
    // Packed from wte [V, C] with transposed == true: row `token` is contiguous.
    const size_t off = static_cast<size_t>(token) * W.in;
    if (W.f16) for (int i = 0; i < W.in; ++i) dst[i] = f16_to_f32(W.w16[off + i]);
    else std::memcpy(dst, W.w32.data() + off, sizeof(float) * W.in);
}

const char* kernel_name() { return "eigen"; }

}  // namespace hooklab

#endif  // !__wasm_simd128__
