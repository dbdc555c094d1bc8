#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hooklab {

// GPT-2's byte-level BPE (OpenAI's encoder.py), from vocab.json and merges.txt.
// Tokens are kept as raw bytes internally; the byte-to-unicode mapping only exists
// in the files.
class Tokenizer {
public:
    Tokenizer() = default;
    static Tokenizer from_files(const std::string& vocab_json, const std::string& merges_txt);

    // Throws hooklab::Error on invalid UTF-8.
    std::vector<int> encode(const std::string& text) const;
    // Raw bytes of the tokens; may be partial UTF-8 for a single token.
    std::string decode(const std::vector<int>& ids) const;
    std::string token_bytes(int id) const;
    int vocab_size() const { return static_cast<int>(id_to_bytes_.size()); }
    // The id of the token whose bytes are exactly `bytes` ("<|endoftext|>"), or -1.
    int id_of(const std::string& bytes) const {
        const auto f = bytes_to_id_.find(bytes);
        return f == bytes_to_id_.end() ? -1 : f->second;
    }
    bool empty() const { return id_to_bytes_.empty(); }

private:
    void bpe(const std::string& piece, std::vector<int>& out) const;

    std::vector<std::string> id_to_bytes_;
    std::unordered_map<std::string, int> bytes_to_id_;
    int byte_id_[256] = {};
    // (left id, right id) -> (rank, merged id)
    std::map<std::pair<int, int>, std::pair<int, int>> merges_;
};

// Splits text into GPT-2 pre-tokens (the regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|
// ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`), as byte ranges of the input.
std::vector<std::string> pretokenize(const std::string& utf8);

// Bytes to displayable UTF-8: each invalid or truncated sequence becomes one U+FFFD, as
// Python's bytes.decode("utf-8", errors="replace") does (a token may hold half a character).
std::string utf8_lossy(const std::string& bytes);

// Throws hooklab::Error naming the byte offset of the first invalid sequence.
std::vector<uint32_t> decode_utf8(const std::string& s);

}  // namespace hooklab
