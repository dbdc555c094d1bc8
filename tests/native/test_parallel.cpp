// The thread pool and the work split (GEMMs by output columns, the backward's dy W^T by
// dx's columns, attention by (segment, head), layernorm and GELU by rows): any number of
// threads gives the very bits one thread gives (every output keeps its summation order),
// and parallel_for covers its range exactly once.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "helpers.h"
#include "last_rows_check.h"
#include "hooklab/kernels.h"
#include "hooklab/parallel.h"
#include "hooklab/patching.h"
#include "hooklab/run.h"
#include "hooklab/safetensors.h"

using namespace hooklab;

namespace {

// Restores one thread when a test ends, so the other groups keep their default.
struct ThreadsGuard {
    ~ThreadsGuard() { set_threads(1); }
};

std::vector<float> random_vec(size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

}  // namespace

TEST_CASE("parallel_for calls every index once, in chunks of the grain, smaller near the end", "[parallel]") {
    ThreadsGuard guard;
    for (int n_threads : {1, 2, 3}) {
        set_threads(n_threads);
        REQUIRE(threads() == n_threads);
        for (int n : {1, 5, 64, 1001}) {
            std::vector<std::atomic<int>> hits(n);
            std::atomic<int> bad_chunks{0}, small{0};
            parallel_for(n, 7, [&](int b, int e) {
                if (e - b > 7 || e <= b) bad_chunks++;
                if (n_threads == 1 && b % 7 != 0) bad_chunks++;  // one thread: a plain loop by the grain
                small += e - b < 7 && e != n;
                for (int i = b; i < e; ++i) hits[i]++;
            });
            CHECK(bad_chunks == 0);
            for (int i = 0; i < n; ++i) CHECK(hits[i] == 1);
            // The last chunks shrink (fewer than 2 x threads x grain left), wherever they fall.
            if (n_threads > 1 && n == 1001) CHECK(small > 0);
        }
    }
}

TEST_CASE("parallel_for: nested calls run inline, exceptions reach the caller", "[parallel]") {
    ThreadsGuard guard;
    set_threads(3);
    std::atomic<int> total{0};
    parallel_for(8, 1, [&](int, int) { parallel_for(10, 1, [&](int b, int e) { total += e - b; }); });
    CHECK(total == 80);
    CHECK_THROWS_WITH(parallel_for(50, 1, [](int b, int e) { if (b <= 17 && 17 < e) throw std::runtime_error("chunk 17"); }),
                      "chunk 17");
    // The pool is still usable after an exception.
    std::atomic<int> after{0};
    parallel_for(100, 3, [&](int b, int e) { after += e - b; });
    CHECK(after == 100);
    CHECK_THROWS_WITH(set_threads(0), Catch::Contains("threads must be between 1 and 256"));
    CHECK(threads() == 3);
}

TEST_CASE("gemm gives identical bits with 1, 2 and 3 threads", "[parallel]") {
    ThreadsGuard guard;
    struct Shape { int T, in, out; };
    // Large enough to be split (T * in * out above the threshold) and small ones that
    // stay on the caller; odd widths leave partial panels and blocks.
    const Shape shapes[] = {{32, 768, 2304}, {5, 300, 3001}, {1, 768, 3072}, {3, 64, 200}, {7, 1000, 1000}};
    for (const Shape& s : shapes) {
        for (bool transposed : {false, true}) {
            for (bool f16 : {false, true}) {
                const auto w = random_vec(static_cast<size_t>(s.in) * s.out, 1);
                const auto x = random_vec(static_cast<size_t>(s.T) * s.in, 2);
                const auto bias = random_vec(s.out, 3);
                const PackedMatrix W = pack_matrix(w.data(), s.in, s.out, transposed, f16);
                std::vector<std::vector<float>> y;
                for (int n_threads : {1, 2, 3}) {
                    set_threads(n_threads);
                    y.emplace_back(static_cast<size_t>(s.T) * s.out, -1.0f);
                    gemm(x.data(), s.T, W, bias.data(), y.back().data());
                }
                INFO("T=" << s.T << " in=" << s.in << " out=" << s.out << " transposed=" << transposed << " f16=" << f16);
                CHECK(std::memcmp(y[0].data(), y[1].data(), y[0].size() * 4) == 0);
                CHECK(std::memcmp(y[0].data(), y[2].data(), y[0].size() * 4) == 0);
                // And it is the product, every output: against a double sum over the very
                // weights the kernel holds (F16: rounded by the packer's f32_to_f16), so no
                // F16 slack, only the float32 arithmetic. y = fl(x.w) + bias in float32 is
                // a sum of n = in + 1 terms (in products and the bias), each product and each
                // addition rounded once, in whatever order and blocking the kernel takes (an
                // FMA only rounds less): |y - exact| <= gamma_n * (|bias| + sum_k |x_k w_k|),
                // gamma_n = n u / (1 - n u) ~ n u, u = 2^-24 (Higham, Accuracy and Stability
                // of Numerical Algorithms, ch. 3): the worst case, computed for each element.
                // The reference's products are exact in double (24 x 24 bits) and its sum's
                // error is 2^29 times smaller than the bound.
                std::vector<double> wr(w.size());
                for (size_t i = 0; i < w.size(); ++i) wr[i] = f16 ? f16_to_f32(f32_to_f16(w[i])) : w[i];
                const double u = std::ldexp(1.0, -24), n_terms = s.in + 1.0;
                const double gamma = n_terms * u / (1 - n_terms * u);
                std::vector<double> ref(s.out), mag(s.out);
                size_t bad = 0;
                std::string first_bad;
                for (int t = 0; t < s.T; ++t) {
                    const float* xt = &x[static_cast<size_t>(t) * s.in];
                    for (int n = 0; n < s.out; ++n) { ref[n] = bias[n]; mag[n] = std::abs(bias[n]); }
                    if (transposed) {  // w is [out, in]
                        for (int n = 0; n < s.out; ++n) {
                            const double* wn = &wr[static_cast<size_t>(n) * s.in];
                            for (int k = 0; k < s.in; ++k) { ref[n] += xt[k] * wn[k]; mag[n] += std::abs(xt[k] * wn[k]); }
                        }
                    } else {  // w is [in, out]
                        for (int k = 0; k < s.in; ++k) {
                            const double* wk = &wr[static_cast<size_t>(k) * s.out];
                            for (int n = 0; n < s.out; ++n) { ref[n] += xt[k] * wk[n]; mag[n] += std::abs(xt[k] * wk[n]); }
                        }
                    }
                    for (int n = 0; n < s.out; ++n) {
                        const double got = y[0][static_cast<size_t>(t) * s.out + n], err = std::abs(got - ref[n]);
                        if (!(err <= gamma * mag[n]) && bad++ == 0)
                            first_bad = "y[" + std::to_string(t) + "][" + std::to_string(n) + "] = " + std::to_string(got) +
                                        ", exact " + std::to_string(ref[n]) + ", bound " + std::to_string(gamma * mag[n]);
                    }
                }
                INFO(first_bad);
                CHECK(bad == 0);
            }
        }
    }
}

namespace {

// dx = dy W^T (gemm_transposed) against a double sum over the weights the kernel holds (F16:
// as rounded by the packer), every element: dx[t, k] = sum_n dy[t, n] W[k, n] is a sum of
// n = out terms, so |dx - exact| <= gamma_n * sum_n |dy[t, n] W[k, n]| (as for gemm above,
// with no bias). Returns the first element outside the bound ("" if none).
std::string check_transposed(const std::vector<float>& dx, const std::vector<float>& dy, const std::vector<float>& w, int T,
                             int in, int out, bool transposed, bool f16) {
    std::vector<double> wr(w.size());  // W [in, out], whichever way w is laid out
    for (int k = 0; k < in; ++k)
        for (int n = 0; n < out; ++n) {
            const float v = w[transposed ? static_cast<size_t>(n) * in + k : static_cast<size_t>(k) * out + n];
            wr[static_cast<size_t>(k) * out + n] = f16 ? f16_to_f32(f32_to_f16(v)) : v;
        }
    const double u = std::ldexp(1.0, -24), n_terms = out + 0.0;
    const double gamma = n_terms * u / (1 - n_terms * u);
    for (int t = 0; t < T; ++t)
        for (int k = 0; k < in; ++k) {
            double ref = 0, mag = 0;
            for (int n = 0; n < out; ++n) {
                const double term = dy[static_cast<size_t>(t) * out + n] * wr[static_cast<size_t>(k) * out + n];
                ref += term;
                mag += std::abs(term);
            }
            const double got = dx[static_cast<size_t>(t) * in + k], err = std::abs(got - ref);
            if (!(err <= gamma * mag))
                return "dx[" + std::to_string(t) + "][" + std::to_string(k) + "] = " + std::to_string(got) + ", exact " +
                       std::to_string(ref) + ", bound " + std::to_string(gamma * mag);
        }
    return "";
}

}  // namespace

TEST_CASE("gemm_transposed: dy W^T within float32's bound, F32 and F16, every row count from 1 to 33", "[parallel]") {
    ThreadsGuard guard;
    set_threads(1);
    // in and out not multiples of 8 (a partial panel, a partial block of dx's columns), and
    // out < 8 (a single partial panel), in < 4.
    struct Shape { int in, out; };
    for (const Shape s : {Shape{37, 45}, Shape{3, 5}, Shape{70, 13}})
        for (bool transposed : {false, true})
            for (bool f16 : {false, true}) {
                const auto w = random_vec(static_cast<size_t>(s.in) * s.out, 11);
                const PackedMatrix W = pack_matrix(w.data(), s.in, s.out, transposed, f16);
                for (int T = 1; T <= 33; ++T) {
                    const auto dy = random_vec(static_cast<size_t>(T) * s.out, 12 + T);
                    std::vector<float> dx(static_cast<size_t>(T) * s.in, -1.0f);
                    gemm_transposed(dy.data(), T, W, dx.data());
                    INFO("T=" << T << " in=" << s.in << " out=" << s.out << " transposed=" << transposed << " f16=" << f16);
                    CHECK(check_transposed(dx, dy, w, T, s.in, s.out, transposed, f16) == "");
                }
            }
}

TEST_CASE("gemm_transposed gives identical bits with 1, 2 and 3 threads", "[parallel]") {
    ThreadsGuard guard;
    struct Shape { int T, in, out; };
    // Above the threshold for splitting (T * in * out >= 2^20) but for the last; odd sizes.
    const Shape shapes[] = {{33, 300, 301}, {17, 771, 203}, {1, 3001, 769}, {32, 768, 3072}, {5, 20, 33}};
    for (const Shape& s : shapes)
        for (bool transposed : {false, true})
            for (bool f16 : {false, true}) {
                const auto w = random_vec(static_cast<size_t>(s.in) * s.out, 21);
                const auto dy = random_vec(static_cast<size_t>(s.T) * s.out, 22);
                const PackedMatrix W = pack_matrix(w.data(), s.in, s.out, transposed, f16);
                std::vector<std::vector<float>> dx;
                for (int n_threads : {1, 2, 3}) {
                    set_threads(n_threads);
                    dx.emplace_back(static_cast<size_t>(s.T) * s.in, -1.0f);
                    gemm_transposed(dy.data(), s.T, W, dx.back().data());
                }
                INFO("T=" << s.T << " in=" << s.in << " out=" << s.out << " transposed=" << transposed << " f16=" << f16);
                CHECK(std::memcmp(dx[0].data(), dx[1].data(), dx[0].size() * 4) == 0);
                CHECK(std::memcmp(dx[0].data(), dx[2].data(), dx[0].size() * 4) == 0);
                if (s.in * s.out <= 300 * 301) CHECK(check_transposed(dx[0], dy, w, s.T, s.in, s.out, transposed, f16) == "");
            }
}

TEST_CASE("a run's JSON is the same with 1 and 3 threads", "[parallel]") {
    ThreadsGuard guard;
    // The embedded default model (committed); ~100 tokens, so that every GEMM is split.
    const Model m = load_model_dir(testing::source("checkpoints/default"));
    RunOptions o;
    for (int i = 0; i < 6; ++i) o.prompt += "The quick brown fox jumps over the lazy dog. ";
    o.prompt += "Then the dog wakes up and";
    o.logits = true;
    o.capture = {"blocks.1.attn.hook_pattern", "blocks.2.mlp.hook_post"};
    o.interventions = testing::ivs(m, nlohmann::json::parse(R"([{"kind":"zero_head_k","layer":1,"head":2}])"));
    set_threads(1);
    const std::string one = dump_json(run(m, o));
    set_threads(3);
    const std::string three = dump_json(run(m, o));
    CHECK(one == three);
}

namespace {

// Everything a pass leaves: its logits and, when `hooked`, its attention scores, pattern
// and z at every block it runs, in the order the hooks fire.
std::vector<float> pass_bits(const GPT2& g, const std::vector<Segment>& segs, int start, bool hooked) {
    std::vector<float> seen;
    HookFn keep;
    if (hooked)
        keep = [&](HookView& v) {
            if (v.hook == Hook::AttnScores || v.hook == Hook::Pattern || v.hook == Hook::Z)
                seen.insert(seen.end(), v.data, v.data + v.numel());
        };
    std::vector<float> out = g.forward(segs, start, keep, Logits::Last);
    out.insert(out.end(), seen.begin(), seen.end());
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("attention split by (segment, head): a long prompt and a batched resumed pass give identical bits with 1, 2 and 3 threads",
          "[parallel]") {
    ThreadsGuard guard;
    const Model m = load_model_dir(testing::source("checkpoints/default"));
    const GPT2& g = m.gpt2;
    std::string text;
    for (int i = 0; i < 12; ++i) text += "The quick brown fox jumps over the lazy dog. ";
    std::vector<int> ids = m.tokenizer.encode(text);
    ids.resize(std::min<size_t>(ids.size(), g.config.n_positions));
    const int T = static_cast<int>(ids.size());
    REQUIRE(T >= 100);
    // The state patched runs resume from: the whole prompt, one segment.
    RunState base;
    base.tokens = ids;
    set_threads(1);
    g.forward({{&base, 0, &base}}, 0, nullptr, Logits::None);
    // As in a patching sweep: several segments of one pass from block 3, each computing
    // positions >= first (one of them all of them), next to a fresh run from block 0.
    RunState fresh;
    fresh.tokens = std::vector<int>(ids.begin(), ids.begin() + 37);
    const std::vector<Segment> resumed{{&base, 0, nullptr}, {&base, 1, nullptr}, {&base, 40, nullptr}, {&base, T - 1, nullptr}};
    const std::vector<Segment> whole{{&base, 0, nullptr}, {&fresh, 0, nullptr}};
    for (const auto& [segs, start] : {std::pair{resumed, 3}, std::pair{whole, 0}}) {
        std::vector<std::vector<float>> hooked, bare;
        for (int n_threads : {1, 2, 3}) {
            set_threads(n_threads);
            hooked.push_back(pass_bits(g, segs, start, true));
            bare.push_back(pass_bits(g, segs, start, false));
        }
        INFO(segs.size() << " segments from block " << start);
        CHECK(same_bits(hooked[0], hooked[1]));
        CHECK(same_bits(hooked[0], hooked[2]));
        CHECK(same_bits(bare[0], bare[1]));
        CHECK(same_bits(bare[0], bare[2]));
        // Without a hook the three attention steps run fused, per head: the same logits.
        CHECK(same_bits(bare[0], std::vector<float>(hooked[0].begin(), hooked[0].begin() + bare[0].size())));
    }
}

TEST_CASE("a patching sweep gives the same numbers with 1, 2 and 3 threads", "[parallel]") {
    ThreadsGuard guard;
    const Model m = load_model_dir(testing::source("checkpoints/default"));
    PatchOptions o;
    o.clean = "When Mary and John went to the big store, John gave a drink to";
    o.corrupted = "When Mary and John went to the big store, Mary gave a drink to";
    o.answer = " Mary";
    o.wrong = " John";
    std::vector<std::string> dumps;
    for (const char* hook : {"resid_pre", "z"})
        for (int n_threads : {1, 2, 3}) {
            set_threads(n_threads);
            o.hook = hook;
            nlohmann::json r = patch_json(m, patch(m, o));
            r.erase("ms");  // the only field that may differ
            dumps.push_back(r.dump());
        }
    CHECK(dumps[1] == dumps[0]);
    CHECK(dumps[2] == dumps[0]);
    CHECK(dumps[4] == dumps[3]);
    CHECK(dumps[5] == dumps[3]);
}

TEST_CASE("a bare pass wanting the last logits computes the last block's rest for few rows, with the full pass's bits",
          "[parallel]") {
    ThreadsGuard guard;
    for (bool f16 : {false, true})
        for (int n_threads : {1, 2}) {
            set_threads(n_threads);
            const Model m = load_model_dir(testing::source("checkpoints/default"), f16);
            const last_rows::Result r = last_rows::check(m.gpt2);
            INFO("f16=" << f16 << " threads=" << n_threads << ": " << r.first_mismatch);
            CHECK(r.first_mismatch.empty());
            // Natively only F32 passes of 2 to 4 rows take fewer (beyond, Eigen's blocking
            // depends on the shape; F16 goes through Eigen at any count).
            if (!f16) CHECK(r.fewer > 0);
        }
}
