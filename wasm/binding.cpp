// The Embind layer: thin on purpose. It moves strings, byte ranges and float arrays
// between JS and the engine and turns every C++ exception into {error: message}; the
// engine knows nothing of JS. Bulk numbers (logits, captured tensors, gradients) leave as
// Float32Arrays of their own (transferable), never as text; the small rest of a run is
// the run JSON's text. Large inputs (the safetensors bytes) are written by JS straight
// into a staging buffer in the wasm heap, then fed to the streaming loader, so a
// checkpoint is never held in the heap as a whole.
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

#include "hooklab/compare.h"
#include "hooklab/error.h"
#include "hooklab/json_io.h"
#include "hooklab/kernels.h"
#include "hooklab/loader.h"
#include "hooklab/processing.h"
#include "hooklab/weights.h"

using emscripten::val;
using nlohmann::json;

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

// A Float32Array of its own (a copy out of the heap), so that it can be transferred.
val f32(const std::vector<float>& v) {
    return val::global("Float32Array").new_(val(emscripten::typed_memory_view(v.size(), v.data())));
}

// ---- strict options (issue #28). The JSON keys each entry point reads from its options
// text: the one table here. Any other key is an Error naming it (hooklab::check_keys: did you
// mean, and this list), never ignored. The JS API (wasm/js/hooklab.js, OPTION_KEYS) checks its
// callers' objects and sends only these; this guards JSON text that reaches the binding from
// anywhere else. Interventions are parsed and checked against the loaded model by
// hooklab::parse_interventions (json_io.h), once, here.
const std::vector<std::string> kRunKeys = {"prompt", "topk", "logits", "capture", "logit_lens"};
const std::vector<std::pair<std::string, std::vector<std::string>>> kOptionKeys = {
    {"run", kRunKeys},
    {"runJSON", kRunKeys},
    {"compare", kRunKeys},
    {"heads", {"prompt", "repeat", "seed", "pattern"}},
    {"headsJSON", {"prompt", "repeat", "seed", "pattern"}},
    {"patchBegin", {"clean", "corrupted", "answer", "wrong", "hook", "by", "metric"}},
    {"attribute", {"prompt", "answer", "wrong"}},
    {"gradients", {"prompt", "answer", "wrong", "hooks"}},
    {"attributionPatch", {"clean", "corrupted", "answer", "wrong", "hook", "by", "metric"}},
};

// Entry point fn's options text as a JSON object with only the keys of its row.
json options_json(const std::string& text, const std::string& fn) {
    json o;
    try {
        o = json::parse(text);
    } catch (const json::exception&) {
        throw hooklab::Error(fn + ": the options are not valid JSON");
    }
    if (!o.is_object()) throw hooklab::Error(fn + ": the options must be a JSON object");
    for (const auto& [name, keys] : kOptionKeys)
        if (name == fn) hooklab::check_keys(o, keys, fn, fn);
    return o;
}

// Typed fields, each a clear Error when missing (required) or of the wrong type.
std::string string_field(const json& o, const char* key, const std::string& fn, bool required = true) {
    if (!o.contains(key)) {
        if (required) throw hooklab::Error(fn + ": \"" + key + "\" is required");
        return std::string();
    }
    if (!o[key].is_string()) throw hooklab::Error(fn + ": \"" + key + "\" must be a string");
    return o[key].get<std::string>();
}
bool bool_field(const json& o, const char* key, const std::string& fn) {
    if (!o[key].is_boolean()) throw hooklab::Error(fn + ": \"" + key + "\" must be true or false");
    return o[key].get<bool>();
}

