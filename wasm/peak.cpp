// benchPeak(): the GEMM's inner step at full speed on the CPU this runs on, in GFLOP/s,
// for `npm run bench` (a GEMM's share of it means something on any machine: VMs here
// differ 2x in raw speed). The step of the 4x8 tile (kernels_wasm.cpp): two f32x4 weight
// loads, then 8 mul + 8 add into 8 accumulators, with the four x values in registers
// instead of broadcast from memory and the weights from a 1 KB buffer that stays in L1.
#include <emscripten/bind.h>
#include <wasm_simd128.h>

#include <chrono>

namespace {

volatile float sink;

double bench_peak(int millis) {
    constexpr int kK = 32;  // steps per pass over the buffer
    alignas(16) static float w[kK * 8];
    for (int i = 0; i < kK * 8; ++i) w[i] = 1e-6f * static_cast<float>(i % 17) + sink;
    // Small values: the sums stay far from overflow for the whole run.
    const v128_t x0 = wasm_f32x4_splat(sink + 1e-3f), x1 = wasm_f32x4_splat(sink + 2e-3f);
    const v128_t x2 = wasm_f32x4_splat(sink + 3e-3f), x3 = wasm_f32x4_splat(sink + 4e-3f);
    v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const auto t0 = std::chrono::steady_clock::now();
    double seconds = 0, flops = 0;
    do {
        for (int rep = 0; rep < 256; ++rep) {
            for (int k = 0; k < kK; ++k) {
                const v128_t w0 = wasm_v128_load(w + 8 * k), w1 = wasm_v128_load(w + 8 * k + 4);
                c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(x0, w0));
                c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(x0, w1));
                c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(x1, w0));
                c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(x1, w1));
                c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(x2, w0));
                c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(x2, w1));
                c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(x3, w0));
                c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(x3, w1));
            }
        }
        flops += 256.0 * kK * 8 * 8;  // 8 mul+add pairs of 4 lanes per step
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (seconds * 1e3 < millis);
    const v128_t s = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(c00, c01), wasm_f32x4_add(c10, c11)),
                                    wasm_f32x4_add(wasm_f32x4_add(c20, c21), wasm_f32x4_add(c30, c31)));
    sink = wasm_f32x4_extract_lane(s, 0);
    return flops / seconds / 1e9;
}

}  // namespace

EMSCRIPTEN_BINDINGS(hooklab_peak) {
    emscripten::function("benchPeak", &bench_peak);
}
