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

}  // namespace hooklab