// A JSON array of strings, each one intervention's JSON text (parsed here, as natively, so
// 64-bit seeds stay exact).
std::vector<json> intervention_list(const json& texts) {
    if (!texts.is_array()) throw hooklab::Error("interventions: expected an array of JSON texts");
    std::vector<json> out;
    for (const auto& text : texts) {
        if (!text.is_string()) throw hooklab::Error("interventions: expected an array of JSON texts");
        const std::string t = text.get<std::string>();
        try {
            out.push_back(json::parse(t));
        } catch (const json::exception&) {
            throw hooklab::Error("intervention is not valid JSON: " + t);
        }
    }
    return out;
}
std::vector<json> intervention_texts(const std::string& texts) {
    json j;
    try {
        j = json::parse(texts);
    } catch (const json::exception&) {
        throw hooklab::Error("interventions: not valid JSON");
    }
    return intervention_list(j);
}

// The loaded model (m), or an Error.
const hooklab::Model& loaded(const hooklab::Model* m) {
    if (!m) throw hooklab::Error("no model is loaded");
    return *m;
}

// The tensors the next call's interventions refer to ({"kind":"set", "value": {"tensor": k}}):
// Engine::setTensors puts them here just before the call, and parsing takes them.
hooklab::InterventionTensors pending_tensors;

// The interventions' JSON texts, parsed (intervention_texts), then checked against the model.
std::vector<hooklab::Intervention> typed_interventions(const std::string& texts, const hooklab::Model* m) {
    const std::vector<json> list = intervention_texts(texts);
    const hooklab::InterventionTensors tensors = std::move(pending_tensors);
    pending_tensors.clear();
    return hooklab::parse_interventions(list, loaded(m).gpt2.config, &tensors);
}

// options: {"clean", "corrupted", "answer", "wrong", "hook", "by", "metric"}, for both methods of
// patching; "wrong" may be left out with a metric of the answer alone.
hooklab::PatchOptions patch_options(const json& o, const std::string& interventions, const hooklab::Model* m) {
    hooklab::PatchOptions p;
    p.clean = string_field(o, "clean", "patch");
    p.corrupted = string_field(o, "corrupted", "patch");
    p.answer = string_field(o, "answer", "patch");
    if (o.contains("metric")) p.metric = string_field(o, "metric", "patch");
    p.wrong = string_field(o, "wrong", "patch", p.metric == "logit_diff");
    p.hook = o.contains("hook") ? string_field(o, "hook", "patch") : std::string("resid_pre");
    p.by = string_field(o, "by", "patch", false);
    p.interventions = typed_interventions(interventions, m);
    return p;
}

// options: {"prompt", "topk", "logits", "capture": [...], "logit_lens"} (fn: run, runJSON
// or compare); interventions: see typed_interventions.
hooklab::RunOptions parse_options(const std::string& options, const std::string& interventions, const std::string& fn,
                                  const hooklab::Model* m) {
    hooklab::RunOptions opt;
    const json o = options_json(options, fn);
    opt.prompt = string_field(o, "prompt", fn);
    if (o.contains("topk")) {
        if (!o["topk"].is_number_integer() || o["topk"].get<int64_t>() < 0 || o["topk"].get<int64_t>() > (1 << 30))
            throw hooklab::Error("topk must be a non-negative integer");
        opt.topk = o["topk"].get<int>();
    }
    if (o.contains("logits")) {
        // true: the last position's; "all": every position's, and the per-token loss.
        if (o["logits"] == "all") opt.logits = opt.all_logits = true;
        else if (o["logits"].is_boolean()) opt.logits = o["logits"].get<bool>();
        else throw hooklab::Error(fn + ": \"logits\" must be true, false or \"all\"");
    }
    if (o.contains("capture")) {
        const json& c = o["capture"];
        if (!c.is_array()) throw hooklab::Error("capture: expected hook names");
        for (const json& h : c) {
            if (!h.is_string()) throw hooklab::Error("capture: expected hook names");
            opt.capture.push_back(h.get<std::string>());
        }
    }
    if (o.contains("logit_lens")) opt.logit_lens = bool_field(o, "logit_lens", fn);
    opt.interventions = typed_interventions(interventions, m);
    return opt;
}

