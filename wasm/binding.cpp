// The Embind layer: thin on purpose. It moves strings and byte ranges between JS and
// the engine and turns every C++ exception into {error: message}; the engine knows
// nothing of JS. Large inputs (the safetensors bytes) are written by JS straight into
// a staging buffer in the wasm heap (a typed-array view), then fed to the streaming
// loader, so a checkpoint is never held in the heap as a whole.
#include <emscripten/bind.h>
#include <emscripten/heap.h>
#include <emscripten/val.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hooklab/error.h"
#include "hooklab/generate.h"
#include "hooklab/kernels.h"
#include "hooklab/loader.h"
#include "hooklab/patching.h"
#include "hooklab/run.h"
#include "hooklab/safetensors.h"

using emscripten::val;

namespace {

val ok(val v) {
    val r = val::object();
    r.set("value", v);
    return r;
}

val fail(const std::string& msg) {
    val r = val::object();
    r.set("error", msg);
    return r;
}

// Runs f, mapping exceptions to {error}.
template <class F>
val guard(F&& f) {
    try {
        return ok(f());
    } catch (const hooklab::Error& e) {
        return fail(e.what());
    } catch (const std::bad_alloc&) {
        return fail("out of memory: the WebAssembly heap (at most 4 GB) cannot hold this; try F16 weights or a smaller model");
    } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
    }
}

class Engine {
public:
    // Step 1: the three small files, the weight format and the safetensors file size
    // (0 when unknown). The model's memory need is checked here, before any allocation.
    val begin(const std::string& config, const std::string& vocab, const std::string& merges, bool f16, double file_size) {
        return guard([&] {
            reset();
            if (file_size > 4294967295.0)
                throw hooklab::Error("model.safetensors is " + std::to_string(static_cast<uint64_t>(file_size) >> 20) +
                                     " MB: larger than the 4 GB a WebAssembly module can address");
            const hooklab::Config cfg = hooklab::parse_config(config);
            hooklab::Tokenizer tok = hooklab::Tokenizer::from_files(vocab, merges);
            if (tok.vocab_size() > cfg.vocab_size)
                throw hooklab::Error("vocab.json has " + std::to_string(tok.vocab_size()) +
                                     " tokens but config.json says vocab_size " + std::to_string(cfg.vocab_size));
            // What is left of the 4 GB address space, less room for activations.
            const uint64_t used = reinterpret_cast<uintptr_t>(sbrk(0));
            const uint64_t max = emscripten_get_heap_max();
            const uint64_t reserve = 96ull << 20;
            const uint64_t limit = max > used + reserve ? max - used - reserve : 1;
            stream_ = std::make_unique<hooklab::SafeTensorsStream>(cfg, f16, static_cast<uint64_t>(file_size), limit);
            pending_ = std::make_unique<hooklab::Model>();
            pending_->tokenizer = std::move(tok);
            return val(true);
        });
    }

    // A staging buffer of at least n bytes in the heap; JS writes the next chunk there.
    uintptr_t buffer(size_t n) {
        if (staging_.size() < n) {
            std::vector<uint8_t>().swap(staging_);
            staging_.resize(n);
        }
        return reinterpret_cast<uintptr_t>(staging_.data());
    }

    val feed(size_t n) {
        return guard([&] {
            if (!stream_) throw hooklab::Error("no load in progress");
            try {
                stream_->feed(staging_.data(), n);
            } catch (...) {
                reset();
                throw;
            }
            return val(static_cast<double>(stream_->bytes_fed()));
        });
    }

    val finish() {
        return guard([&] {
            if (!stream_) throw hooklab::Error("no load in progress");
            try {
                pending_->gpt2 = stream_->finish();
            } catch (...) {
                reset();
                throw;
            }
            stream_.reset();
            std::vector<uint8_t>().swap(staging_);
            model_ = std::move(pending_);
            return val(true);
        });
    }

