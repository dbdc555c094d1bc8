// hooklab: the native command line. One JSON object on stdout, or one line on stderr
// and a non-zero exit; never half a result.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "hooklab/backward.h"
#include "hooklab/error.h"
#include "hooklab/json_io.h"
#include "hooklab/heads.h"
#include "hooklab/generate.h"
#include "hooklab/patching.h"
#include "hooklab/parallel.h"
#include "hooklab/processing.h"
#include "hooklab/run.h"

namespace {

const char* kUsage =
    "usage:\n"
    "  hooklab run --model DIR --prompt TEXT [--intervene JSON]... [--topk K] [--logits] [--all-logits] [--capture HOOK]... [--f16] [--pretty] [--threads N]\n"
    "    --all-logits: every position's logits, logits_all [T][V] (and logits_last), and token_loss [T-1]\n"
    "  hooklab tokenize --model DIR --text TEXT [--f16]\n"
    "  hooklab heads --model DIR (--prompt TEXT | --repeat R --seed S) [--intervene JSON]... [--pattern L] [--f16] [--pretty]\n"
    "  hooklab patch --model DIR --clean TEXT --corrupted TEXT --answer TOKEN --wrong TOKEN\n"
    "                --hook resid_pre|attn_out|mlp_out|z [--by position|head] [--method exact|attribution] [--intervene JSON]...\n"
    "                [--metric logit_diff|prob|logprob|loss] [--f16] [--pretty] [--threads N]\n"
    "    --method attribution: the first-order estimate from one backward (default exact: the sweep)\n"
    "    --metric: what each patched run measures (default logit_diff; the others, of the answer, need no --wrong)\n"
    "  hooklab attribute --model DIR --prompt TEXT --answer TOKEN --wrong TOKEN [--intervene JSON]... [--f16] [--pretty] [--threads N]\n"
    "  hooklab gradients --model DIR --prompt TEXT --answer TOKEN --wrong TOKEN --hook NAME [--hook NAME]...\n"
    "                    [--intervene JSON]... [--f16] [--pretty] [--threads N]\n"
    "    dLD/d(activation) at each hook (full names: blocks.3.hook_resid_pre), LD = logits[-1, answer] - logits[-1, wrong]\n"
    "    TOKEN: text that is exactly one token (\" Mary\") or #ID\n"
    "  hooklab generate --model DIR --prompt TEXT --max-new-tokens N [--temperature T] [--top-k K] [--top-p P]\n"
    "                   [--seed S] [--intervene JSON]... [--compare] [--f16] [--pretty] [--threads N]\n"
    "    --compare: the baseline (no interventions) and the intervened generation together\n"
    "  hooklab bench --model DIR --prompt TEXT [--iters N] [--all-logits] [--f16] [--threads N]\n"
    "  --threads N: threads in the engine's pool (default: the hardware's, at most 8)\n"
    "  --process LIST (every command but tokenize): TransformerLens's weight processing at load, comma-separated:\n"
    "    fold_ln, center_writing_weights, center_unembed, fold_value_biases; or tl (all four, as from_pretrained)\n";

// The flags each command takes (issue #28): any other flag, a typo or one of another
// command ("run --top-k", "generate --topk"), is an error, never silently ignored. The node
// CLI (wasm/js/cli.js, FLAGS) has the same table and the same messages, byte for byte.
const std::vector<std::pair<std::string, std::vector<std::string>>> kFlags = {
    {"run", {"--model", "--prompt", "--intervene", "--topk", "--logits", "--all-logits", "--capture", "--process", "--f16", "--pretty", "--threads"}},
    {"tokenize", {"--model", "--text", "--f16"}},
    {"heads", {"--model", "--prompt", "--repeat", "--seed", "--intervene", "--pattern", "--process", "--f16", "--pretty"}},
    {"patch", {"--model", "--clean", "--corrupted", "--answer", "--wrong", "--hook", "--by", "--method", "--metric", "--intervene",
               "--process", "--f16", "--pretty", "--threads"}},
    {"attribute", {"--model", "--prompt", "--answer", "--wrong", "--intervene", "--process", "--f16", "--pretty", "--threads"}},
    {"gradients", {"--model", "--prompt", "--answer", "--wrong", "--hook", "--intervene", "--process", "--f16", "--pretty", "--threads"}},
    {"generate", {"--model", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed", "--intervene",
                  "--compare", "--process", "--f16", "--pretty", "--threads"}},
    {"bench", {"--model", "--prompt", "--iters", "--all-logits", "--process", "--f16", "--threads"}},
};

const std::vector<std::string>* flags_of(const std::string& cmd) {
    for (const auto& [c, flags] : kFlags)
        if (c == cmd) return &flags;
    return nullptr;
}

// Throws unless `a` is one of cmd's flags: "unknown option A for hooklab CMD (did you mean
// --X? | an option of hooklab C); CMD takes ... (see hooklab --help)".
void check_flag(const std::string& cmd, const std::string& a) {
    const std::vector<std::string>& mine = *flags_of(cmd);
    if (std::find(mine.begin(), mine.end(), a) != mine.end()) return;
    std::string msg = "unknown option " + a + " for hooklab " + cmd;
    std::vector<std::string> names;
    for (const std::string& f : mine) names.push_back(f.substr(2));
    const size_t start = a.find_first_not_of('-');
    const std::string near = start == std::string::npos || start == 0 ? "" : hooklab::closest_key(a.substr(start), names);
    std::string others;
    for (const auto& [c, flags] : kFlags)
        if (c != cmd && std::find(flags.begin(), flags.end(), a) != flags.end()) others += (others.empty() ? "" : ", ") + c;
    // Another command's flag is named as such, unless it is one of cmd's up to case, '_', '-'.
    auto folded = [](std::string s) {
        std::string o;
        for (char ch : s)
            if (ch != '-' && ch != '_') o += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        return o;
    };
    if (!near.empty() && (others.empty() || folded(near) == folded(a))) msg += " (did you mean --" + near + "?)";
    else if (!others.empty()) msg += " (an option of hooklab " + others + ")";
    std::string list;
    for (const std::string& f : mine) list += (list.empty() ? "" : ", ") + f;
    throw hooklab::Error(msg + "; " + cmd + " takes " + list + " (see hooklab --help)");
}

// One --intervene value: the intervention as JSON (parsed once the model is loaded:
// hooklab::parse_interventions checks it against the model's shape).
nlohmann::json intervention_arg(const std::string& v) {
    try {
        return nlohmann::json::parse(v);
    } catch (const nlohmann::json::exception&) {
        throw hooklab::Error("--intervene: not valid JSON: " + v);
    }
}

// heads: every head's previous-token, first-token and induction scores. Its own flags
// (--seed here draws tokens, not noise).
int heads_main(int argc, char** argv) {
    std::string model_dir;
    bool pretty = false, f16 = false;
    hooklab::Processing processing;
    hooklab::HeadsOptions opt;
    std::vector<nlohmann::json> interventions;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw hooklab::Error("option " + a + " needs a value");
            return argv[++i];
        };
        check_flag("heads", a);
        if (a == "--model") model_dir = value();
        else if (a == "--prompt") opt.prompt = value();
        else if (a == "--repeat") {
            const std::string v = value();
            if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
                throw hooklab::Error("option --repeat needs a positive integer, got \"" + v + "\"");
            opt.repeat = std::stoll(v);
        }
        else if (a == "--seed") opt.seed = hooklab::parse_seed(value());
        else if (a == "--pattern") {
            const std::string v = value();
            if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
                throw hooklab::Error("option --pattern needs a block number, got \"" + v + "\"");
            opt.pattern_layer = std::stoi(v);
        }
        else if (a == "--intervene") interventions.push_back(intervention_arg(value()));
        else if (a == "--f16") f16 = true;
        else if (a == "--process") processing = hooklab::parse_processing(value());
        else if (a == "--pretty") pretty = true;
        else throw hooklab::Error("unknown option " + a + " (see hooklab --help)");
    }
    if (model_dir.empty()) throw hooklab::Error("--model DIR is required");
    hooklab::Model m = hooklab::load_model_dir(model_dir, f16);
    hooklab::process_weights(m.gpt2, processing);
    opt.interventions = hooklab::parse_interventions(interventions, m.gpt2.config);
    const std::string out = hooklab::dump_json(hooklab::heads_json(m, hooklab::heads(m, opt)), pretty ? 2 : -1);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
}

