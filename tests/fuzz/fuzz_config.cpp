// libFuzzer target: config.json parsing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hooklab/config.h"
#include "hooklab/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        hooklab::parse_config(std::string(reinterpret_cast<const char*>(data), size));
    } catch (const hooklab::Error&) {
    }
    return 0;
}
