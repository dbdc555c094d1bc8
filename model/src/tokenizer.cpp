#include "hooklab/tokenizer.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hooklab/error.h"

namespace hooklab {

namespace {

struct CodepointRange { uint32_t lo, hi; };
#include "unicode_tables.inc"

template <size_t N>
bool in_ranges(const CodepointRange (&r)[N], uint32_t cp) {
    size_t lo = 0, hi = N;
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

enum Cls { Letter, Number, Space, Other };
Cls classify(uint32_t cp) {
    if (cp < 128) {  // fast path for ASCII
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Letter;
        if (cp >= '0' && cp <= '9') return Number;
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return Space;
        return Other;
    }
    if (in_ranges(kLetterRanges, cp)) return Letter;
    if (in_ranges(kNumberRanges, cp)) return Number;
    if (in_ranges(kSpaceRanges, cp)) return Space;
    return Other;
}

// GPT-2's printable stand-ins for bytes, as in OpenAI's bytes_to_unicode().
std::vector<uint32_t> byte_to_unicode() {
    std::vector<uint32_t> m(256, 0);
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) m[b] = direct[b] ? b : next++;
    return m;
}

// Maps a vocab/merges string (byte-level unicode) back to raw bytes.
std::string unmap_bytes(const std::string& s, const std::vector<int>& unicode_to_byte, const char* where) {
    std::string out;
    for (uint32_t cp : decode_utf8(s)) {
        if (cp >= unicode_to_byte.size() || unicode_to_byte[cp] < 0)
            throw Error(std::string(where) + ": entry \"" + s + "\" holds a character outside GPT-2's byte alphabet");
        out.push_back(static_cast<char>(unicode_to_byte[cp]));
    }
    return out;
}

}  // namespace

std::vector<uint32_t> decode_utf8(const std::string& s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned c = p[i];
        int len;
        uint32_t cp, min;
        if (c < 0x80) { out.push_back(c); ++i; continue; }
        else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else throw Error("text is not valid UTF-8 (bad byte 0x" + [&] { std::ostringstream o; o << std::hex << c; return o.str(); }() +
                         " at byte " + std::to_string(i) + ")");
        if (i + len > n) throw Error("text is not valid UTF-8 (truncated sequence at byte " + std::to_string(i) + ")");
        for (int k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80)
                throw Error("text is not valid UTF-8 (bad continuation byte at byte " + std::to_string(i + k) + ")");
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            throw Error("text is not valid UTF-8 (overlong, surrogate or out-of-range sequence at byte " + std::to_string(i) + ")");
        out.push_back(cp);
        i += len;
    }
    return out;
}

std::string utf8_lossy(const std::string& s) {
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned c = p[i];
        // Expected length and the allowed range of the second byte (Unicode Table 3-7).
        int len = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) len = 1;
        else if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        if (len == 0) { out += "\xEF\xBF\xBD"; ++i; continue; }
        int k = 1;  // bytes of the maximal valid prefix
        while (k < len && i + k < n) {
            const unsigned b = p[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
            ++k;
        }
        if (k == len) out.append(s, i, len);
        else out += "\xEF\xBF\xBD";
        i += k;
    }
    return out;
}

std::vector<std::string> pretokenize(const std::string& text) {
    const std::vector<uint32_t> cps = decode_utf8(text);
    // Byte offset of each code point, plus the end.
    std::vector<size_t> off(cps.size() + 1, 0);
    for (size_t i = 0; i < cps.size(); ++i) {
        const uint32_t c = cps[i];
        off[i + 1] = off[i] + (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
    }
    std::vector<Cls> cls(cps.size());
    for (size_t i = 0; i < cps.size(); ++i) cls[i] = classify(cps[i]);

    std::vector<std::string> out;
    const size_t n = cps.size();
    auto emit = [&](size_t a, size_t b) { out.emplace_back(text.substr(off[a], off[b] - off[a])); };
    auto run_of = [&](size_t j, Cls k) { while (j < n && cls[j] == k) ++j; return j; };
    size_t i = 0;
    while (i < n) {
        // 's|'t|'re|'ve|'m|'ll|'d  (lowercase only, as in GPT-2's regex)
        if (cps[i] == '\'' && i + 1 < n) {
            const uint32_t a = cps[i + 1], b = i + 2 < n ? cps[i + 2] : 0;
            size_t len = 0;
            if (a == 's' || a == 't' || a == 'm' || a == 'd') len = 2;
            else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) len = 3;
            if (len) { emit(i, i + len); i += len; continue; }
        }
        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
        const size_t start = i;
        size_t j = (cps[i] == ' ' && i + 1 < n && cls[i + 1] != Space) ? i + 1 : i;
        if (cls[j] != Space) {
            const size_t e = run_of(j, cls[j]);
            emit(start, e);
            i = e;
            continue;
        }
        // \s+(?!\S) | \s+ : a whitespace run keeps its last character for the next
        // token unless the run ends the text.
        const size_t e = run_of(i, Space);
        if (e == n || e - i == 1) { emit(i, e); i = e; }
        else { emit(i, e - 1); i = e - 1; }
    }
    return out;
}

