// A hook's statistics (model/src/stats.cpp) against a plain long-double reference: the
// engine's version sums in four lanes, so lengths that leave a tail of 1-3, NaN and inf
// entries, and the masked attention scores are the cases that can go wrong.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "hooklab/gpt2.h"
#include "hooklab/stats.h"

using namespace hooklab;

namespace {

struct Ref { long double mean = 0, std = 0, norm = 0; double min = INFINITY, max = -INFINITY; bool finite = true; size_t n = 0; };

// counted(i): whether entry i is in the statistic.
template <class F>
Ref reference(const std::vector<float>& x, F counted) {
    Ref r;
    long double sum = 0, sq = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        if (!counted(i)) continue;
        if (!std::isfinite(x[i])) r.finite = false;
        if (!std::isnan(x[i])) r.min = std::min(r.min, double(x[i])), r.max = std::max(r.max, double(x[i]));
        sum += x[i];
        sq += static_cast<long double>(x[i]) * x[i];
        ++r.n;
    }
    r.mean = sum / r.n;
    long double dev = 0;
    for (size_t i = 0; i < x.size(); ++i)
        if (counted(i)) dev += (x[i] - r.mean) * (x[i] - r.mean);
    r.std = r.n > 1 ? std::sqrt(dev / (r.n - 1)) : 0;
    r.norm = std::sqrt(sq);
    return r;
}

void check(const Stat& s, const Ref& r) {
    REQUIRE(s.finite == r.finite);
    REQUIRE(s.min == r.min);
    REQUIRE(s.max == r.max);
    if (!r.finite) return;
    REQUIRE(s.mean == Approx(double(r.mean)).epsilon(1e-12).margin(1e-12));
    REQUIRE(s.std == Approx(double(r.std)).epsilon(1e-12));
    REQUIRE(s.norm == Approx(double(r.norm)).epsilon(1e-12));
}

}  // namespace

TEST_CASE("stats_of equals a long-double reference for every tail length", "[hooks]") {
    std::mt19937 g(7);
    std::normal_distribution<float> d(10.f, 3.f);  // a mean far from 0, as exercise 2's noise
    for (int C : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 768}) {
        for (int T : {1, 3}) {
            std::vector<float> x(static_cast<size_t>(T) * C);
            for (float& v : x) v = d(g);
            HookView v{Hook::ResidPost, 0, x.data(), {1, T, C}};
            INFO("T=" << T << " C=" << C);
            check(stats_of(v), reference(x, [](size_t) { return true; }));
            // The extremes in the last entry (the tail when C*T is not a multiple of 4).
            x.back() = -1e30f;
            check(stats_of(v), reference(x, [](size_t) { return true; }));
            x.back() = 3e38f;
            check(stats_of(v), reference(x, [](size_t) { return true; }));
        }
    }
}

TEST_CASE("stats_of: NaN and inf make a statistic non-finite; NaN is never min or max", "[hooks]") {
    for (size_t at : {0u, 1u, 2u, 3u, 4u, 6u}) {
        for (float bad : {NAN, INFINITY, -INFINITY}) {
            std::vector<float> x = {1, -2, 3, 0.5f, 7, -8, 2};
            x[at] = bad;
            HookView v{Hook::MlpPost, 0, x.data(), {1, 1, 7}};
            INFO("at " << at << " " << bad);
            check(stats_of(v), reference(x, [](size_t) { return true; }));
        }
    }
    std::vector<float> both = {1, INFINITY, 2, -INFINITY, 3};  // inf - inf: NaN, still non-finite
    HookView v{Hook::MlpPost, 0, both.data(), {1, 1, 5}};
    REQUIRE_FALSE(stats_of(v).finite);
}

TEST_CASE("stats_of leaves out the masked attention scores, and only those", "[hooks]") {
    const int H = 3, T = 7;
    std::vector<float> x(static_cast<size_t>(H) * T * T);
    std::mt19937 g(3);
    std::normal_distribution<float> d(0.f, 2.f);
    auto masked = [&](size_t i) { return i % T > (i / T) % T; };
    for (size_t i = 0; i < x.size(); ++i) x[i] = masked(i) ? -INFINITY : d(g);
    HookView v{Hook::AttnScores, 0, x.data(), {H, T, T}};
    const Stat s = stats_of(v);
    check(s, reference(x, [&](size_t i) { return !masked(i); }));
    REQUIRE(s.finite);
    // The same numbers under another hook count every entry, the -inf ones included.
    HookView w{Hook::Pattern, 0, x.data(), {H, T, T}};
    REQUIRE_FALSE(stats_of(w).finite);
}
