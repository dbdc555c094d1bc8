#pragma once
#include <string>
#include <vector>

#include "hooklab/intervention.h"
#include "hooklab/loader.h"
#include "hooklab/model.h"
#include "hooklab/stats.h"

namespace hooklab {

struct RunOptions {
    std::string prompt;
    std::vector<Intervention> interventions;  // parsed at the edge (json_io.h)
    int topk = 10;
    bool logits = false;               // include logits_last in the report
    std::vector<std::string> capture;  // full hook names whose tensors to return
    bool logit_lens = false;           // read the residual after every block through ln_f and the unembedding
    // Every position's logits (RunResult::all_logits) and the per-token loss: one forward with
    // the whole unembedding, never resumed from or kept for another run.
    bool all_logits = false;
};

struct Capture {
    std::string name;  // full hook name
    std::vector<int> shape;
    std::vector<float> data;
};

// The logit lens at one block: the residual stream after block `layer` (as the run left
// it, interventions up to there applied) through ln_f and the unembedding, at the last
// position. The last block's reading is the model's own output.
struct LensLayer {
    int layer = 0;
    std::vector<TopToken> top;
    double kl = 0;  // KL(final output || this reading), nats; NaN when not finite
};

// One run, typed: what the run JSON (json_io.h) reports, with the numbers kept as floats.
struct RunResult {
    std::string prompt;
    std::vector<int> tokens;
    std::vector<double> hidden_std;          // [n_layer + 1], HF hidden_states (the last after ln_f)
    std::vector<double> resid_std;           // [n_layer], before ln_f
    std::vector<std::vector<Stat>> stats;    // [hook][layer, or 0 for non-block hooks]
    std::vector<float> logits;               // [vocab] at the last position
    std::vector<float> all_logits;           // [T][vocab] with all_logits (its last row is `logits`)
    std::vector<double> token_loss;          // [T - 1] with all_logits: next_token_loss (stats.h)
    double lse = 0;                          // log_sum_exp(logits)
    std::vector<TopToken> top;
    std::vector<Capture> captures;
    std::vector<float> lens_logits;          // [n_layer][vocab] with logit_lens
    std::vector<double> lens_lse;            // [n_layer]
    std::vector<double> lens_probs;          // [n_layer][vocab], filled by compare_runs for a baseline
    std::vector<LensLayer> lens;
    std::vector<Intervention> interventions;  // as applied
    std::string nonfinite;                   // the first hook that went non-finite, or ""
    int first_block = 0;                     // the first block computed: a resumed run starts later
                                             // (n_layer: none, all taken from a kept run)
    int end_block = 0;                       // one past the last block computed: before n_layer
                                             // when the rest was a kept run's (only captures differ)
};

// A run kept with what its forward left behind (the residual stream entering every
// block), so that later runs on the same prompt can resume from it.
struct KeptRun {
    RunResult result;
    RunState state;                    // holds no positions when not kept (too long a prompt)
    std::vector<std::string> capture;  // the captures it was asked for (result.captures)
};

// Tokenizes, validates everything, runs one forward. Throws Error before any work for
// any bad input.
// With `from` (kept runs): the run resumes from the one of its prompt that it agrees with
// longest. Blocks before the first one where the two differ (in an intervention, or in a
// capture the kept run did not make) are not recomputed: the forward is deterministic, so
// the run starts at that block from the kept residual stream and takes the earlier hooks'
// statistics, captures and logit-lens rows from the kept run, bit for bit what a whole
// forward gives (tested). A block's output (hook_resid_post) is the residual the next
// block reads: a run that differs first there starts at the next block and fires that hook
// first, on the kept residual, with only those of its interventions there that the kept run
// did not apply (the kept run's must be the first of them; else it starts a block earlier).
RunResult run_model(const Model& m, const RunOptions& opt, const std::vector<const KeptRun*>& from = {});
// run_model, keeping its state for later runs to resume from when it takes at most
// max_state_bytes (kept_state_bytes) and an intervention acts at or before the middle block
// (n_layer / 2), or there is none.
KeptRun run_kept(const Model& m, const RunOptions& opt, const std::vector<const KeptRun*>& from = {},
                 uint64_t max_state_bytes = kKeepLimitBytes);

// Baseline against intervened, at the last position.
struct TopCompare { int id = 0; double p_base = 0, p_int = 0; };  // NaN: not a number there
struct LensCompare { int layer = 0; double kl = 0; TopToken top_base, top_int; };
struct Comparison {
    double kl = 0;                  // KL(baseline || intervened), nats; NaN when not defined
    std::vector<TopCompare> top;    // the baseline's top k, then what entered the intervened top k
    std::vector<LensCompare> lens;  // per block, when both runs have the lens
};
// The baseline's lens probabilities are computed on its first comparison and kept in it.
Comparison compare_runs(RunResult& base, const RunResult& intervened, int k);

// The run JSON (run_json), run_model then run_json (run), and the "model" block: json_io.h.

}  // namespace hooklab