int run_main(int argc, char** argv) {
    if (argc < 2) throw hooklab::Error("missing command (see hooklab --help)");
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (!flags_of(cmd)) throw hooklab::Error("unknown command \"" + cmd + "\" (see hooklab --help)");
    if (cmd == "heads") return heads_main(argc, argv);
    std::string model_dir, prompt;
    bool have_prompt = false, pretty = false, f16 = false, all_logits = false;
    hooklab::Processing processing;
    int iters = 10;
    int threads = hooklab::default_threads();
    hooklab::RunOptions opt;
    hooklab::PatchOptions popt;
    hooklab::GenerateOptions gopt;
    bool have_max_new = false, compare = false;
    bool have_clean = false, have_corrupted = false, have_answer = false, have_wrong = false, have_hook = false;
    std::vector<std::string> hooks;  // gradients: every --hook, in order
    std::string method = "exact";    // patch
    std::vector<nlohmann::json> interventions;  // every --intervene, in order
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw hooklab::Error("option " + a + " needs a value");
            return argv[++i];
        };
        auto int_value = [&]() {
            const std::string v = value();
            if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
                throw hooklab::Error("option " + a + " needs a non-negative integer, got \"" + v + "\"");
            return std::stoi(v);
        };
        auto number_value = [&]() {
            const std::string v = value();
            char* end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            if (v.empty() || *end != '\0') throw hooklab::Error("option " + a + " needs a number, got \"" + v + "\"");
            return x;
        };
        auto seed_value = [&]() {
            const std::string v = value();
            errno = 0;
            const unsigned long long x = std::strtoull(v.c_str(), nullptr, 10);
            if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos || errno == ERANGE)
                throw hooklab::Error("option " + a + " needs an integer in [0, 2^64), got \"" + v + "\"");
            return static_cast<uint64_t>(x);
        };
        check_flag(cmd, a);
        if (a == "--model") model_dir = value();
        else if (a == "--prompt" || a == "--text") { prompt = value(); have_prompt = true; }
        else if (a == "--intervene") interventions.push_back(intervention_arg(value()));
        else if (a == "--topk") opt.topk = int_value();
        else if (a == "--logits") opt.logits = true;
        else if (a == "--capture") opt.capture.push_back(value());
        else if (a == "--f16") f16 = true;
        else if (a == "--process") processing = hooklab::parse_processing(value());
        else if (a == "--pretty") pretty = true;
        else if (a == "--iters") iters = std::max(1, int_value());
        else if (a == "--all-logits") all_logits = true;
        else if (a == "--clean") { popt.clean = value(); have_clean = true; }
        else if (a == "--corrupted") { popt.corrupted = value(); have_corrupted = true; }
        else if (a == "--answer") { popt.answer = value(); have_answer = true; }
        else if (a == "--wrong") { popt.wrong = value(); have_wrong = true; }
        else if (a == "--hook") { popt.hook = value(); hooks.push_back(popt.hook); have_hook = true; }
        else if (a == "--by") popt.by = value();
        else if (a == "--metric") popt.metric = value();
        else if (a == "--method") {
            method = value();
            if (method != "exact" && method != "attribution")
                throw hooklab::Error("option --method needs exact or attribution, got \"" + method + "\"");
        }
        // generate
        else if (a == "--max-new-tokens") { gopt.max_new_tokens = int_value(); have_max_new = true; }
        else if (a == "--temperature") gopt.sampler.temperature = number_value();
        else if (a == "--top-k") gopt.sampler.top_k = int_value();
        else if (a == "--top-p") gopt.sampler.top_p = number_value();
        else if (a == "--seed") gopt.sampler.seed = seed_value();
        else if (a == "--compare") compare = true;
        else if (a == "--threads") threads = int_value();
        else throw hooklab::Error("unknown option " + a + " (see hooklab --help)");
    }
    if (model_dir.empty()) throw hooklab::Error("--model DIR is required");
    if (cmd == "patch") {
        if (!have_clean || !have_corrupted) throw hooklab::Error("--clean and --corrupted are required");
        if (!have_hook) throw hooklab::Error("--hook resid_pre|attn_out|mlp_out|z is required");
    } else if (!have_prompt) {
        throw hooklab::Error(cmd == "tokenize" ? "--text is required" : "--prompt is required");
    }
    const bool wrong_optional = cmd == "patch" && popt.metric != "logit_diff";
    if ((cmd == "patch" || cmd == "attribute" || cmd == "gradients") && (!have_answer || (!have_wrong && !wrong_optional)))
        throw hooklab::Error("--answer and --wrong are required (one token each: text or #ID)");
    if (cmd == "gradients" && !have_hook)
        throw hooklab::Error("--hook NAME is required (a full hook name, e.g. blocks.3.hook_resid_pre; several: --hook A --hook B)");
    if (cmd == "generate") {
        // Checked before the model loads: a bad value costs no wait.
        if (!have_max_new) throw hooklab::Error("--max-new-tokens N is required");
        if (gopt.max_new_tokens < 1) throw hooklab::Error("--max-new-tokens must be at least 1");
        hooklab::validate_sampler(gopt.sampler);
    }
    hooklab::set_threads(threads);
    hooklab::Model m = hooklab::load_model_dir(model_dir, f16);
    hooklab::process_weights(m.gpt2, processing);
    opt.interventions = hooklab::parse_interventions(interventions, m.gpt2.config);

    std::string out;
    if (cmd == "run") {
        opt.prompt = prompt;
        opt.all_logits = all_logits;
        if (all_logits) opt.logits = true;
        out = hooklab::dump_json(hooklab::run(m, opt), pretty ? 2 : -1);
    } else if (cmd == "patch") {
        popt.interventions = opt.interventions;
        const hooklab::PatchResult r = method == "attribution" ? hooklab::attribution_patch(m, popt) : hooklab::patch(m, popt);
        out = hooklab::dump_json(hooklab::patch_json(m, r), pretty ? 2 : -1);
    } else if (cmd == "gradients") {
        hooklab::GradientsOptions gro;
        gro.prompt = prompt;
        gro.answer = popt.answer;
        gro.wrong = popt.wrong;
        gro.hooks = hooks;
        gro.interventions = opt.interventions;
        const auto t0 = std::chrono::steady_clock::now();
        const hooklab::GradientsResult r = hooklab::gradients(m, gro);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        out = hooklab::dump_json(hooklab::gradients_report(m, r, ms), pretty ? 2 : -1);
    } else if (cmd == "attribute") {
        hooklab::AttributeOptions aopt;
        aopt.prompt = prompt;
        aopt.answer = popt.answer;
        aopt.wrong = popt.wrong;
        aopt.interventions = opt.interventions;
        out = hooklab::dump_json(hooklab::attribute_json(m, hooklab::attribute(m, aopt)), pretty ? 2 : -1);
    } else if (cmd == "generate") {
        gopt.prompt = prompt;
        gopt.interventions = opt.interventions;
        out = hooklab::dump_json(compare ? hooklab::generate_compare_json(m, hooklab::generate_compare(m, gopt))
                                         : hooklab::generate_json(m, hooklab::generate(m, gopt)),
                                 pretty ? 2 : -1);
    } else if (cmd == "tokenize") {
        const auto ids = m.tokenizer.encode(prompt);
        out = hooklab::dump_json(nlohmann::json(ids));
    } else if (cmd == "bench") {
        // Bare forward, no hooks: what the kernels and the pass cost.
        const auto ids = m.tokenizer.encode(prompt);
        m.gpt2.forward(ids, nullptr, all_logits);  // warm-up
        std::vector<double> ms;
        for (int i = 0; i < iters; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            m.gpt2.forward(ids, nullptr, all_logits);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        // Where a pass's time goes, from separate passes: the stage timer's clock reads are
        // kept out of the timed ones above.
        hooklab::StageTimes st;
        for (int i = 0; i < iters; ++i) m.gpt2.forward(ids, nullptr, all_logits, &st);
        const double n = std::max(1, st.passes);
        const nlohmann::json stages = {{"embed", st.embed / n}, {"attention", st.attention / n}, {"mlp", st.mlp / n},
                                       {"unembed", st.unembed / n}, {"gemm", st.gemm / n},
                                       {"attention_heads", st.heads / n},
                                       {"not_gemm", (st.embed + st.attention + st.mlp + st.unembed - st.gemm) / n}};
        const double flops = m.gpt2.flops_per_forward(static_cast<int>(ids.size()), all_logits);
        out = hooklab::dump_json({{"tokens", ids.size()}, {"iters", iters}, {"all_logits", all_logits}, {"f16", f16},
                                  {"kernel", hooklab::kernel_name()}, {"threads", hooklab::threads()}, {"ms_min", ms.front()}, {"ms_median", ms[ms.size() / 2]},
                                  {"gflops_at_median", flops / (ms[ms.size() / 2] * 1e6)},
                                  {"weight_bytes", m.gpt2.weights.bytes()}, {"stages_ms_per_pass", stages}});
    } else {
        throw hooklab::Error("unknown command \"" + cmd + "\" (see hooklab --help)");
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run_main(argc, argv);
    } catch (const hooklab::Error& e) {
        std::fprintf(stderr, "hooklab: %s\n", e.what());
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "hooklab: out of memory (the model is too large for this machine?)\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hooklab: internal error: %s\n", e.what());
    }
    return 1;
}