// hooklab heads' options: {"prompt"} or {"repeat", "seed" (decimal text: 64 bits exact)},
// optional "pattern" (a block).
hooklab::HeadsOptions heads_options(const std::string& options, const std::string& interventions, const hooklab::Model& m,
                                    const std::string& fn) {
    hooklab::HeadsOptions opt;
    const json o = options_json(options, fn);
    if (o.contains("prompt")) opt.prompt = string_field(o, "prompt", fn);
    if (o.contains("repeat")) {
        if (!o["repeat"].is_number_integer()) throw hooklab::Error(fn + ": repeat must be a positive integer, got " + o["repeat"].dump());
        opt.repeat = o["repeat"].get<long long>();
    }
    if (o.contains("seed")) opt.seed = hooklab::parse_seed(string_field(o, "seed", fn));
    if (o.contains("pattern")) {
        if (!o["pattern"].is_number_integer()) throw hooklab::Error(fn + ": pattern must be a block number, got " + o["pattern"].dump());
        opt.pattern_layer = o["pattern"].get<int>();
    }
    opt.interventions = typed_interventions(interventions, &m);
    return opt;
}

class Engine {
public:
    // Step 1: the three small files, the weight format and the safetensors file size
    // (0 when unknown). The model's memory need is checked here, before any allocation.
    val begin(const std::string& config, const std::string& vocab, const std::string& merges, bool f16, double file_size) {
        return guard([&] {
            reset();
            if (!(file_size >= 0 && file_size < 9007199254740992.0))
                throw hooklab::Error("model.safetensors: impossible file size " + std::to_string(file_size));
            const hooklab::Config cfg = hooklab::parse_config(config);
            hooklab::Tokenizer tok = hooklab::Tokenizer::from_files(vocab, merges);
            hooklab::check_tokenizer_fits(cfg, tok);
            // What is left of the 4 GB address space (less 32 MB for the tokenizer, the
            // staging buffer and the run's own small allocations).
            const uint64_t used = reinterpret_cast<uintptr_t>(sbrk(0));
            const uint64_t max = emscripten_get_heap_max();
            const uint64_t reserve = 32ull << 20;
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
            comparer_.clear();
            return val(true);
        });
    }

    // TransformerLens's weight processing (processing.h) on the loaded weights, once, right
    // after finish() (HookLab.load's {process}).
    val process(bool fold_ln, bool center_writing_weights, bool center_unembed, bool fold_value_biases) {
        return guard([&] {
            if (!model_) throw hooklab::Error("no model loaded");
            patcher_.reset();
            generator_.reset();
            hooklab::process_weights(model_->gpt2, {fold_ln, center_writing_weights, center_unembed, fold_value_biases});
            comparer_.clear();
            return val(true);
        });
    }

    // The run JSON as text, exactly what the native CLI prints.
    val runJSON(const std::string& options, const std::string& interventions, int indent) {
        return guard([&] {
            return val(hooklab::dump_json(hooklab::run(model(), parse_options(options, interventions, "runJSON", model_.get())), indent));
        });
    }

    // One run: {json: the run JSON's text without its bulk arrays, logits?: Float32Array,
    // captures: [{name, shape, data: Float32Array}]}.
    val run(const std::string& options, const std::string& interventions) {
        return guard([&] {
            const hooklab::RunOptions opt = parse_options(options, interventions, "run", model_.get());
            return result(hooklab::run_model(model(), opt), opt);
        });
    }

