#include "hooklab/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

namespace hooklab {

namespace {

// The entries a statistic counts, as runs of contiguous floats: the whole tensor, or for
// attention scores each query row up to its own position (the rest is masked, -inf).
template <class F>
void for_counted(const HookView& v, F&& f) {
    const size_t N = v.numel();
    if (v.hook != Hook::AttnScores) { f(v.data, N); return; }
    const size_t T = static_cast<size_t>(v.shape[1]);
    for (size_t r = 0; r * T < N; ++r) f(v.data + r * T, r % T + 1);
}

// Sum, sum of squares, min and max of a run of floats, each in four independent lanes:
// one serial double chain was the largest cost a hooked run added to a bare forward (every
// hook's tensor, twice). The lanes are locals, not the caller's fields, so that the
// compiler can keep them in registers (the input is also float and could alias them).
struct Sums {
    double sum = 0, sq = 0;
    float lo = INFINITY, hi = -INFINITY;
};

// One entry into one lane. Comparisons that are false for NaN: NaN entries never become
// min or max.
inline void lane(float x, double& s, double& q, float& l, float& h) {
    s += x;
    q += static_cast<double>(x) * x;
    l = x < l ? x : l;
    h = h < x ? x : h;
}

Sums sums_of(const float* p, size_t len) {
    double s[4], q[4];
    float l[4], h[4];
    size_t i = 0;
#ifdef __wasm_simd128__
    // The same four lanes, two doubles to a vector: lane k still sums entries k, k + 4, ...
    // in order, so the results are the scalar loop's to the bit. pmin/pmax are the scalar
    // comparisons below (false for NaN).
    v128_t s01 = wasm_f64x2_splat(0), s23 = s01, q01 = s01, q23 = s01;
    v128_t lo = wasm_f32x4_splat(INFINITY), hi = wasm_f32x4_splat(-INFINITY);
    for (; i + 4 <= len; i += 4) {
        const v128_t x = wasm_v128_load(p + i);
        const v128_t x01 = wasm_f64x2_promote_low_f32x4(x), x23 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x, x, 2, 3, 2, 3));
        s01 = wasm_f64x2_add(s01, x01);
        s23 = wasm_f64x2_add(s23, x23);
        q01 = wasm_f64x2_add(q01, wasm_f64x2_mul(x01, x01));
        q23 = wasm_f64x2_add(q23, wasm_f64x2_mul(x23, x23));
        lo = wasm_f32x4_pmin(lo, x);
        hi = wasm_f32x4_pmax(hi, x);
    }
    wasm_v128_store(s, s01);
    wasm_v128_store(s + 2, s23);
    wasm_v128_store(q, q01);
    wasm_v128_store(q + 2, q23);
    wasm_v128_store(l, lo);
    wasm_v128_store(h, hi);
#else
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    float l0 = INFINITY, l1 = INFINITY, l2 = INFINITY, l3 = INFINITY;
    float h0 = -INFINITY, h1 = -INFINITY, h2 = -INFINITY, h3 = -INFINITY;
    for (; i + 4 <= len; i += 4) {
        lane(p[i], s0, q0, l0, h0);
        lane(p[i + 1], s1, q1, l1, h1);
        lane(p[i + 2], s2, q2, l2, h2);
        lane(p[i + 3], s3, q3, l3, h3);
    }
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3, q[0] = q0, q[1] = q1, q[2] = q2, q[3] = q3;
    l[0] = l0, l[1] = l1, l[2] = l2, l[3] = l3, h[0] = h0, h[1] = h1, h[2] = h2, h[3] = h3;
#endif
    for (; i < len; ++i) lane(p[i], s[0], q[0], l[0], h[0]);
    return {(s[0] + s[1]) + (s[2] + s[3]), (q[0] + q[1]) + (q[2] + q[3]), std::min(std::min(l[0], l[1]), std::min(l[2], l[3])),
            std::max(std::max(h[0], h[1]), std::max(h[2], h[3]))};
}

double squared_deviations(const float* p, size_t len, double mean) {
    double d[4];
    auto sq = [mean](float x) { const double e = x - mean; return e * e; };
    size_t i = 0;
#ifdef __wasm_simd128__
    const v128_t m = wasm_f64x2_splat(mean);
    v128_t d01 = wasm_f64x2_splat(0), d23 = d01;
    for (; i + 4 <= len; i += 4) {
        const v128_t x = wasm_v128_load(p + i);
        const v128_t e01 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(x), m);
        const v128_t e23 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x, x, 2, 3, 2, 3)), m);
        d01 = wasm_f64x2_add(d01, wasm_f64x2_mul(e01, e01));
        d23 = wasm_f64x2_add(d23, wasm_f64x2_mul(e23, e23));
    }
    wasm_v128_store(d, d01);
    wasm_v128_store(d + 2, d23);
