#include "hooklab/loader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "hooklab/error.h"
#include "hooklab/safetensors.h"

namespace hooklab {

uint64_t weight_bytes(const Config& cfg, bool f16) {
    const uint64_t C = cfg.n_embd, P = cfg.n_positions, L = cfg.n_layer;
    const int c = cfg.n_embd;
    const uint64_t per_block = packed_bytes(c, 3 * c, f16) + packed_bytes(c, c, f16) + packed_bytes(c, 4 * c, f16) +
                               packed_bytes(4 * c, c, f16) + 4 * (3 * C + C + 4 * C + C) + 4 * 4 * C;
    return L * per_block + packed_bytes(c, cfg.vocab_size, f16) + 4 * P * C + 8 * C;
}

uint64_t kept_state_bytes(const Config& cfg, int T) {
    return (static_cast<uint64_t>(cfg.n_layer) + 1) * static_cast<uint64_t>(T) * cfg.n_embd * sizeof(float);
}

uint64_t activation_bytes(const Config& cfg, int T) {
    const uint64_t t = static_cast<uint64_t>(T), C = cfg.n_embd, H = cfg.n_head, V = cfg.vocab_size, L = cfg.n_layer;
    const uint64_t kept = kept_state_bytes(cfg, T);
    // embed, pos, resid, ln, q, k, v, z, attn_out, mlp_out (10 T C); qkv (3 T C); the MLP's
    // pre and post (8 T C); scores and pattern (2 H T^2); logits; the lens' rows and logits;
    // the baseline's state and the latest runs, kept for toggles, and the state of the run
    // being made before older ones make room (compare.cpp).
    return 4 * (21 * t * C + 2 * H * t * t + V + L * (C + V)) + std::min(kept, kKeepLimitBytes) + kKeptRunsBytes +
           kKeptRunsBytes / 2;
}

uint64_t memory_need(const Config& cfg, bool f16) { return weight_bytes(cfg, f16) + activation_bytes(cfg, cfg.n_positions); }

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

bool ends_with(const std::string& s, const std::string& e) {
    return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

}  // namespace

struct SafeTensorsStream::Impl {
    enum Kind { Skip, Vector, Matrix, Tied };
    struct Job {
        std::string name;
        uint64_t begin = 0, end = 0;  // absolute file offsets
        DType dtype = DType::F32;
        Kind kind = Skip;
        size_t row_len = 0;           // elements per source row
        int rows = 0, rows_done = 0;
        float* vec = nullptr;         // Vector
        PackedMatrix* mat = nullptr;  // Matrix
    };

    Config cfg;
    bool f16 = false;
    uint64_t file_size = 0;
    uint64_t pos = 0;
    bool parsed = false, spent = false;
    size_t header_len = 0;
    std::vector<uint8_t> head;
    std::vector<Job> jobs;
    size_t cur = 0;
    std::vector<uint8_t> stage;
    size_t stage_fill = 0;
    std::vector<float> conv, row_tmp;
    int tied_owner = -1;  // index of the job (wte or lm_head) that filled lm_head
    GPT2 model;

