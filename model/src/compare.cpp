#include "hooklab/compare.h"

namespace hooklab {

namespace {

// What decides a run, as text: the prompt, the options, the interventions.
std::string run_key(const RunOptions& o) {
    return dump_json({{"prompt", o.prompt}, {"topk", o.topk}, {"logits", o.logits}, {"capture", o.capture},
                      {"logit_lens", o.logit_lens}, {"interventions", o.interventions}});
}

}  // namespace

size_t result_bytes(const RunResult& r) {
    size_t n = sizeof(float) * (r.logits.size() + r.lens_logits.size()) + sizeof(double) * r.lens_probs.size();
    for (const Capture& c : r.captures) n += sizeof(float) * c.data.size();
    for (const auto& s : r.stats) n += sizeof(Stat) * s.size();
    return n;
}

void Comparer::keep(std::string key, KeptRun r) {
    const size_t bytes = result_bytes(r.result) + r.state.bytes();
    recent_bytes_ += bytes;
    recent_.push_front({std::move(key), std::move(r), bytes});
    trim();
}

void Comparer::drop_state(Kept& k) {
    const size_t bytes = k.run.state.bytes();
    k.run.state = RunState();
    k.bytes -= bytes;
    recent_bytes_ -= bytes;
}

void Comparer::trim() {
    auto drop_oldest_run = [&] {
        recent_bytes_ -= recent_.back().bytes;
        recent_.pop_back();
    };
    while (recent_.size() > 2 && recent_.size() > max_runs_) drop_oldest_run();
    for (auto it = recent_.rbegin(); it != recent_.rend() && recent_bytes_ > max_bytes_; ++it) drop_state(*it);
    while (recent_.size() > 2 && recent_bytes_ > max_bytes_) drop_oldest_run();
}

Comparer::Kept& Comparer::run(const Model& m, const RunOptions& o, const std::string& key, bool& reused) {
    auto it = recent_.begin();
    while (it != recent_.end() && it->key != key) ++it;
    reused = it != recent_.end();
    if (reused) {
        recent_.splice(recent_.begin(), recent_, it);
        return recent_.front();
    }
    std::vector<const KeptRun*> from{kept_.get()};
    for (const Kept& k : recent_)
        if (k.run.state.capacity() > 0) from.push_back(&k.run);
    // An intervened run keeps its forward for the next ones when its state takes at most
    // half the limit (a baseline's would repeat kept_'s); older states make room after it,
    // so that the one it resumed from was there (loader.h counts both).
    keep(key, run_kept(m, o, from, o.interventions.empty() ? 0 : max_bytes_ / 2));
    return recent_.front();
}

Comparer::Step Comparer::compare(const Model& m, const RunOptions& opt) {
    RunOptions base = opt;
    base.interventions.clear();
    const std::string key = run_key(base);
    Step s;
    bool fresh = false;
    if (!kept_ || kept_->result.prompt != opt.prompt) {
        clear();
        kept_ = std::make_unique<KeptRun>(run_kept(m, base));
        keep(key, KeptRun{kept_->result, RunState(), base.capture});
        fresh = true;
    }
    Kept& baseline = run(m, base, key, s.baseline_reused);
    s.baseline_reused = s.baseline_reused && !fresh;
    if (key != baseline_key_) {
        baseline_key_ = key;
        ++baseline_id_;
    }
    s.baseline = s.intervened = &baseline.run.result;
    s.baseline_id = baseline_id_;
    // The baseline stays in the two newest kept runs while the intervened run is added.
    s.first_block = m.gpt2.config.n_layer;
    if (!opt.interventions.empty()) {
        const Kept& r = run(m, opt, run_key(opt), s.reused);
        s.intervened = &r.run.result;
        if (!s.reused) s.first_block = r.run.result.first_block;
    }
    s.comparison = compare_runs(baseline.run.result, *s.intervened, opt.topk);
    // That may have added the baseline's lens probabilities: counted from now on.
    const size_t bytes = result_bytes(baseline.run.result);
    recent_bytes_ += bytes - baseline.bytes;
    baseline.bytes = bytes;
    return s;
}

void Comparer::clear() {
    kept_.reset();
    recent_.clear();
    recent_bytes_ = 0;
    baseline_key_.clear();
}

}  // namespace hooklab
