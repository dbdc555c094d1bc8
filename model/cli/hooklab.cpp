// hooklab: the native command line. One JSON object on stdout, or one line on stderr
// and a non-zero exit; never half a result.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "hooklab/error.h"
#include "hooklab/parallel.h"
#include "hooklab/run.h"

namespace {

const char* kUsage =
    "usage:\n"
    "  hooklab run --model DIR --prompt TEXT [--intervene JSON]... [--topk K] [--logits] [--capture HOOK]... [--f16] [--pretty] [--threads N]\n"
    "  hooklab tokenize --model DIR --text TEXT\n"
    "  hooklab bench --model DIR --prompt TEXT [--iters N] [--all-logits] [--f16] [--threads N]\n"
    "  --threads N: threads for the matrix products (default: the hardware's, at most 8)\n";

int run_main(int argc, char** argv) {
    if (argc < 2) throw hooklab::Error("missing command (see hooklab --help)");
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    std::string model_dir, prompt;
    bool have_prompt = false, pretty = false, f16 = false, all_logits = false;
    int iters = 10;
    int threads = hooklab::default_threads();
    hooklab::RunOptions opt;
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
        if (a == "--model") model_dir = value();
        else if (a == "--prompt" || a == "--text") { prompt = value(); have_prompt = true; }
        else if (a == "--intervene") {
            const std::string v = value();
            try {
                opt.interventions.push_back(nlohmann::json::parse(v));
            } catch (const nlohmann::json::exception&) {
                throw hooklab::Error("--intervene: not valid JSON: " + v);
            }
        }
        else if (a == "--topk") opt.topk = int_value();
        else if (a == "--logits") opt.logits = true;
        else if (a == "--capture") opt.capture.push_back(value());
        else if (a == "--f16") f16 = true;
        else if (a == "--pretty") pretty = true;
        else if (a == "--iters") iters = std::max(1, int_value());
        else if (a == "--all-logits") all_logits = true;
        else if (a == "--threads") threads = int_value();
        else throw hooklab::Error("unknown option " + a + " (see hooklab --help)");
    }
    if (model_dir.empty()) throw hooklab::Error("--model DIR is required");
    if (!have_prompt) throw hooklab::Error(cmd == "tokenize" ? "--text is required" : "--prompt is required");
    hooklab::set_threads(threads);
    const hooklab::Model m = hooklab::load_model_dir(model_dir, f16);

    std::string out;
    if (cmd == "run") {
        opt.prompt = prompt;
        out = hooklab::dump_json(hooklab::run(m, opt), pretty ? 2 : -1);
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
        const double flops = m.gpt2.flops_per_forward(static_cast<int>(ids.size()), all_logits);
        out = hooklab::dump_json({{"tokens", ids.size()}, {"iters", iters}, {"all_logits", all_logits}, {"f16", f16},
                                  {"kernel", hooklab::kernel_name()}, {"threads", hooklab::threads()}, {"ms_min", ms.front()}, {"ms_median", ms[ms.size() / 2]},
                                  {"gflops_at_median", flops / (ms[ms.size() / 2] * 1e6)},
                                  {"weight_bytes", m.gpt2.weights.bytes()}});
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
