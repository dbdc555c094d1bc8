#include "hooklab/compare.h"

#include <iterator>

namespace hooklab {

namespace {

// The options that decide a run besides its interventions, as text.
std::string options_key(const RunOptions& o) {
    return dump_json({{"prompt", o.prompt}, {"topk", o.topk}, {"logits", o.logits}, {"capture", o.capture}, {"logit_lens", o.logit_lens}});
}

}  // namespace

size_t result_bytes(const RunResult& r) {
    size_t n = sizeof(float) * (r.logits.size() + r.lens_logits.size()) + sizeof(double) * r.lens_probs.size();
    for (const Capture& c : r.captures) n += sizeof(float) * c.data.size();
    for (const auto& s : r.stats) n += sizeof(Stat) * s.size();
    return n;
}

Comparer::Step Comparer::compare(const Model& m, const RunOptions& opt) {
    RunOptions base = opt;
    base.interventions.clear();
    const std::string key = options_key(base);
    Step s;
    if (!baseline_ || prompt_ != opt.prompt) {
        clear();
        baseline_ = std::make_unique<KeptRun>(run_kept(m, base));
        prompt_ = opt.prompt;
        options_ = key;
        ++baseline_id_;
    } else if (options_ != key) {
        baseline_->result = run_model(m, base, baseline_.get());
        options_ = key;
        ++baseline_id_;
    }
    s.baseline = s.intervened = &baseline_->result;
    s.baseline_id = baseline_id_;
    if (!opt.interventions.empty()) {
        const std::string run_key = key + '\n' + dump_json(nlohmann::json(opt.interventions));
        auto it = recent_.begin();
        while (it != recent_.end() && it->first != run_key) ++it;
        if (it != recent_.end()) {
            recent_.splice(recent_.begin(), recent_, it);
            s.reused = true;
        } else {
            RunResult r = run_model(m, opt, baseline_.get());
            recent_bytes_ += result_bytes(r);
            recent_.emplace_front(run_key, std::move(r));
            while (recent_.size() > 1 && (recent_.size() > max_runs_ || recent_bytes_ > max_bytes_)) {
                recent_bytes_ -= result_bytes(recent_.back().second);
                recent_.pop_back();
            }
        }
        s.intervened = &recent_.front().second;
    }
    s.comparison = compare_runs(baseline_->result, *s.intervened, opt.topk);
    return s;
}

void Comparer::clear() {
    baseline_.reset();
    prompt_.clear();
    options_.clear();
    recent_.clear();
    recent_bytes_ = 0;
}

}  // namespace hooklab