    // options: {"prompt", "topk", "logits", "capture": [...]}; interventions: a JSON
    // array of strings, each one intervention's JSON text (parsed here, as natively).
    val run(const std::string& options, const std::string& interventions, int indent) {
        return guard([&] {
            const hooklab::Model& m = model();
            hooklab::RunOptions opt;
            const nlohmann::json o = nlohmann::json::parse(options);
            opt.prompt = o.at("prompt").get<std::string>();
            if (o.contains("topk")) opt.topk = o["topk"].get<int>();
            if (o.contains("logits")) opt.logits = o["logits"].get<bool>();
            if (o.contains("capture")) opt.capture = o["capture"].get<std::vector<std::string>>();
            for (const auto& text : nlohmann::json::parse(interventions)) {
                const std::string t = text.get<std::string>();
                try {
                    opt.interventions.push_back(nlohmann::json::parse(t));
                } catch (const nlohmann::json::exception&) {
                    throw hooklab::Error("intervention is not valid JSON: " + t);
                }
            }
            return val(hooklab::dump_json(hooklab::run(m, opt), indent));
        });
    }

    val tokenize(const std::string& text) {
        return guard([&] { return val(hooklab::dump_json(nlohmann::json(model().tokenizer.encode(text)))); });
    }

    // ids: JSON array. Returns the text (invalid UTF-8 shown as U+FFFD).
    val decode(const std::string& ids_json) {
        return guard([&] {
            const auto ids = nlohmann::json::parse(ids_json).get<std::vector<int>>();
            const hooklab::Model& m = model();
            for (int id : ids)
                if (id < 0 || id >= m.tokenizer.vocab_size())
                    throw hooklab::Error("token id " + std::to_string(id) + " is outside the vocabulary");
            return val(hooklab::utf8_lossy(m.tokenizer.decode(ids)));
        });
    }

    val config() { return guard([&] { return val(hooklab::dump_json(hooklab::config_json(model().gpt2.config))); }); }

