#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hooklab/run.h"

namespace hooklab {

// Per-head attention scores of one pattern A[i][j] (query i, key j) on tokens t.
// A score is empty where no position qualifies (previous-token on one token; induction
// where no token repeats).
struct HeadScore {
    std::optional<double> previous_token;  // mean over i >= 1 of A[i][i-1]
    double first_token = 0;                 // mean over i of A[i][0]
    std::optional<double> induction;        // mean of A[i][j+1], j the latest j < i with t[j] = t[i]
};

// Scores one head's [T, T] row-major pattern (sums in double).
HeadScore score_head(const float* pattern, int T, const std::vector<int>& tokens);

// TransformerLens's induction test input: <|endoftext|> then R random tokens, twice.
// Token k (k = 0..R-1) is splitmix64(seed, k) mod (V - 1), shifted up by one when it is
// >= eos: uniform over the vocabulary's V ids without eos (modulo bias below V / 2^64).
std::vector<int> repeat_tokens(int R, uint64_t seed, int vocab_size, int eos_id);

// The id of <|endoftext|> in the model's vocab.json; throws Error naming the problem
// when the vocabulary has none.
int eos_token_id(const Tokenizer& tok);

// A seed as decimal text, 0..2^64-1 (text, so 64-bit seeds survive JavaScript numbers).
uint64_t parse_seed(const std::string& text);

struct HeadsOptions {
    std::optional<std::string> prompt;  // exactly one of prompt and repeat
    std::optional<long long> repeat;    // R: 2R+1 tokens must fit the context
    std::optional<uint64_t> seed;       // required with repeat, refused with prompt
    std::vector<Intervention> interventions;
    std::optional<int> pattern_layer;   // also return this block's hook_pattern (the page's grid)
};

struct HeadsResult {
    std::vector<int> tokens;
    // [T - 1]: the loss of predicting token t + 1 at position t, nats (NaN where not finite).
    std::vector<double> token_loss;
    std::vector<std::vector<HeadScore>> scores;  // [n_layer][n_head]
    std::vector<Intervention> interventions;     // as applied
    // With pattern_layer: that block's hook_pattern as scored, [H, T, T] (so a page can draw
    // them for either input).
    std::optional<int> pattern_layer;
    std::vector<int> pattern_shape;
    std::vector<float> pattern;
};

// One forward with the interventions; every head's scores from blocks.L.attn.hook_pattern
// as the interventions left it. Throws Error before any work for any bad input.
// heads_json (json_io.h) writes it out.
HeadsResult heads(const Model& m, const HeadsOptions& opt);

}  // namespace hooklab