    void parse_header();
    void add_job(const TensorInfo& t, const SafeTensorsHeader& h, Kind kind, size_t row_len, float* vec, PackedMatrix* mat);
    void feed_data(const uint8_t* data, size_t n);
    void flush(Job& j);
};

void SafeTensorsStream::Impl::add_job(const TensorInfo& t, const SafeTensorsHeader& h, Kind kind, size_t row_len,
                                      float* vec, PackedMatrix* mat) {
    Job j;
    j.name = t.name;
    j.begin = h.data_start + static_cast<uint64_t>(t.begin);
    j.end = h.data_start + static_cast<uint64_t>(t.end);
    j.dtype = t.dtype;
    j.kind = kind;
    j.row_len = row_len;
    j.rows = row_len ? static_cast<int>(static_cast<uint64_t>(t.numel()) / row_len) : 0;
    j.vec = vec;
    j.mat = mat;
    if (j.end > j.begin) jobs.push_back(std::move(j));
}

void SafeTensorsStream::Impl::parse_header() {
    // With the file size unknown, offsets are checked at finish() instead.
    const size_t fsize = file_size ? static_cast<size_t>(file_size) : std::numeric_limits<size_t>::max();
    const SafeTensorsHeader header = parse_safetensors_header(head.data(), head.size(), fsize);
    const int C = cfg.n_embd, V = cfg.vocab_size, P = cfg.n_positions;
    const bool prefixed = header.find("transformer.wte.weight") != nullptr;
    const std::string prefix = prefixed ? "transformer." : "";

    // Everything the file holds must be something GPT-2 has: a misspelt name is an
    // error, not a weight silently left out.
    std::vector<std::string> expected = {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"};
    for (int i = 0; i < cfg.n_layer; ++i)
        for (const char* part : {"ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"})
            for (const char* kind : {".weight", ".bias"}) expected.push_back("h." + std::to_string(i) + "." + part + kind);
    for (const auto& t : header.tensors) {
        if (t.name == "lm_head.weight" || ends_with(t.name, ".attn.bias") || ends_with(t.name, ".attn.masked_bias"))
            continue;  // tied head; causal-mask buffers the official file carries
        const std::string n = prefixed && t.name.rfind("transformer.", 0) == 0 ? t.name.substr(12) : t.name;
        if (std::find(expected.begin(), expected.end(), n) == expected.end())
            throw Error("model.safetensors: unexpected tensor \"" + t.name + "\" (not part of a " +
                        std::to_string(cfg.n_layer) + "-layer GPT-2; does config.json match the weights?)");
    }

    auto need = [&](const std::string& name, std::vector<int64_t> shape, bool bare = false) -> const TensorInfo& {
        const std::string full = (bare ? "" : prefix) + name;
        const TensorInfo* t = header.find(full);
        if (!t) throw Error("model.safetensors: missing tensor \"" + full + "\"");
        if (t->shape != shape)
            throw Error("model.safetensors: tensor \"" + t->name + "\" has shape " + shape_str(t->shape) +
                        " but config.json implies " + shape_str(shape));
        return *t;
    };

    // Check every tensor before allocating anything.
    need("wte.weight", {V, C});
    if (header.find("lm_head.weight")) need("lm_head.weight", {V, C}, true);
    need("wpe.weight", {P, C});
    for (int i = 0; i < cfg.n_layer; ++i) {
        const std::string h = "h." + std::to_string(i) + ".";
        need(h + "ln_1.weight", {C}); need(h + "ln_1.bias", {C});
        need(h + "attn.c_attn.weight", {C, 3 * C}); need(h + "attn.c_attn.bias", {3 * C});
        need(h + "attn.c_proj.weight", {C, C}); need(h + "attn.c_proj.bias", {C});
        need(h + "ln_2.weight", {C}); need(h + "ln_2.bias", {C});
        need(h + "mlp.c_fc.weight", {C, 4 * C}); need(h + "mlp.c_fc.bias", {4 * C});
        need(h + "mlp.c_proj.weight", {4 * C, C}); need(h + "mlp.c_proj.bias", {C});
    }
    need("ln_f.weight", {C}); need("ln_f.bias", {C});

    // Allocate the model and plan where each tensor's bytes go.
    Weights& w = model.weights;
    model.config = cfg;
    w.blocks.resize(cfg.n_layer);
    auto vec = [&](std::vector<float>& dst, const std::string& name, size_t n, size_t row_len) {
        dst.assign(n, 0.0f);
        add_job(*header.find(prefix + name), header, Vector, row_len, dst.data(), nullptr);
    };
    auto lin = [&](Linear& l, const std::string& name, int in, int out) {
        l.w = make_packed(in, out, /*transposed=*/false, f16);
        add_job(*header.find(prefix + name + ".weight"), header, Matrix, static_cast<size_t>(out), nullptr, &l.w);
        vec(l.bias, name + ".bias", static_cast<size_t>(out), static_cast<size_t>(out));
    };
    auto ln = [&](LayerNormWeights& l, const std::string& name) {
        vec(l.weight, name + ".weight", C, C);
        vec(l.bias, name + ".bias", C, C);
    };
    w.lm_head.w = make_packed(C, V, /*transposed=*/true, f16);
    add_job(*header.find(prefix + "wte.weight"), header, Tied, static_cast<size_t>(C), nullptr, nullptr);
    if (const TensorInfo* t = header.find("lm_head.weight")) add_job(*t, header, Tied, static_cast<size_t>(C), nullptr, nullptr);
    w.wpe.assign(static_cast<size_t>(P) * C, 0.0f);
    add_job(*header.find(prefix + "wpe.weight"), header, Vector, static_cast<size_t>(C), w.wpe.data(), nullptr);
    for (int i = 0; i < cfg.n_layer; ++i) {
        const std::string h = "h." + std::to_string(i) + ".";
        BlockWeights& b = w.blocks[i];
        ln(b.ln_1, h + "ln_1");
        lin(b.c_attn, h + "attn.c_attn", C, 3 * C);
        lin(b.attn_proj, h + "attn.c_proj", C, C);
        ln(b.ln_2, h + "ln_2");
        lin(b.c_fc, h + "mlp.c_fc", C, 4 * C);
        lin(b.mlp_proj, h + "mlp.c_proj", 4 * C, C);
    }
    ln(w.ln_f, "ln_f");
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.begin < b.begin; });
    parsed = true;
    std::vector<uint8_t>().swap(head);
}