    // Baseline (no interventions) against intervened on one prompt, compared in the engine
    // (hooklab::Comparer: what it keeps and reuses): {baseline?: as run() (absent when the
    // one last returned is still the one), intervened?: (absent without interventions: the
    // baseline is the intervened run), reused: the intervened run was a kept one, firstBlock:
    // the first block it computed (the blocks before came from a kept forward), compare:
    // JSON text of {kl, top: [{id, token, pBase, pInt, delta}], lens?: [{layer, kl, topBase,
    // topInt}]}}.
    val compare(const std::string& options, const std::string& interventions) {
        return guard([&] {
            const hooklab::RunOptions opt = parse_options(options, interventions, "compare", model_.get());
            const hooklab::Comparer::Step s = comparer_.compare(model(), opt);
            val out = val::object();
            const bool new_baseline = s.baseline_id != sent_baseline_;
            if (new_baseline) out.set("baseline", result(*s.baseline, opt));
            if (s.intervened != s.baseline) out.set("intervened", result(*s.intervened, opt));
            out.set("reused", s.reused);
            out.set("firstBlock", s.first_block);
            out.set("compare", hooklab::dump_json(hooklab::comparison_json(model(), s.comparison, opt.logit_lens)));
            // Only now: a call that failed after a new baseline was made must not leave JS
            // with the old one.
            if (new_baseline) sent_baseline_ = s.baseline_id;
            return out;
        });
    }

    // hooklab heads. options: {"prompt"} or {"repeat", "seed" (decimal text: 64 bits exact)},
    // optional "pattern" (a block); interventions as in run(). Returns {json: the CLI's heads
    // JSON without the pattern's values (pattern: {layer, shape} only), pattern?: Float32Array}:
    // the pattern is H x T x T floats, too many for JSON text.
    val heads(const std::string& options, const std::string& interventions) {
        return guard([&] {
            const hooklab::HeadsResult r = heads_result(options, interventions, "heads");
            val out = val::object();
            out.set("json", hooklab::dump_json(hooklab::heads_json(model(), r, false)));
            if (r.pattern_layer) out.set("pattern", f32(r.pattern));
            return out;
        });
    }

    // The same as text, exactly what the native CLI prints.
    val headsJSON(const std::string& options, const std::string& interventions, int indent) {
        return guard([&] {
            return val(hooklab::dump_json(hooklab::heads_json(model(), heads_result(options, interventions, "headsJSON")), indent));
        });
    }

    val tokenize(const std::string& text) {
        return guard([&] { return val(hooklab::dump_json(json(model().tokenizer.encode(text)))); });
    }

    // ids: JSON array. Returns the text (invalid UTF-8 shown as U+FFFD).
    val decode(const std::string& ids_json) {
        return guard([&] {
            const hooklab::Model& m = model();
            json list;
            try {
                list = json::parse(ids_json);
            } catch (const json::exception&) {
                throw hooklab::Error("decode: the token ids are not valid JSON");
            }
            if (!list.is_array()) throw hooklab::Error("decode: expected an array of token ids");
            std::vector<int> ids;
            for (const json& v : list) {
                if (!v.is_number_integer()) throw hooklab::Error("decode: token ids are integers, got " + v.dump());
                const int64_t id = v.get<int64_t>();
                if (id < 0 || id >= m.tokenizer.vocab_size())
                    throw hooklab::Error("token id " + std::to_string(id) + " is outside the vocabulary");
                ids.push_back(static_cast<int>(id));
            }
            return val(hooklab::utf8_lossy(m.tokenizer.decode(ids)));
        });
    }

    // The floats the next call's interventions refer to by index: an array of Float32Arrays
    // (each copied into the heap at once, no JSON).
    void setTensors(val list) {
        hooklab::InterventionTensors t;
        const int n = list["length"].as<int>();
        for (int i = 0; i < n; ++i)
            t.push_back(std::make_shared<const std::vector<float>>(emscripten::convertJSArrayToNumberVector<float>(list[i])));
        pending_tensors = std::move(t);
    }

    // A weight by TransformerLens's name: {name, shape, data: Float32Array (a copy)}.
    val weight(const std::string& name) {
        return guard([&] {
            const hooklab::WeightTensor w = hooklab::weight_tensor(model().gpt2, name);
            val out = val::object();
            out.set("name", w.name);
            val shape = val::array();
            for (int d : w.shape) shape.call<void>("push", d);
            out.set("shape", shape);
            out.set("data", f32(w.data));
            return out;
        });
    }

