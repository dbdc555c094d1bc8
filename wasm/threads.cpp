// The threaded build's extra entry points (hooklab-mt only): the engine's thread pool,
// sized by the JS API right after the module (and its pre-started workers) is ready.
#include <emscripten/bind.h>

#include <string>

#include "hooklab/error.h"
#include "hooklab/parallel.h"

namespace {

// "" on success, else the reason (a bad count, or fewer pre-started workers than asked).
std::string set_threads(int n) {
    try {
        hooklab::set_threads(n);
        return "";
    } catch (const hooklab::Error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("cannot start ") + std::to_string(n) + " threads: " + e.what();
    }
}

}  // namespace

EMSCRIPTEN_BINDINGS(hooklab_threads) {
    emscripten::function("setThreads", &set_threads);
    emscripten::function("threads", &hooklab::threads);
}
