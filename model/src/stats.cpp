#include "hooklab/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace hooklab {

Stat stats_of(const HookView& v) {
    const bool causal = v.hook == Hook::AttnScores;
    const int T = causal ? v.shape[1] : 0;
    auto visible = [&](size_t idx) { return !causal || static_cast<int>(idx % T) <= static_cast<int>((idx / T) % T); };
    Stat s;
    double sum = 0, sq = 0;
    size_t n = 0;
    s.min = std::numeric_limits<double>::infinity();
    s.max = -s.min;
    const size_t N = v.numel();
    for (size_t i = 0; i < N; ++i) {
        if (!visible(i)) continue;
        const double x = v.data[i];
        if (!std::isfinite(x)) s.finite = false;
        sum += x;
        sq += x * x;
        s.min = std::min(s.min, x);
        s.max = std::max(s.max, x);
        ++n;
    }
    s.mean = sum / n;
    double dev = 0;
    for (size_t i = 0; i < N; ++i)
        if (visible(i)) dev += (v.data[i] - s.mean) * (v.data[i] - s.mean);
    s.std = n > 1 ? std::sqrt(dev / (n - 1)) : 0.0;
    s.norm = std::sqrt(sq);
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

std::vector<TopToken> top_k(const float* logits, int n, int k) {
    const Softmax sm(logits, n);
    k = std::max(0, std::min(k, n));
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        // NaN logits sort last rather than breaking the ordering.
        const float la = std::isnan(logits[a]) ? -INFINITY : logits[a], lb = std::isnan(logits[b]) ? -INFINITY : logits[b];
        return la > lb || (la == lb && a < b);
    });
    std::vector<TopToken> top(k);
    for (int i = 0; i < k; ++i) top[i] = {order[i], logits[order[i]], sm.prob(logits[order[i]])};
    return top;
}

double kl_divergence(const float* p, double p_lse, const float* q, double q_lse, int n) {
    for (int i = 0; i < n; ++i)
        if (!std::isfinite(p[i]) || !std::isfinite(q[i])) return std::numeric_limits<double>::quiet_NaN();
    double kl = 0;
    for (int i = 0; i < n; ++i) {
        const double lp = p[i] - p_lse, lq = q[i] - q_lse, pi = std::exp(lp);
        if (pi > 0) kl += pi * (lp - lq);
    }
    return std::max(0.0, kl);
}

}  // namespace hooklab