    // Every name weight() takes, as JSON text.
    val weightNames() { return guard([&] { return val(hooklab::dump_json(json(hooklab::weight_names(model().gpt2.config)))); }); }

    val config() { return guard([&] { return val(hooklab::dump_json(hooklab::config_json(model().gpt2.config))); }); }

    // The hook table for this model and a prompt of T tokens: JSON text of
    // [{name, per_block, dims, shape, axes: {positions, heads, features}}] (-1: no such axis).
    val hooks(int T) {
        return guard([&] {
            return val(hooklab::dump_json(hooklab::hook_table_json(model().gpt2.config, T)));
        });
    }

    // A bare forward (no hooks) on token ids, for benchmarks: returns milliseconds.
    val forward(const std::string& ids_json, bool all_logits) {
        return guard([&] {
            const auto ids = json::parse(ids_json).get<std::vector<int>>();
            const auto t0 = std::chrono::steady_clock::now();
            model().gpt2.forward(ids, nullptr, all_logits);
            return val(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        });
    }

    // `iters` bare forwards with the stage timer on (apart from forward's: its clock reads
    // stay out of those times): JSON of ms per pass, as the native `hooklab bench` reports.
    val forwardStages(const std::string& ids_json, bool all_logits, int iters) {
        return guard([&] {
            const auto ids = json::parse(ids_json).get<std::vector<int>>();
            hooklab::StageTimes st;
            for (int i = 0; i < iters; ++i) model().gpt2.forward(ids, nullptr, all_logits, &st);
            const double n = std::max(1, st.passes);
            return val(hooklab::dump_json(json{{"embed", st.embed / n}, {"attention", st.attention / n}, {"mlp", st.mlp / n},
                                               {"unembed", st.unembed / n}, {"gemm", st.gemm / n}, {"attention_heads", st.heads / n},
                                               {"lm_head", st.lm_head / n}, {"layernorm", st.layernorm / n}, {"gelu", st.gelu / n}}));
        });
    }

    // ---- activation patching and direct logit attribution (issue #11). A sweep runs one
    // block per call (patchLayer) so that JS can report progress and stop between blocks.
    // options: {"clean", "corrupted", "answer", "wrong", "hook", "by"}; interventions as in run().
    val patchBegin(const std::string& options, const std::string& interventions) {
        return guard([&] {
            patcher_.reset();
            const hooklab::PatchOptions p = patch_options(options_json(options, "patchBegin"), interventions, model_.get());
            patcher_ = std::make_unique<hooklab::Patcher>(model(), p);
            return val(hooklab::dump_json(hooklab::patch_header_json(model(), patcher_->header())));
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
            const std::string out = hooklab::dump_json(hooklab::patch_json(model(), patcher_->result()), indent);
            patcher_.reset();
            return val(out);
        });
    }

    void patchCancel() { patcher_.reset(); }

    // options: {"prompt", "answer", "wrong"}.
    val attribute(const std::string& options, const std::string& interventions, int indent) {
        return guard([&] {
            const json o = options_json(options, "attribute");
            hooklab::AttributeOptions a;
            a.prompt = string_field(o, "prompt", "attribute");
            a.answer = string_field(o, "answer", "attribute");
            a.wrong = string_field(o, "wrong", "attribute");
            a.interventions = typed_interventions(interventions, model_.get());
            return val(hooklab::dump_json(hooklab::attribute_json(model(), hooklab::attribute(model(), a)), indent));
        });
    }

    // ---- gradients and attribution patching (issue #26)

    // dLD/d(activation) at each hook. options: {"prompt", "answer", "wrong", "hooks": [full hook
    // names]}; interventions as in run(). Returns {json: the CLI's gradients JSON without the
    // gradients' values (each {"shape"} only), gradients: [{name, data: Float32Array}] in the
    // order asked}.
    val gradients(const std::string& options, const std::string& interventions) {
        return guard([&] {
            const json o = options_json(options, "gradients");
            hooklab::GradientsOptions g;
            g.prompt = string_field(o, "prompt", "gradients");
            g.answer = string_field(o, "answer", "gradients");
            g.wrong = string_field(o, "wrong", "gradients");
            if (o.contains("hooks")) {
                const json& h = o["hooks"];
                if (!h.is_array()) throw hooklab::Error("gradients: hooks: expected hook names");
                for (const json& name : h) {
                    if (!name.is_string()) throw hooklab::Error("gradients: hooks: expected hook names");
                    g.hooks.push_back(name.get<std::string>());
                }
            }
            g.interventions = typed_interventions(interventions, model_.get());
            const auto t0 = std::chrono::steady_clock::now();
            const hooklab::GradientsResult r = hooklab::gradients(model(), g);
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            val out = val::object();
            out.set("json", hooklab::dump_json(hooklab::gradients_report(model(), r, ms, false)));
            val list = val::array();
            for (const hooklab::HookGradient& hg : r.gradients) {
                val e = val::object();
                e.set("name", hg.name);
                e.set("data", f32(hg.data));
                list.call<void>("push", e);
            }
            out.set("gradients", list);
            return out;
        });
    }

    // patch --method attribution: options as patchBegin's. Returns the JSON text.
    val attributionPatch(const std::string& options, const std::string& interventions, int indent) {
        return guard([&] {
            const hooklab::PatchOptions p = patch_options(options_json(options, "attributionPatch"), interventions, model_.get());
            return val(hooklab::dump_json(hooklab::patch_json(model(), hooklab::attribution_patch(model(), p)), indent));
        });
    }

    // ---- generation (issue #12): one step per call (generateStep) so that JS can
    // stream tokens and stop between them. Several variants of the prompt run together
    // (one forward per step, a segment each): `variants` is a JSON array with, per variant,
    // its array of intervention texts. Numbers arrive as doubles so that NaN reaches the
    // engine's checks; the seed as decimal text (64 bits do not fit a JS number).
    val generateBegin(const std::string& prompt, double max_new_tokens, double temperature, double top_k, double top_p,
                      const std::string& seed, const std::string& variants) {
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
            std::vector<hooklab::GenerateOptions> all;
            json list;
            try {
                list = json::parse(variants);
            } catch (const json::exception&) {
                throw hooklab::Error("generate: the variants are not valid JSON");
            }
            if (!list.is_array()) throw hooklab::Error("generate: expected an array of variants");
            std::vector<std::vector<json>> lists;
            for (const auto& texts : list) lists.push_back(intervention_list(texts));
            const hooklab::InterventionTensors tensors = std::move(pending_tensors);
            pending_tensors.clear();
            for (const auto& l : lists) {
                g.interventions = hooklab::parse_interventions(l, model().gpt2.config, &tensors);
                all.push_back(g);
            }
            generator_ = std::make_unique<hooklab::GeneratorGroup>(model(), all);
            return val(generator_->done());
        });
    }

    // JSON text: per variant, its next token's {"id", "token", "prob"}, or null once it stopped.
    val generateStep() {
        return guard([&] {
            if (!generator_) throw hooklab::Error("no generation in progress");
            return val(hooklab::dump_json(hooklab::generate_steps_json(model(), generator_->step())));
        });
    }

    bool generateDone() { return !generator_ || generator_->done(); }

    // JSON text: per variant, its generate JSON.
    val generateResult(int indent) {
        return guard([&] {
            if (!generator_) throw hooklab::Error("no generation in progress");
            nlohmann::json out = nlohmann::json::array();
            for (int i = 0; i < generator_->size(); ++i) out.push_back(hooklab::generate_json(model(), generator_->result(i)));
            generator_.reset();
            return val(hooklab::dump_json(out, indent));
        });
    }

    void generateCancel() { generator_.reset(); }

    double flops(int T, bool all_logits) { return model_ ? model_->gpt2.flops_per_forward(T, all_logits) : 0; }
    // The weights' bytes in memory (F32 or F16 as loaded), not the file's size.
    double weightBytes() { return model_ ? static_cast<double>(model_->gpt2.weights.bytes()) : 0; }
    void dispose() { reset(); model_.reset(); comparer_.clear(); }

