#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "hooklab/run.h"

namespace hooklab {

// The page's comparisons of one prompt, baseline against intervened, at the cost the
// toggles allow:
//  - the baseline's forward is kept for the next calls on the same prompt; other options
//    there (captures, which exercise 1's toggle changes, the logit lens, topk) are a
//    baseline run resumed from it, computing only the blocks they need;
//  - an intervened run resumes from it at the first block it touches (run_model's `from`);
//  - the latest intervened runs are kept by their options and interventions, so that an
//    exercise switched off and on again is shown without a forward. A run is a function of
//    the model, the options and the interventions alone (noise too: its seed is one of
//    them, 0 when not given), so a kept run is exactly what a new forward would give.
class Comparer {
public:
    struct Step {
        const RunResult* baseline = nullptr;    // the kept baseline
        uint64_t baseline_id = 0;               // changes whenever the baseline does
        const RunResult* intervened = nullptr;  // == baseline when there are no interventions
        bool reused = false;                    // the intervened run was a kept one
        Comparison comparison;
    };
    // At most max_runs intervened runs, max_bytes of their numbers (result_bytes) in all,
    // are kept; the newest always is.
    explicit Comparer(size_t max_runs = 8, size_t max_bytes = size_t{64} << 20) : max_runs_(max_runs), max_bytes_(max_bytes) {}
    // The pointers stay valid until the next call or clear(). Throws Error for bad input;
    // a new prompt drops the old baseline first (its state can be large).
    Step compare(const Model& m, const RunOptions& opt);
    // Forget everything (a new model).
    void clear();

    size_t kept_runs() const { return recent_.size(); }

private:
    size_t max_runs_, max_bytes_;
    uint64_t baseline_id_ = 0;
    std::unique_ptr<KeptRun> baseline_;
    std::string prompt_, options_;                         // what baseline_ was run with
    std::list<std::pair<std::string, RunResult>> recent_;  // newest first
    size_t recent_bytes_ = 0;
};

// The bytes a run's numbers take in memory (what the kept runs are limited by).
size_t result_bytes(const RunResult& r);

}  // namespace hooklab
