#pragma once
#include <cmath>
#include <cstdint>

namespace hooklab {

// Counter-based Gaussian noise: the k-th draw depends only on (seed, k), so the same
// seed gives the same numbers natively and in wasm, whatever order work is done in.
// splitmix64's finaliser on seed + (i+1)*golden; Box-Muller in double.
inline uint64_t splitmix64(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

inline double gaussian(uint64_t seed, uint64_t k) {
    const double u1 = (static_cast<double>(splitmix64(seed, 2 * k) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(splitmix64(seed, 2 * k + 1) >> 11) * 0x1.0p-53;      // [0, 1)
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// The noise of the element at absolute position `pos` and index `feature` within that
// position: its draw does not depend on how many positions a pass computes nor on which
// other elements an intervention touches, so a position computed alone (generation with
// a KV cache, patching from a cache) gets exactly what a full forward gives it.
inline double gaussian_at(uint64_t seed, uint64_t pos, uint64_t feature) {
    return gaussian(seed, (pos << 32) | feature);
}

// A uniform double in [0, 1) for draw `step` of a seeded stream (sampling).
inline double uniform01(uint64_t seed, uint64_t step) {
    return static_cast<double>(splitmix64(seed, step) >> 11) * 0x1.0p-53;
}

}  // namespace hooklab