private:
    const hooklab::Model& model() const { return loaded(model_.get()); }
    hooklab::HeadsResult heads_result(const std::string& options, const std::string& interventions, const std::string& fn) const {
        return hooklab::heads(model(), heads_options(options, interventions, model(), fn));
    }
    void reset() {
        patcher_.reset();  // it refers to the model
        generator_.reset();  // so does it
        stream_.reset();
        pending_.reset();
        std::vector<uint8_t>().swap(staging_);
    }
    val result(const hooklab::RunResult& r, const hooklab::RunOptions& opt) const {
        hooklab::RunOptions small = opt;  // the report without its bulk arrays
        small.logits = false;
        small.capture.clear();
        val out = val::object();
        out.set("json", hooklab::dump_json(hooklab::run_json(model(), r, small)));
        if (opt.logits) out.set("logits", f32(r.logits));
        if (opt.all_logits) out.set("logitsAll", f32(r.all_logits));
        val caps = val::array();
        for (const hooklab::Capture& c : r.captures) {
            val e = val::object();
            e.set("name", c.name);
            val shape = val::array();
            for (int d : c.shape) shape.call<void>("push", d);
            e.set("shape", shape);
            e.set("data", f32(c.data));
            caps.call<void>("push", e);
        }
        out.set("captures", caps);
        return out;
    }

    std::unique_ptr<hooklab::SafeTensorsStream> stream_;
    std::unique_ptr<hooklab::Model> pending_, model_;
    std::unique_ptr<hooklab::Patcher> patcher_;
    hooklab::Comparer comparer_;
    uint64_t sent_baseline_ = 0;  // the Comparer's baseline_id last returned to JS
    std::unique_ptr<hooklab::GeneratorGroup> generator_;
    std::vector<uint8_t> staging_;
};

