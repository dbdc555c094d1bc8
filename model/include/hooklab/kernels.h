#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hooklab {

// A weight matrix used as y = x W + b, with W [in, out]. Stored in whatever form the
// platform's GEMM wants; built once at load time.
struct PackedMatrix {
    int in = 0, out = 0;
    bool transposed = false;       // stored [out, in] (tied wte) rather than [in, out]
    bool f16 = false;              // weights kept as IEEE half, widened inside the kernel
    bool f16_special = false;      // some half is inf/NaN (the wasm kernel then widens the slow, exact way)
    std::vector<float> w32;        // layout depends on the kernel (see kernels.cpp)
    std::vector<uint16_t> w16;
    size_t bytes() const { return w32.size() * 4 + w16.size() * 2; }
};

// src is [in, out] row-major (HF Conv1D) when transposed == false,
// [out, in] row-major (nn.Linear / tied wte) when transposed == true.
PackedMatrix pack_matrix(const float* src, int in, int out, bool transposed, bool f16);

// Incremental packing, for loaders that see a tensor a few rows at a time:
// make_packed allocates (zero-filled); pack_rows writes `nrows` rows of the source
// orientation (rows of [in, out], or of [out, in] when transposed) starting at row0.
PackedMatrix make_packed(int in, int out, bool transposed, bool f16);
void pack_rows(PackedMatrix& W, const float* src, int row0, int nrows);
// Bytes make_packed(in, out, ., f16) will allocate (64-bit so callers can refuse a
// model before trying).
uint64_t packed_bytes(int in, int out, bool f16);

// y[T, out] = x[T, in] W (+ bias if not null). y must not alias x.
void gemm(const float* x, int T, const PackedMatrix& W, const float* bias, float* y);

// The rows to hand a GEMM with W so that each of `rows` (increasing, in [0, T)) gets the
// very bits it gets in the GEMM over all T rows: an increasing superset of `rows`, to be
// gathered in that order. A kernel's order of summation may depend on how many rows a
// call has and where a row sits among them (tiles of rows, a tail of its own, Eigen's
// blocking by shape), and computing fewer rows must not change a bit.
std::vector<int> gemm_exact_rows(const PackedMatrix& W, int T, const std::vector<int>& rows);

// The tied embedding lives only inside lm_head (packed from wte, transposed == true):
// writes wte[token, :] (length W.in) to dst, so the model keeps a single copy of wte.
void tied_embedding_row(const PackedMatrix& W, int token, float* dst);

// The logical matrix back, [in, out] row-major, as floats (F16 widened): for reading the
// weights (GPT2 weight_tensor), not for the forward.
std::vector<float> unpack_matrix(const PackedMatrix& W);

// dx[T, in] = dy[T, out] W^T (the backward of y = x W + b), reading the stored weights in
// place (no dense copy of an F32 weight). dx must not alias dy. Work is split over dx's
// columns, each summed in the same order whatever the number of threads: the same bits.
void gemm_transposed(const float* dy, int T, const PackedMatrix& W, float* dx);

const char* kernel_name();

}  // namespace hooklab
