// libFuzzer target: the safetensors header parser and the whole-model loader on
// arbitrary bytes. Any input must end in a clean hooklab::Error or a loaded model.
#include <cstddef>
#include <cstdint>

#include "hooklab/config.h"
#include "hooklab/error.h"
#include "hooklab/gpt2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const hooklab::Config cfg =
        hooklab::parse_config(R"({"n_layer":1,"n_head":2,"n_embd":8,"n_positions":4,"vocab_size":16})");
    try {
        hooklab::GPT2 m = hooklab::GPT2::from_safetensors(cfg, data, size);
        m.forward({1, 2, 3}, nullptr, true);
    } catch (const hooklab::Error&) {
    }
    return 0;
}