std::string kernel() { return hooklab::kernel_name(); }
bool json_valid(const std::string& text) { return json::accept(text); }

}  // namespace

EMSCRIPTEN_BINDINGS(hooklab) {
    emscripten::class_<Engine>("Engine")
        .constructor<>()
        .function("begin", &Engine::begin)
        .function("buffer", &Engine::buffer)
        .function("feed", &Engine::feed)
        .function("finish", &Engine::finish)
        .function("process", &Engine::process)
        .function("run", &Engine::run)
        .function("heads", &Engine::heads)
        .function("headsJSON", &Engine::headsJSON)
        .function("runJSON", &Engine::runJSON)
        .function("compare", &Engine::compare)
        .function("tokenize", &Engine::tokenize)
        .function("decode", &Engine::decode)
        .function("config", &Engine::config)
        .function("hooks", &Engine::hooks)
        .function("forward", &Engine::forward)
        .function("forwardStages", &Engine::forwardStages)
        .function("patchBegin", &Engine::patchBegin)
        .function("patchLayer", &Engine::patchLayer)
        .function("patchResult", &Engine::patchResult)
        .function("patchCancel", &Engine::patchCancel)
        .function("attribute", &Engine::attribute)
        .function("gradients", &Engine::gradients)
        .function("attributionPatch", &Engine::attributionPatch)
        .function("generateBegin", &Engine::generateBegin)
        .function("generateStep", &Engine::generateStep)
        .function("generateDone", &Engine::generateDone)
        .function("generateResult", &Engine::generateResult)
        .function("generateCancel", &Engine::generateCancel)
        .function("flops", &Engine::flops)
        .function("weightBytes", &Engine::weightBytes)
        .function("setTensors", &Engine::setTensors)
        .function("weight", &Engine::weight)
        .function("weightNames", &Engine::weightNames)
        .function("dispose", &Engine::dispose);
    emscripten::function("kernel", &kernel);
    emscripten::function("jsonValid", &json_valid);
}