void SafeTensorsStream::Impl::flush(Job& j) {
    const size_t row_bytes = j.row_len * dtype_size(j.dtype);
    const int nrows = static_cast<int>(stage_fill / row_bytes);
    if (nrows == 0) return;
    const size_t n = static_cast<size_t>(nrows) * j.row_len;
    if (conv.size() < n) conv.resize(n);
    convert_to_f32(j.dtype, stage.data(), n, conv.data());
    const int row0 = j.rows_done;
    switch (j.kind) {
        case Vector: std::memcpy(j.vec + static_cast<size_t>(row0) * j.row_len, conv.data(), n * sizeof(float)); break;
        case Matrix: pack_rows(*j.mat, conv.data(), row0, nrows); break;
        case Tied: {
            const int self = static_cast<int>(&j - jobs.data());
            if (tied_owner < 0) tied_owner = self;
            if (tied_owner == self) {
                pack_rows(model.weights.lm_head.w, conv.data(), row0, nrows);
            } else {  // the second of wte / lm_head.weight: must equal the first
                row_tmp.resize(j.row_len);
                for (int r = 0; r < nrows; ++r) {
                    tied_embedding_row(model.weights.lm_head.w, row0 + r, row_tmp.data());
                    for (size_t k = 0; k < j.row_len; ++k) {
                        float v = conv[static_cast<size_t>(r) * j.row_len + k];
                        if (f16) v = f16_to_f32(f32_to_f16(v));
                        if (!(v == row_tmp[k]) && !(v != v && row_tmp[k] != row_tmp[k]))
                            throw Error("model.safetensors: lm_head.weight differs from wte.weight; GPT-2 ties them and an untied head is not supported");
                    }
                }
            }
            break;
        }
        case Skip: break;
    }
    j.rows_done += nrows;
    // Keep a partial row (never happens with whole-row stages, but stay exact).
    const size_t used = static_cast<size_t>(nrows) * row_bytes;
    std::memmove(stage.data(), stage.data() + used, stage_fill - used);
    stage_fill -= used;
}

void SafeTensorsStream::Impl::feed_data(const uint8_t* data, size_t n) {
    while (n > 0) {
        if (cur >= jobs.size()) {  // past the last tensor we need
            pos += n;
            return;
        }
        Job& j = jobs[cur];
        if (pos < j.begin) {  // a gap or a tensor we skip (mask buffers)
            const size_t skip = static_cast<size_t>(std::min<uint64_t>(n, j.begin - pos));
            pos += skip; data += skip; n -= skip;
            continue;
        }
        if (pos == j.begin && j.kind != Skip) {
            const size_t row_bytes = j.row_len * dtype_size(j.dtype);
            const size_t rows_per_stage = std::max<size_t>(1, (size_t(1) << 20) / row_bytes);
            stage.resize(rows_per_stage * row_bytes);
            stage_fill = 0;
        }
        const size_t take = static_cast<size_t>(std::min<uint64_t>(n, j.end - pos));
        if (j.kind != Skip) {
            size_t done = 0;
            while (done < take) {
                const size_t c = std::min(take - done, stage.size() - stage_fill);
                std::memcpy(stage.data() + stage_fill, data + done, c);
                stage_fill += c;
                done += c;
                if (stage_fill == stage.size()) flush(j);
            }
        }
        pos += take; data += take; n -= take;
        if (pos == j.end) {
            if (j.kind != Skip) flush(j);
            ++cur;
        }
    }
}