Tokenizer Tokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt) {
    const std::vector<uint32_t> b2u = byte_to_unicode();
    std::vector<int> u2b(512, -1);
    for (int b = 0; b < 256; ++b) u2b[b2u[b]] = b;

    nlohmann::json vj;
    try {
        vj = nlohmann::json::parse(vocab_json);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("vocab.json is not valid JSON: ") + e.what());
    }
    if (!vj.is_object() || vj.empty()) throw Error("vocab.json must be a non-empty JSON object {token: id}");
    Tokenizer t;
    int max_id = -1;
    for (auto it = vj.begin(); it != vj.end(); ++it) {
        if (!it.value().is_number_integer()) throw Error("vocab.json: id of \"" + it.key() + "\" is not an integer");
        const int64_t id = it.value().get<int64_t>();
        if (id < 0 || id > 10000000) throw Error("vocab.json: id of \"" + it.key() + "\" is out of range");
        max_id = std::max(max_id, static_cast<int>(id));
    }
    t.id_to_bytes_.assign(max_id + 1, std::string());
    std::vector<bool> seen(max_id + 1, false);
    for (auto it = vj.begin(); it != vj.end(); ++it) {
        const int id = it.value().get<int>();
        if (seen[id]) throw Error("vocab.json: id " + std::to_string(id) + " is used twice");
        seen[id] = true;
        std::string bytes = unmap_bytes(it.key(), u2b, "vocab.json");
        t.id_to_bytes_[id] = bytes;
        t.bytes_to_id_[bytes] = id;
    }
    for (int b = 0; b < 256; ++b) {
        auto f = t.bytes_to_id_.find(std::string(1, static_cast<char>(b)));
        if (f == t.bytes_to_id_.end()) throw Error("vocab.json: byte " + std::to_string(b) + " has no token");
        t.byte_id_[b] = f->second;
    }

    std::istringstream in(merges_txt);
    std::string line;
    int rank = 0, lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
        const size_t sp = line.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() || line.find(' ', sp + 1) != std::string::npos)
            throw Error("merges.txt line " + std::to_string(lineno) + " is not \"left right\"");
        const std::string a = unmap_bytes(line.substr(0, sp), u2b, "merges.txt");
        const std::string b = unmap_bytes(line.substr(sp + 1), u2b, "merges.txt");
        const auto ia = t.bytes_to_id_.find(a), ib = t.bytes_to_id_.find(b), im = t.bytes_to_id_.find(a + b);
        // A merge whose parts or result are not in the vocab can never apply.
        if (ia != t.bytes_to_id_.end() && ib != t.bytes_to_id_.end() && im != t.bytes_to_id_.end())
            t.merges_.emplace(std::make_pair(ia->second, ib->second), std::make_pair(rank, im->second));
        ++rank;
    }
    return t;
}

void Tokenizer::bpe(const std::string& piece, std::vector<int>& out) const {
    auto whole = bytes_to_id_.find(piece);
    if (whole != bytes_to_id_.end() && piece.size() == 1) { out.push_back(whole->second); return; }
    std::vector<int> w;
    w.reserve(piece.size());
    for (unsigned char c : piece) w.push_back(byte_id_[c]);
    while (w.size() > 1) {
        int best_rank = std::numeric_limits<int>::max(), best_l = -1, best_r = -1, merged = -1;
        for (size_t i = 0; i + 1 < w.size(); ++i) {
            auto f = merges_.find({w[i], w[i + 1]});
            if (f != merges_.end() && f->second.first < best_rank) {
                best_rank = f->second.first;
                best_l = w[i];
                best_r = w[i + 1];
                merged = f->second.second;
            }
        }
        if (merged < 0) break;
        // Merge every occurrence of the best pair, left to right, as encoder.py does.
        std::vector<int> next;
        next.reserve(w.size());
        for (size_t i = 0; i < w.size();) {
            if (i + 1 < w.size() && w[i] == best_l && w[i + 1] == best_r) { next.push_back(merged); i += 2; }
            else next.push_back(w[i++]);
        }
        w.swap(next);
    }
    out.insert(out.end(), w.begin(), w.end());
}

std::vector<int> Tokenizer::encode(const std::string& text) const {
    if (empty()) throw Error("tokenizer not loaded");
    std::vector<int> ids;
    for (const std::string& piece : pretokenize(text)) bpe(piece, ids);
    return ids;
}

std::string Tokenizer::token_bytes(int id) const {
    if (id < 0 || id >= vocab_size()) throw Error("token id " + std::to_string(id) + " is out of range");
    return id_to_bytes_[id];
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
    std::string s;
    for (int id : ids) s += token_bytes(id);
    return s;
}

}  // namespace hooklab
