// libFuzzer target: intervention specs (arbitrary JSON) parsed (json_io.h) against a 12x12 config,
// then applied to a hook tensor of the matching shape.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "hooklab/config.h"
#include "hooklab/error.h"
#include "hooklab/json_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const hooklab::Config cfg =
        hooklab::parse_config(R"({"n_layer":12,"n_head":12,"n_embd":96,"n_positions":16,"vocab_size":64})");
    nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
    if (j.is_discarded()) return 0;
    try {
        const hooklab::Intervention iv = hooklab::parse_intervention(j, cfg);
        const int T = 5;
        hooklab::validate_for_length(iv, cfg, T, 1);
        const std::vector<int> shape = hooklab::hook_shape(iv.hook, cfg, T);
        size_t n = 1;
        for (int d : shape) n *= d;
        std::vector<float> buf(n, 1.0f);
        hooklab::HookView v{iv.hook, iv.layer, buf.data(), shape};
        hooklab::apply_interventions({iv}, v);
    } catch (const hooklab::Error&) {
    }
    return 0;
}
