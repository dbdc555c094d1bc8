#pragma once
// Text generation with the interventions active, decoding with a KV cache: each new
// token computes only its own position, attending to the saved keys and values.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hooklab/run.h"

namespace hooklab {

struct SamplerOptions {
    double temperature = 0;  // 0: greedy (the most likely token, the lowest id on a tie)
    int top_k = 0;           // 0: no limit
    double top_p = 1;        // nucleus: the smallest most-likely set with this much mass
    uint64_t seed = 0;
};

// Throws Error for a temperature < 0 or NaN, top_k < 0, top_p outside (0, 1].
void validate_sampler(const SamplerOptions& s);

// Picks the next token from one row of logits. The random number of draw `step` is
// uniform01(seed, step): the same natively and in wasm. Throws Error if a logit is not
// finite. `prob` receives the model's own probability of the token (softmax at
// temperature 1 over the whole vocabulary), whatever the sampling settings.
int sample_token(const float* logits, int vocab, const SamplerOptions& s, uint64_t step, double* prob);

struct GenerateOptions {
    std::string prompt;
    int max_new_tokens = 0;
    SamplerOptions sampler;
    std::vector<Intervention> interventions;
};

// One generated token: its id and the model's probability of it.
struct GenerateStep {
    int id = 0;
    double prob = 0;
};

// One generation (generate_json, json_io.h, writes it out).
struct GenerateResult {
    std::vector<int> prompt_tokens, new_tokens;
    std::string text;                 // the new tokens' text, without a final <|endoftext|>
    std::vector<GenerateStep> steps;
    std::string stopped;              // endoftext | length | context; "" while running
    double ms = 0;                    // the time of the steps it took part in
    double tokens_per_s = 0;
    bool kv_cache = true;
    std::vector<Intervention> interventions;  // as applied
};

// The baseline (no interventions) and the intervened generation, run together.
struct GenerateComparison {
    GenerateResult baseline, intervened;
};

// Several generations run together: each step() is ONE forward with a segment per
// variant still running, so the variants share every weight read (decoding is bound by
// memory bandwidth: a step costs little more for two variants than for one). Each variant
// has its own options (prompt, sampler, interventions), applied only to its own segment,
// and stops on its own; its tokens are those of a Generator with the same options.
// The constructor checks everything and runs nothing.
class GeneratorGroup {
public:
    GeneratorGroup(const Model& m, const std::vector<GenerateOptions>& variants);
    ~GeneratorGroup();
    GeneratorGroup(const GeneratorGroup&) = delete;
    GeneratorGroup& operator=(const GeneratorGroup&) = delete;

    int size() const;
    bool done() const;  // every variant
    bool done(int variant) const;
    // Computes the next token of every variant still running: per variant, its step, or
    // nothing when it had stopped before this step.
    std::vector<std::optional<GenerateStep>> step();
    // One variant's generation so far. Its ms is the time of the steps it took part in,
    // each shared with the other variants running then.
    GenerateResult result(int variant) const;
    // False when an intervention can change a position after it was computed (one that
    // writes past the causal mask of the pattern, or counts positions from the end):
    // then every step recomputes that variant's whole sequence.
    bool uses_cache(int variant) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// One generation, a token per step() (so that a caller can stream tokens and stop): a
// group of one.
class Generator {
public:
    Generator(const Model& m, const GenerateOptions& opt) : group_(m, {opt}) {}

    bool done() const { return group_.done(); }
    // Computes the next token (the first call runs the prompt).
    GenerateStep step() { return *group_.step()[0]; }
    // The generation, for the steps run so far (when not done, stopped is "").
    GenerateResult result() const { return group_.result(0); }
    bool uses_cache() const { return group_.uses_cache(0); }

private:
    GeneratorGroup group_;
};

// The whole generation.
GenerateResult generate(const Model& m, const GenerateOptions& opt);

// The baseline (opt without its interventions) and the intervened generation (opt), run
// together.
GenerateComparison generate_compare(const Model& m, const GenerateOptions& opt);

}  // namespace hooklab
