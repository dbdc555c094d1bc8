#include "hooklab/compare.h"

#include <cstdio>

namespace hooklab {

namespace {

// A key's parts: strings with their length (so that no two keys run together), numbers
// exactly (doubles as hexadecimal floats).
void put(std::string& k, const std::string& s) { k += std::to_string(s.size()) + ":" + s + ";"; }
void put(std::string& k, long long x) { k += std::to_string(x) + ";"; }
void put(std::string& k, unsigned long long x) { k += std::to_string(x) + "u;"; }
void put(std::string& k, double x) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%a;", x);
    k += buf;
}
void put(std::string& k, const Selector& s) {
    put(k, static_cast<long long>(s.kind));
    put(k, static_cast<long long>(s.begin));
    put(k, static_cast<long long>(s.end));
    put(k, static_cast<long long>(s.list.size()));
    for (int i : s.list) put(k, static_cast<long long>(i));
}

// What decides a run, as text: the prompt, the options, the interventions (every field).
std::string run_key(const RunOptions& o) {
    std::string k;
    put(k, o.prompt);
    put(k, static_cast<long long>(o.topk));
    put(k, static_cast<long long>(o.logits));
    put(k, static_cast<long long>(o.logit_lens));
    put(k, static_cast<long long>(o.all_logits));
    put(k, static_cast<long long>(o.capture.size()));
    for (const std::string& c : o.capture) put(k, c);
    put(k, static_cast<long long>(o.interventions.size()));
    for (const Intervention& iv : o.interventions) {
        for (int x : {static_cast<int>(iv.form), static_cast<int>(iv.op), static_cast<int>(iv.hook), iv.layer, iv.head})
            put(k, static_cast<long long>(x));
        put(k, iv.positions);
        put(k, iv.heads);
        put(k, iv.features);
        for (double x : {iv.factor, iv.value, iv.mean, iv.std}) put(k, x);
        put(k, static_cast<unsigned long long>(iv.seed));
        // A set's tensor, its floats' bytes as they are.
        put(k, iv.tensor ? std::string(reinterpret_cast<const char*>(iv.tensor->data()), sizeof(float) * iv.tensor->size())
                         : std::string("-"));
    }
    return k;
}

}  // namespace

size_t result_bytes(const RunResult& r) {
    size_t n = sizeof(float) * (r.logits.size() + r.all_logits.size() + r.lens_logits.size()) + sizeof(double) * r.lens_probs.size();
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
