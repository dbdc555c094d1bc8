#pragma once
// The tolerance of a comparison with a golden: the golden's own "tolerance" record, derived from
// the arithmetic by tools/golden_compare.py (its docstring has the derivation), read here with
// the same rules per quantity. The engine and PyTorch are two float32 implementations that differ
// in the order of their sums, exactly like PyTorch on two CPUs.
#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace testing {

struct GoldenTolerance {
    double activation_rel = 0;  // relative to the scale a value is read against
    double logit_abs = 0;       // absolute, for a logit

    explicit GoldenTolerance(const nlohmann::json& record)
        : activation_rel(record.at("activation_rel").get<double>()), logit_abs(record.at("logit_abs").get<double>()) {}

    // An activation statistic, a curve: relative to its scale (the largest value it is read with).
    double activation(double scale) const { return activation_rel * scale; }
    // A probability p = exp(z - lse): the logit's error twice, relative to p.
    double prob(double p) const { return 2 * logit_abs * std::abs(p); }
    // answer logit - wrong logit; a DLA component (a piece of it).
    double logit_diff() const { return 2 * logit_abs; }
    // (LD_patched - LD_corrupted) / D: numerator and denominator each off by up to 4 logit_abs.
    double normalized(double n, double D) const { return 4 * logit_abs * (1 + std::abs(n)) / std::abs(D); }
    // A head score: an average of attention probabilities (scale 1).
    double head_score() const { return activation_rel; }
};

}  // namespace testing
