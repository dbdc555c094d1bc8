#pragma once
// A hook's statistics (model/src/stats.cpp) against a plain long-double reference: the
// engine's version sums in four lanes (in wasm, two doubles to a simd128 vector), so
// lengths that leave a tail of 1-3, NaN and inf entries, and the masked attention scores
// are the cases that can go wrong. Shared by the native tests (test_stats.cpp) and the
// wasm kernel-test binding (wasm/bench_binding.cpp), so both builds check the same cases.
#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hooklab/gpt2.h"
#include "hooklab/stats.h"

namespace stats_check {

struct Result {
    int cases = 0;
    std::string first_mismatch;  // "" when every case agreed
};

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

// "" when s agrees with r: the same finiteness, min and max exactly (exact operations),
// the sums within 1e-12 relative (the mean also within 1e-12 absolute, near 0).
inline std::string differs(const hooklab::Stat& s, const Ref& r) {
    std::ostringstream o;
    o.precision(17);
    auto close = [](double a, long double b, double margin) {
        const double d = std::fabs(a - static_cast<double>(b));
        return d <= margin || d <= 1e-12 * std::fabs(static_cast<double>(b));
    };
    if (s.finite != r.finite) o << "finite " << s.finite << " vs " << r.finite;
    else if (s.min != r.min) o << "min " << s.min << " vs " << r.min;
    else if (s.max != r.max) o << "max " << s.max << " vs " << r.max;
    else if (r.finite && !close(s.mean, r.mean, 1e-12)) o << "mean " << s.mean << " vs " << double(r.mean);
    else if (r.finite && !close(s.std, r.std, 0)) o << "std " << s.std << " vs " << double(r.std);
    else if (r.finite && !close(s.norm, r.norm, 0)) o << "norm " << s.norm << " vs " << double(r.norm);
    return o.str();
}

inline Result check() {
    using namespace hooklab;
    Result res;
    auto all = [](size_t) { return true; };
    auto expect = [&](const std::string& what, const Stat& s, const Ref& r) {
        ++res.cases;
        const std::string d = differs(s, r);
        if (!d.empty() && res.first_mismatch.empty()) res.first_mismatch = what + ": " + d;
    };
    auto expect_nonfinite = [&](const std::string& what, const Stat& s) {
        ++res.cases;
        if (s.finite && res.first_mismatch.empty()) res.first_mismatch = what + ": finite";
    };

    // Every tail length, a mean far from 0 (as exercise 2's noise), and the extremes in the
    // last entry (the tail when C*T is not a multiple of 4).
    std::mt19937 g(7);
    std::normal_distribution<float> d(10.f, 3.f);
    for (int C : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 768}) {
        for (int T : {1, 3}) {
            std::vector<float> x(static_cast<size_t>(T) * C);
            for (float& v : x) v = d(g);
            HookView v{Hook::ResidPost, 0, x.data(), {1, T, C}};
            const std::string at = "T=" + std::to_string(T) + " C=" + std::to_string(C);
            expect(at, stats_of(v), reference(x, all));
            x.back() = -1e30f;
            expect(at + " last -1e30", stats_of(v), reference(x, all));
            x.back() = 3e38f;
            expect(at + " last 3e38", stats_of(v), reference(x, all));
        }
    }

    // NaN and inf make a statistic non-finite at every lane position; NaN is never min or max.
    for (size_t at : {0u, 1u, 2u, 3u, 4u, 6u}) {
        for (float bad : {NAN, INFINITY, -INFINITY}) {
            std::vector<float> x = {1, -2, 3, 0.5f, 7, -8, 2};
            x[at] = bad;
            HookView v{Hook::MlpPost, 0, x.data(), {1, 1, 7}};
            std::ostringstream what;
            what << bad << " at " << at;
            expect(what.str(), stats_of(v), reference(x, all));
        }
    }
    std::vector<float> both = {1, INFINITY, 2, -INFINITY, 3};  // inf - inf: NaN, still non-finite
    expect_nonfinite("inf and -inf", stats_of(HookView{Hook::MlpPost, 0, both.data(), {1, 1, 5}}));

    // The masked attention scores are left out, and only those.
    const int H = 3, T = 7;
    std::vector<float> x(static_cast<size_t>(H) * T * T);
    std::mt19937 g2(3);
    std::normal_distribution<float> d2(0.f, 2.f);
    auto masked = [&](size_t i) { return i % T > (i / T) % T; };
    for (size_t i = 0; i < x.size(); ++i) x[i] = masked(i) ? -INFINITY : d2(g2);
    expect("attention scores", stats_of(HookView{Hook::AttnScores, 0, x.data(), {H, T, T}}),
           reference(x, [&](size_t i) { return !masked(i); }));
    // The same numbers under another hook count every entry, the -inf ones included.
    expect_nonfinite("pattern with -inf", stats_of(HookView{Hook::Pattern, 0, x.data(), {H, T, T}}));
    return res;
}

}  // namespace stats_check