#else
    double d0 = 0, d1 = 0, d2 = 0, d3 = 0;
    for (; i + 4 <= len; i += 4) {
        d0 += sq(p[i]);
        d1 += sq(p[i + 1]);
        d2 += sq(p[i + 2]);
        d3 += sq(p[i + 3]);
    }
    d[0] = d0, d[1] = d1, d[2] = d2, d[3] = d3;
#endif
    for (; i < len; ++i) d[0] += sq(p[i]);
    return (d[0] + d[1]) + (d[2] + d[3]);
}

}  // namespace

Stat stats_of(const HookView& v) {
    Sums acc;
    size_t n = 0;
    for_counted(v, [&](const float* p, size_t len) {
        const Sums part = sums_of(p, len);
        acc.sum += part.sum;
        acc.sq += part.sq;
        acc.lo = std::min(acc.lo, part.lo);
        acc.hi = std::max(acc.hi, part.hi);
        n += len;
    });
    Stat s;
    const double total = acc.sum, squares = acc.sq;
    s.min = acc.lo;
    s.max = acc.hi;
    // A sum of floats cannot overflow a double, so it is finite exactly when every entry is
    // (an inf or NaN entry makes it inf or NaN).
    s.finite = std::isfinite(total);
    s.mean = total / n;
    double dev = 0;
    for_counted(v, [&](const float* p, size_t len) { dev += squared_deviations(p, len, s.mean); });
    s.std = n > 1 ? std::sqrt(dev / (n - 1)) : 0.0;
    s.norm = std::sqrt(squares);
    return s;
}

double log_sum_exp(const float* logits, int n) {
    double mx = -std::numeric_limits<double>::infinity();
    for (int i = 0; i < n; ++i)
        if (std::isfinite(logits[i])) mx = std::max(mx, static_cast<double>(logits[i]));
    if (!std::isfinite(mx)) return mx;
    double z = 0;
    for (int i = 0; i < n; ++i)
        if (std::isfinite(logits[i])) z += std::exp(logits[i] - mx);
    return mx + std::log(z);
}

Softmax::Softmax(const float* logits, int n) : mx(-std::numeric_limits<double>::infinity()), z(0) {
    for (int i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
    for (int i = 0; i < n; ++i) z += std::exp(logits[i] - mx);
}

namespace {

std::vector<int> top_ids(const float* logits, int n, int k) {
    k = std::max(0, std::min(k, n));
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        // NaN logits sort last rather than breaking the ordering.
        const float la = std::isnan(logits[a]) ? -INFINITY : logits[a], lb = std::isnan(logits[b]) ? -INFINITY : logits[b];
        return la > lb || (la == lb && a < b);
    });
    order.resize(k);
    return order;
}

}  // namespace

std::vector<TopToken> top_k(const float* logits, int n, int k) {
    const Softmax sm(logits, n);
    std::vector<TopToken> top;
    for (int id : top_ids(logits, n, k)) top.push_back({id, logits[id], sm.prob(logits[id])});
    return top;
}

std::vector<TopToken> top_k(const float* logits, int n, int k, double lse) {
    std::vector<TopToken> top;
    for (int id : top_ids(logits, n, k)) top.push_back({id, logits[id], std::exp(logits[id] - lse)});
    return top;
}

std::vector<double> probabilities(const float* logits, int n, double lse) {
    std::vector<double> p(n);
    for (int i = 0; i < n; ++i) p[i] = std::exp(logits[i] - lse);
    return p;
}

double kl_divergence(const double* p, const float* p_logits, double p_lse, const float* q, double q_lse, int n) {
    for (int i = 0; i < n; ++i)
        if (!std::isfinite(p_logits[i]) || !std::isfinite(q[i])) return std::numeric_limits<double>::quiet_NaN();
    double kl = 0;
    for (int i = 0; i < n; ++i)
        if (p[i] > 0) kl += p[i] * ((p_logits[i] - p_lse) - (q[i] - q_lse));
    return std::max(0.0, kl);
}

double kl_divergence(const float* p, double p_lse, const float* q, double q_lse, int n) {
    return kl_divergence(probabilities(p, n, p_lse).data(), p, p_lse, q, q_lse, n);
}

// [T - 1]: -log p(tokens[t + 1] | tokens[..t]) at each position t, in double (not finite where
// the logits are not, as an intervention of huge values can make them).
std::vector<double> next_token_loss(const std::vector<float>& logits, const std::vector<int>& tokens, int V) {
    std::vector<double> out;
    for (size_t t = 0; t + 1 < tokens.size(); ++t) {
        const float* row = logits.data() + t * static_cast<size_t>(V);
        double mx = -std::numeric_limits<double>::infinity();
        for (int v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(row[v]));
        double z = 0;
        for (int v = 0; v < V; ++v) z += std::exp(static_cast<double>(row[v]) - mx);
        const double loss = mx + std::log(z) - static_cast<double>(row[tokens[t + 1]]);
        out.push_back(loss);
    }
    return out;
}

}  // namespace hooklab
