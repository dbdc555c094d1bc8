#pragma once
#include <cmath>
#include <vector>

#include "hooklab/gpt2.h"

namespace hooklab {

// Summary statistics of one hook's tensor, in double.
struct Stat { double mean = 0, std = 0, min = 0, max = 0, norm = 0; bool finite = true; };

// Two passes: mean, then squared deviations (sample std, N-1, as torch.std). Masked
// attention scores (-inf by construction) are left out.
Stat stats_of(const HookView& v);

// log of the sum of exp over the finite entries of logits[0..n) (in double, max-shifted);
// -inf when none is finite. A token's log-probability is then logit - lse.
double log_sum_exp(const float* logits, int n);

// Softmax over a whole row, in double: e^(l - max) / sum. A NaN or +inf logit makes
// every probability NaN (the run JSON's null): the row is then not a distribution.
struct Softmax {
    double mx, z;
    Softmax(const float* logits, int n);
    double prob(float logit) const { return std::exp(logit - mx) / z; }
};

struct TopToken { int id = 0; float logit = 0; double prob = 0; };
// The k most likely tokens, highest first (ties by id; NaN logits last), with Softmax's
// probabilities (the run JSON's "top").
std::vector<TopToken> top_k(const float* logits, int n, int k);
// The same with probabilities e^(logit - lse) (lse = log_sum_exp of the row: no second pass).
std::vector<TopToken> top_k(const float* logits, int n, int k, double lse);

// e^(logit - lse) for each logit of a row: a distribution's probabilities, in double.
std::vector<double> probabilities(const float* logits, int n, double lse);

// KL(P || Q) in nats between the distributions of two logit rows, in double, clamped at
// 0; NaN when any logit of either row is not finite (the page shows that as "not defined").
double kl_divergence(const float* p_logits, double p_lse, const float* q_logits, double q_lse, int n);
// The same with P's probabilities given (probabilities(p_logits, n, p_lse)), for a P that is
// compared with many Qs.
double kl_divergence(const double* p, const float* p_logits, double p_lse, const float* q_logits, double q_lse, int n);

// [T - 1]: -log p(tokens[t + 1] | tokens[..t]) at each position t from every position's
// logits [T, V], in double (not finite where the logits are not). The per-token loss of
// heads() and of a run with every position's logits.
std::vector<double> next_token_loss(const std::vector<float>& logits, const std::vector<int>& tokens, int V);

}  // namespace hooklab
