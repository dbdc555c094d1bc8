#pragma once
// The tolerance of a comparison with a golden: the golden's own "tolerance" record, derived from
// the arithmetic by tools/golden_compare.py (its docstring has the derivation), read here with
// the same rules per quantity. The engine and PyTorch are two float32 implementations that differ
// in the order of their sums, exactly like PyTorch on two CPUs.
#include <algorithm>
#include <cmath>
#include <string>

#include <catch2/catch.hpp>
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

// The rules tools/golden_compare.py adds for the gradients goldens (its docstring derives them),
// on top of the record's activation_rel and logit_abs (GoldenTolerance).
struct GradientTolerance : GoldenTolerance {
    double gradient_rel = 0, input_x_gradient_abs = -1, estimate_abs = -1;
    explicit GradientTolerance(const nlohmann::json& record) : GoldenTolerance(record) {
        gradient_rel = record.at("gradient_rel").get<double>();
        if (record.contains("input_x_gradient_abs")) input_x_gradient_abs = record["input_x_gradient_abs"].get<double>();
        if (record.contains("estimate_abs")) estimate_abs = record["estimate_abs"].get<double>();
    }
    // A hook's gradient: relative to its largest |value|.
    double gradient(double scale) const { return gradient_rel * scale; }
    // An attribution estimate's normalized value n = (E - LD_corrupted) / D.
    double estimate_normalized(double n, double D) const {
        return (estimate_abs + 2 * logit_abs + 4 * logit_abs * std::abs(n)) / std::abs(D);
    }
};

inline double max_abs(const nlohmann::json& a) {
    double m = 0;
    for (const auto& x : a) m = std::max(m, x.is_array() ? max_abs(x) : std::abs(x.get<double>()));
    return m;
}

// |a - b| <= tol(b) element-wise over nested arrays.
template <class Tol>
void check_abs(const nlohmann::json& got, const nlohmann::json& want, const Tol& tol, const std::string& what) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        if (want[i].is_array()) {
            check_abs(got[i], want[i], tol, what + "[" + std::to_string(i) + "]");
            continue;
        }
        REQUIRE(got[i].is_number());
        const double a = got[i].get<double>(), b = want[i].get<double>();
        if (std::abs(a - b) <= tol(b)) continue;  // one CHECK per failure, not per value
        INFO(what << "[" << i << "]: engine " << a << " vs " << b << ", tolerance " << tol(b));
        CHECK(std::abs(a - b) <= tol(b));
    }
}

}  // namespace testing
