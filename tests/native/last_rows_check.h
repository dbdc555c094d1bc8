#pragma once
// A bare pass that wants each segment's last logits computes the last block, past its keys
// and values, only for the rows those logits need (GPT2::forward): its logits must be the
// very bits of the same pass computing every row, which a hook that does nothing forces. Shared by the native tests (test_parallel.cpp) and the
// wasm kernel-test binding (wasm/bench_binding.cpp), so both builds check the same passes.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "hooklab/gpt2.h"

namespace last_rows {

struct Result {
    int passes = 0;
    int fewer = 0;               // passes whose last block computes fewer rows than the pass has
    std::string first_mismatch;  // "" when every pass gave the same bits both ways
};

// The logits of a pass (its segments save nothing: a pass that saves state computes every row).
inline std::vector<float> pass_bits(const hooklab::GPT2& g, const std::vector<hooklab::Segment>& segs, int start, bool hooked) {
    using namespace hooklab;
    const HookFn noop = [](HookView&) {};
    return g.forward(segs, start, hooked ? noop : HookFn(), Logits::Last);
}

// Prompts of every length mod 4 (the wasm kernel's row tiles) and of 1 to 4 rows (the
// native kernel's few-row path), alone and several in one pass, fresh and resumed.
inline Result check(const hooklab::GPT2& g) {
    using namespace hooklab;
    const int n = std::min(40, g.config.n_positions);
    RunState base;
    for (int i = 0; i < n; ++i) base.tokens.push_back((i * 7919 + 13) % g.config.vocab_size);
    g.forward({{&base, 0, &base}}, 0, nullptr, Logits::None);  // the state resumed passes start from
    std::vector<RunState> prompts;
    for (int T : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 32, 33, 34, 35, 40}) {
        prompts.emplace_back();
        prompts.back().tokens.assign(base.tokens.begin(), base.tokens.begin() + std::min(T, n));
    }
    struct Pass { std::vector<Segment> segs; int start; };
    std::vector<Pass> passes;
    for (const RunState& p : prompts) passes.push_back({{{&p, 0, nullptr}}, 0});
    passes.push_back({{{&prompts[1], 0, nullptr}, {&prompts[0], 0, nullptr}, {&prompts[4], 0, nullptr}}, 0});    // 2 + 1 + 5 rows
    passes.push_back({{{&prompts[12], 0, nullptr}, {&prompts[2], 0, nullptr}, {&prompts[10], 0, nullptr}}, 0});  // 34 + 3 + 32
    passes.push_back({{{&base, n - 2, nullptr}, {&base, n - 1, nullptr}, {&base, n - 10, nullptr}}, 0});          // resumed: 2 + 1 + 10
    passes.push_back({{{&base, 0, nullptr}, {&base, n - 3, nullptr}}, 3 % g.config.n_layer});                      // from a later block
    passes.push_back({{{&base, n - 3, nullptr}}, g.config.n_layer - 1});                                           // the last block only
    Result r;
    for (size_t i = 0; i < passes.size(); ++i) {
        const Pass& p = passes[i];
        int R = 0;
        std::vector<int> last;
        for (const Segment& s : p.segs) {
            R += static_cast<int>(s.from->tokens.size()) - s.first;
            last.push_back(R - 1);
        }
        ++r.passes;
        r.fewer += static_cast<int>(gemm_exact_rows(g.weights.blocks.back().c_fc.w, R, last).size()) < R;
        const std::vector<float> bare = pass_bits(g, p.segs, p.start, false), full = pass_bits(g, p.segs, p.start, true);
        if (r.first_mismatch.empty() && (bare.size() != full.size() || std::memcmp(bare.data(), full.data(), bare.size() * sizeof(float)) != 0))
            r.first_mismatch = "pass " + std::to_string(i) + " (" + std::to_string(p.segs.size()) + " segments, " + std::to_string(R) +
                               " rows, from block " + std::to_string(p.start) + ") differs";
    }
    return r;
}

}  // namespace last_rows
