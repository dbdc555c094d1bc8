#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "hooklab/loader.h"
#include "hooklab/run.h"

namespace hooklab {

// Comparisons of one prompt, a baseline (no interventions) against an intervened run,
// for a caller that changes the interventions and options one at a time and asks again:
//  - the baseline's forward is kept for the next calls on the same prompt, with the
//    residual stream entering each of its blocks, and so are the forwards of the latest
//    intervened runs with an intervention at or before the middle block, while their
//    states fit (half of max_bytes at most each);
//  - every other run on that prompt resumes from the kept forward it agrees with longest
//    (run_model's `from`): an intervened run, or the baseline with other options
//    (captures, the logit lens, topk). So while one intervention stays on, which makes
//    every run start at its block, a change to another intervention further on resumes
//    from the first one's own run at the later one's block;
//  - the latest runs, baselines and intervened ones, are kept by their options and
//    interventions, so that an intervention switched off and on again is answered without
//    a forward. A run is a function of the model, the prompt, the options and the
//    interventions alone (noise too: its seed is one of them, 0 when not given), so a kept
//    run is exactly what a new forward would give.
class Comparer {
public:
    struct Step {
        const RunResult* baseline = nullptr;    // the baseline with these options
        uint64_t baseline_id = 0;               // changes whenever that baseline does
        bool baseline_reused = false;           // the baseline was a kept run, not computed
        const RunResult* intervened = nullptr;  // == baseline when there are no interventions
        bool reused = false;                    // the intervened run was a kept one
        int first_block = 0;                    // the first block it computed (n_layer when reused)
        Comparison comparison;
    };
    // At most max_runs runs, max_bytes of their numbers (result_bytes) and intervened
    // runs' states in all, are kept; the states go first, and this call's two runs always
    // stay.
    explicit Comparer(size_t max_runs = 16, size_t max_bytes = kKeptRunsBytes) : max_runs_(max_runs), max_bytes_(max_bytes) {}
    // The pointers stay valid until the next call or clear(). Throws Error for bad input;
    // a new prompt drops what was kept first (the state can be large).
    Step compare(const Model& m, const RunOptions& opt);
    // Forget everything (a new model).
    void clear();

    size_t kept_runs() const { return recent_.size(); }

private:
    struct Kept {
        std::string key;
        KeptRun run;   // its state only for an intervened run, and not always
        size_t bytes;  // result_bytes(run.result) and its state's, as counted in recent_bytes_
    };
    // The run for these options and interventions (key: their run_key): a kept one, or one
    // resumed from a kept forward, now the newest kept.
    Kept& run(const Model& m, const RunOptions& o, const std::string& key, bool& reused);
    void keep(std::string key, KeptRun r);
    void drop_state(Kept& k);
    // The oldest states, then the oldest runs, until the limits hold.
    void trim();

    size_t max_runs_, max_bytes_;
    std::unique_ptr<KeptRun> kept_;                        // the baseline's forward
    std::list<Kept> recent_;                               // newest first
    size_t recent_bytes_ = 0;
    std::string baseline_key_;                             // the baseline last returned
    uint64_t baseline_id_ = 0;
};

// The bytes a run's numbers take in memory (what the kept runs are limited by).
size_t result_bytes(const RunResult& r);

}  // namespace hooklab