    // A bare forward (no hooks) on token ids, for benchmarks: returns milliseconds.
    val forward(const std::string& ids_json, bool all_logits) {
        return guard([&] {
            const auto ids = nlohmann::json::parse(ids_json).get<std::vector<int>>();
            const auto t0 = std::chrono::steady_clock::now();
            model().gpt2.forward(ids, nullptr, all_logits);
            return val(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        });
    }

    // ---- activation patching and direct logit attribution (issue #11). A sweep runs one
    // block per call (patchLayer) so that JS can report progress and stop between blocks.
    // options: {"clean", "corrupted", "answer", "wrong", "hook", "by"}; interventions as in run().
    val patchBegin(const std::string& options, const std::string& interventions) {
        return guard([&] {
            patcher_.reset();
            const nlohmann::json o = nlohmann::json::parse(options);
            hooklab::PatchOptions p;
            p.clean = o.at("clean").get<std::string>();
            p.corrupted = o.at("corrupted").get<std::string>();
            p.answer = o.at("answer").get<std::string>();
            p.wrong = o.at("wrong").get<std::string>();
            p.hook = o.value("hook", std::string("resid_pre"));
            p.by = o.value("by", std::string());
            p.interventions = parse_interventions(interventions);
            patcher_ = std::make_unique<hooklab::Patcher>(model(), p);
            return val(hooklab::dump_json(patcher_->header()));
        });
    }

    // The patched logit differences of one block, as a JSON array.
    val patchLayer(int layer) {
        return guard([&] {
            if (!patcher_) throw hooklab::Error("no patching sweep in progress");
            return val(hooklab::dump_json(nlohmann::json(patcher_->run_layer(layer))));
        });
    }

    val patchResult(int indent) {
        return guard([&] {
            if (!patcher_) throw hooklab::Error("no patching sweep in progress");
            const std::string out = hooklab::dump_json(patcher_->result(), indent);
            patcher_.reset();
            return val(out);
        });
    }

    void patchCancel() { patcher_.reset(); }

    // options: {"prompt", "answer", "wrong"}.
    val attribute(const std::string& options, const std::string& interventions, int indent) {
        return guard([&] {
            const nlohmann::json o = nlohmann::json::parse(options);
            hooklab::AttributeOptions a;
            a.prompt = o.at("prompt").get<std::string>();
            a.answer = o.at("answer").get<std::string>();
            a.wrong = o.at("wrong").get<std::string>();
            a.interventions = parse_interventions(interventions);
            return val(hooklab::dump_json(hooklab::attribute(model(), a), indent));
        });
    }

    // ---- generation (issue #12): one token per call (generateStep) so that JS can
    // stream tokens and stop between them. Numbers arrive as doubles so that NaN reaches
    // the engine's checks; the seed as decimal text (64 bits do not fit a JS number).
    val generateBegin(const std::string& prompt, double max_new_tokens, double temperature, double top_k, double top_p,
                      const std::string& seed, const std::string& interventions) {
        return guard([&] {
            generator_.reset();
            auto integer = [](double x, const char* what) {
                if (!(std::abs(x) <= 1e9) || x != std::floor(x)) throw hooklab::Error(std::string(what) + " must be an integer");
                return static_cast<int>(x);
            };
            hooklab::GenerateOptions g;
            g.prompt = prompt;
            g.max_new_tokens = integer(max_new_tokens, "maxNewTokens");
            g.sampler.temperature = temperature;
            g.sampler.top_k = integer(top_k, "topK");
            g.sampler.top_p = top_p;
            errno = 0;
            const unsigned long long s = std::strtoull(seed.c_str(), nullptr, 10);
            if (seed.empty() || seed.size() > 20 || seed.find_first_not_of("0123456789") != std::string::npos || errno == ERANGE)
                throw hooklab::Error("seed must be an integer in [0, 2^64), got \"" + seed + "\"");
            g.sampler.seed = s;
            g.interventions = parse_interventions(interventions);
            generator_ = std::make_unique<hooklab::Generator>(model(), g);
            return val(generator_->done());
        });
    }

    // The next token's {"id", "token", "prob"} as JSON text.
    val generateStep() {
        return guard([&] {
            if (!generator_) throw hooklab::Error("no generation in progress");
            return val(hooklab::dump_json(generator_->step()));
        });
    }

    bool generateDone() { return !generator_ || generator_->done(); }

    val generateResult(int indent) {
        return guard([&] {
            if (!generator_) throw hooklab::Error("no generation in progress");
            const std::string out = hooklab::dump_json(generator_->result(), indent);
            generator_.reset();
            return val(out);
        });
    }

    void generateCancel() { generator_.reset(); }

    double flops(int T, bool all_logits) { return model_ ? model_->gpt2.flops_per_forward(T, all_logits) : 0; }
    double weightBytes() { return model_ ? static_cast<double>(model_->gpt2.weights.bytes()) : 0; }
    void dispose() { reset(); model_.reset(); }

private:
    // A JSON array of strings, each one intervention's JSON text.
    static std::vector<nlohmann::json> parse_interventions(const std::string& texts) {
        std::vector<nlohmann::json> out;
        for (const auto& text : nlohmann::json::parse(texts)) {
            const std::string t = text.get<std::string>();
            try {
                out.push_back(nlohmann::json::parse(t));
            } catch (const nlohmann::json::exception&) {
                throw hooklab::Error("intervention is not valid JSON: " + t);
            }
        }
        return out;
    }

    const hooklab::Model& model() const {
        if (!model_) throw hooklab::Error("no model is loaded");
        return *model_;
    }
    void reset() {
        patcher_.reset();  // it refers to the model
        generator_.reset();  // so does it
        stream_.reset();
        pending_.reset();
        std::vector<uint8_t>().swap(staging_);
    }

    std::unique_ptr<hooklab::SafeTensorsStream> stream_;
    std::unique_ptr<hooklab::Model> pending_, model_;
    std::unique_ptr<hooklab::Patcher> patcher_;
    std::unique_ptr<hooklab::Generator> generator_;
    std::vector<uint8_t> staging_;
};

// GFLOP/s of one GEMM shape on random weights (bench/ uses it to time the kernels alone).
double bench_gemm(int T, int in, int out, bool f16, int iters) {
    std::vector<float> w(static_cast<size_t>(in) * out), x(static_cast<size_t>(T) * in), b(out), y(static_cast<size_t>(T) * out);
    uint32_t s = 12345;
    auto rnd = [&] { s = s * 1664525u + 1013904223u; return static_cast<float>(s >> 8) / 16777216.0f - 0.5f; };
    for (float& v : w) v = rnd();
    for (float& v : x) v = rnd();
    for (float& v : b) v = rnd();
    const hooklab::PackedMatrix W = hooklab::pack_matrix(w.data(), in, out, false, f16);
    hooklab::gemm(x.data(), T, W, b.data(), y.data());
    double best = 1e30;
    for (int i = 0; i < iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        hooklab::gemm(x.data(), T, W, b.data(), y.data());
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return 2.0 * T * in * out / best / 1e9;
}

// Every half through the F16 kernels with x = 1 (y must be the half's value exactly):
// the finite ones through the fast paths (the widening pass for T >= 4, the fused one
// for T = 1), then all 65536, inf and NaN included, through the exact path. Returns
// the number of mismatches.
int kernel_selftest() {
    int bad = 0;
    for (bool with_special : {false, true}) {
        std::vector<float> w;
        for (uint32_t h = 0; h < 65536; ++h)
            if (with_special || (h & 0x7c00) != 0x7c00) w.push_back(hooklab::f16_to_f32(static_cast<uint16_t>(h)));
        const int n = static_cast<int>(w.size());
        const hooklab::PackedMatrix W = hooklab::pack_matrix(w.data(), 1, n, false, true);
        if (W.f16_special != with_special) ++bad;
        for (int T : {1, 4}) {
            std::vector<float> x(T, 1.0f), y(static_cast<size_t>(T) * n);
            hooklab::gemm(x.data(), T, W, nullptr, y.data());
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < n; ++i) {
                    const float got = y[static_cast<size_t>(t) * n + i];
                    bad += !(got == w[i] || (got != got && w[i] != w[i]));
                }
        }
    }
    return bad;
}

double heap_size() { return static_cast<double>(emscripten_get_heap_size()); }
std::string kernel() { return hooklab::kernel_name(); }
bool json_valid(const std::string& text) { return nlohmann::json::accept(text); }

}  // namespace

