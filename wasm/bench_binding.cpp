// Embind functions for benchmarks and kernel tests only, linked into the same module but
// kept out of the engine's binding (binding.cpp): the GEMM kernels timed alone and checked
// exhaustively, and the checks the native tests share (tests/native/*_check.h).
#include <emscripten/bind.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "../tests/native/last_rows_check.h"
#include "../tests/native/stats_check.h"
#include "hooklab/config.h"
#include "hooklab/error.h"
#include "hooklab/gpt2.h"
#include "hooklab/kernels.h"
#include "hooklab/safetensors.h"

namespace {

// GFLOP/s of one GEMM shape on random weights.
double bench_gemm(int T, int in, int out, bool f16, int iters) {
    std::vector<float> w(static_cast<size_t>(in) * out), x(static_cast<size_t>(T) * in), b(out), y(static_cast<size_t>(T) * out);
    uint32_t s = 12345;
    auto rnd = [&] { s = s * 1664525u + 1013904223u; return static_cast<float>(s >> 8) / 16777216.0f - 0.5f; };
    for (float& v : w) v = rnd();
    for (float& v : x) v = rnd();
    for (float& v : b) v = rnd();
    const hooklab::PackedMatrix W = hooklab::pack_matrix(w.data(), in, out, false, f16);
    hooklab::gemm(x.data(), T, W, b.data(), y.data());
    double best = 1e30;
    for (int i = 0; i < iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        hooklab::gemm(x.data(), T, W, b.data(), y.data());
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return 2.0 * T * in * out / best / 1e9;
}

// Every half through the F16 kernels with x = 1 (y must be the half's value exactly):
// the finite ones through the fast paths (the widening pass for T >= 4, the fused one
// for T = 1), then all 65536, inf and NaN included, through the exact path. Returns
// the number of mismatches.
int kernel_selftest() {
    int bad = 0;
    for (bool with_special : {false, true}) {
        std::vector<float> w;
        for (uint32_t h = 0; h < 65536; ++h)
            if (with_special || (h & 0x7c00) != 0x7c00) w.push_back(hooklab::f16_to_f32(static_cast<uint16_t>(h)));
        const int n = static_cast<int>(w.size());
        const hooklab::PackedMatrix W = hooklab::pack_matrix(w.data(), 1, n, false, true);
        if (W.f16_special != with_special) ++bad;
        for (int T : {1, 4}) {
            std::vector<float> x(T, 1.0f), y(static_cast<size_t>(T) * n);
            hooklab::gemm(x.data(), T, W, nullptr, y.data());
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < n; ++i) {
                    const float got = y[static_cast<size_t>(t) * n + i];
                    bad += !(got == w[i] || (got != got && w[i] != w[i]));
                }
        }
    }
    return bad;
}

std::string kernel() { return hooklab::kernel_name(); }

// The last-row passes of tests/native/last_rows_check.h on a checkpoint's config.json text
// and safetensors bytes: JSON {passes, fewer, mismatch} ("" when none), or {error}.
std::string last_rows_check(const std::string& config_json, const emscripten::val& bytes, bool f16) {
    try {
        const std::vector<uint8_t> data = emscripten::convertJSArrayToNumberVector<uint8_t>(bytes);
        const hooklab::GPT2 g = hooklab::GPT2::from_safetensors(hooklab::parse_config(config_json), data.data(), data.size(), f16);
        const last_rows::Result r = last_rows::check(g);
        return nlohmann::json{{"passes", r.passes}, {"fewer", r.fewer}, {"mismatch", r.first_mismatch}}.dump();
    } catch (const std::exception& e) {
        return nlohmann::json{{"error", e.what()}}.dump();
    }
}

// The statistics cases of tests/native/stats_check.h: JSON {cases, mismatch} ("" when none).
std::string stats_check_json() {
    const stats_check::Result r = stats_check::check();
    return nlohmann::json{{"cases", r.cases}, {"mismatch", r.first_mismatch}}.dump();
}

}  // namespace

EMSCRIPTEN_BINDINGS(hooklab_bench) {
    emscripten::function("benchGemm", &bench_gemm);
    emscripten::function("kernelSelfTest", &kernel_selftest);
    emscripten::function("kernel", &kernel);
    emscripten::function("lastRowsCheck", &last_rows_check);
    emscripten::function("statsCheck", &stats_check_json);
}