SafeTensorsStream::SafeTensorsStream(const Config& cfg, bool f16_weights, uint64_t file_size, uint64_t memory_limit)
    : impl_(new Impl) {
    impl_->cfg = cfg;
    impl_->f16 = f16_weights;
    impl_->file_size = file_size;
    const uint64_t need = memory_need(cfg, f16_weights);
    if (memory_limit && need > memory_limit)
        throw Error("this model is too large: it needs " + std::to_string(need >> 20) + " MB of memory (" +
                    std::to_string(weight_bytes(cfg, f16_weights) >> 20) + " MB of " + (f16_weights ? "F16" : "F32") +
                    " weights for " + std::to_string(cfg.n_layer) + " layers, n_embd " + std::to_string(cfg.n_embd) +
                    ", vocabulary " + std::to_string(cfg.vocab_size) + ", plus " +
                    std::to_string(activation_bytes(cfg, cfg.n_positions) >> 20) + " MB of activations for its " +
                    std::to_string(cfg.n_positions) + "-token context) but only " + std::to_string(memory_limit >> 20) +
                    " MB are available" + (f16_weights ? "" : "; F16 weights would halve the weights"));
}

SafeTensorsStream::~SafeTensorsStream() = default;

void SafeTensorsStream::feed(const uint8_t* data, size_t n) {
    Impl& s = *impl_;
    if (s.spent) throw Error("model.safetensors: stream already finished");
    while (n > 0 && !s.parsed) {
        const size_t want = s.header_len ? 8 + s.header_len : 8;
        const size_t take = std::min(n, want - s.head.size());
        s.head.insert(s.head.end(), data, data + take);
        s.pos += take; data += take; n -= take;
        if (!s.header_len && s.head.size() == 8) {
            s.header_len = safetensors_header_length(s.head.data(), 8);
            if (s.file_size && s.file_size < 8 + static_cast<uint64_t>(s.header_len))
                parse_safetensors_header(s.head.data(), 8, static_cast<size_t>(s.file_size));  // throws "truncated"
            s.head.reserve(8 + s.header_len);
        }
        if (s.header_len && s.head.size() == 8 + s.header_len) s.parse_header();
    }
    if (n > 0) s.feed_data(data, n);
}

uint64_t SafeTensorsStream::bytes_fed() const { return impl_->pos; }
bool SafeTensorsStream::header_parsed() const { return impl_->parsed; }

GPT2 SafeTensorsStream::finish() {
    Impl& s = *impl_;
    if (s.spent) throw Error("model.safetensors: stream already finished");
    if (!s.parsed) {
        // Report what the bytes so far allow: empty, too short, truncated header.
        const size_t n = s.header_len ? s.header_len : safetensors_header_length(s.head.data(), s.head.size());
        const size_t have = static_cast<size_t>(s.pos);
        if (have < 8 + n)
            throw Error("model.safetensors is truncated: the header says " + std::to_string(n) + " bytes but the file has " +
                        std::to_string(have - 8) + " after the length");
    }
    if (s.cur < s.jobs.size()) {
        const auto& j = s.jobs[s.cur];
        throw Error("model.safetensors is truncated: it ended after " + std::to_string(s.pos) + " bytes but tensor \"" +
                    j.name + "\" lies in [" + std::to_string(j.begin) + ", " + std::to_string(j.end) + ")");
    }
    s.spent = true;
    return std::move(s.model);
}

// Declared in gpt2.h, defined beside the loader it calls, so that the model's core does not
// include the loader built on it.
GPT2 GPT2::from_safetensors(const Config& cfg, const uint8_t* data, size_t size, bool f16_weights) {
    // The streaming loader, fed the whole file at once: one code path for every way a
    // checkpoint arrives (file, memory, network stream).
    SafeTensorsStream stream(cfg, f16_weights, size);
    stream.feed(data, size);
    return stream.finish();
}

}  // namespace hooklab