EMSCRIPTEN_BINDINGS(hooklab) {
    emscripten::class_<Engine>("Engine")
        .constructor<>()
        .function("begin", &Engine::begin)
        .function("buffer", &Engine::buffer)
        .function("feed", &Engine::feed)
        .function("finish", &Engine::finish)
        .function("run", &Engine::run)
        .function("tokenize", &Engine::tokenize)
        .function("decode", &Engine::decode)
        .function("config", &Engine::config)
        .function("forward", &Engine::forward)
        .function("patchBegin", &Engine::patchBegin)
        .function("patchLayer", &Engine::patchLayer)
        .function("patchResult", &Engine::patchResult)
        .function("patchCancel", &Engine::patchCancel)
        .function("attribute", &Engine::attribute)
        .function("generateBegin", &Engine::generateBegin)
        .function("generateStep", &Engine::generateStep)
        .function("generateDone", &Engine::generateDone)
        .function("generateResult", &Engine::generateResult)
        .function("generateCancel", &Engine::generateCancel)
        .function("flops", &Engine::flops)
        .function("weightBytes", &Engine::weightBytes)
        .function("dispose", &Engine::dispose);
    emscripten::function("heapSize", &heap_size);
    emscripten::function("benchGemm", &bench_gemm);
    emscripten::function("kernelSelfTest", &kernel_selftest);
    emscripten::function("kernel", &kernel);
    emscripten::function("jsonValid", &json_valid);
}
