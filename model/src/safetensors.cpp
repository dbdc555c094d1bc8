#include "hooklab/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "hooklab/error.h"

namespace hooklab {

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

DType parse_dtype(const std::string& s, const std::string& tensor) {
    if (s == "F32") return DType::F32;
    if (s == "F16") return DType::F16;
    if (s == "BF16") return DType::BF16;
    throw Error("model.safetensors: tensor \"" + tensor + "\" has unsupported dtype " + s +
                " (supported: F32, F16, BF16)");
}

}  // namespace

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

const TensorInfo* SafeTensorsHeader::find(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 2; }
const char* dtype_name(DType d) { return d == DType::F32 ? "F32" : d == DType::F16 ? "F16" : "BF16"; }

size_t safetensors_header_length(const uint8_t* data, size_t size) {
    if (size == 0) throw Error("model.safetensors is empty (0 bytes)");
    if (size < 8) throw Error("model.safetensors is too short (" + std::to_string(size) + " bytes) to hold a header");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    if (n == 0 || n > kMaxHeader) throw Error("model.safetensors: header length " + std::to_string(n) + " is not plausible");
    return static_cast<size_t>(n);
}

SafeTensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, size_t file_size) {
    const size_t n = safetensors_header_length(data, size);
    if (file_size < 8 + n)
        throw Error("model.safetensors is truncated: the header says " + std::to_string(n) + " bytes but the file has " +
                    std::to_string(file_size - 8) + " after the length");
    if (size < 8 + n) throw Error("model.safetensors: header not yet available");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(data + 8, data + 8 + n);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("model.safetensors: header is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw Error("model.safetensors: header must be a JSON object");
    SafeTensorsHeader h;
    h.data_start = 8 + n;
    h.data_size = file_size - h.data_start;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const auto& v = it.value();
        const std::string& name = it.key();
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
            !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() ||
            v["data_offsets"].size() != 2)
            throw Error("model.safetensors: tensor \"" + name + "\" has a malformed entry");
        TensorInfo t;
        t.name = name;
        t.dtype = parse_dtype(v["dtype"].get<std::string>(), name);
        uint64_t numel = 1;
        for (const auto& d : v["shape"]) {
            if (!d.is_number_unsigned()) throw Error("model.safetensors: tensor \"" + name + "\" has a bad shape");
            const uint64_t x = d.get<uint64_t>();
            if (x > (1ull << 40) || (x && numel > (1ull << 40) / x))
                throw Error("model.safetensors: tensor \"" + name + "\" shape is too large");
            numel *= x;
            t.shape.push_back(static_cast<int64_t>(x));
        }
        for (const auto& o : v["data_offsets"])
            if (!o.is_number_unsigned()) throw Error("model.safetensors: tensor \"" + name + "\" has bad data_offsets");
        const uint64_t b = v["data_offsets"][0].get<uint64_t>(), e = v["data_offsets"][1].get<uint64_t>();
        if (b > e || e > h.data_size)
            throw Error("model.safetensors: tensor \"" + name + "\" data [" + std::to_string(b) + ", " + std::to_string(e) +
                        ") lies outside the " + std::to_string(h.data_size) + " data bytes (truncated file?)");
        if (e - b != numel * dtype_size(t.dtype))
            throw Error("model.safetensors: tensor \"" + name + "\" has " + std::to_string(e - b) + " bytes but shape x " +
                        dtype_name(t.dtype) + " needs " + std::to_string(numel * dtype_size(t.dtype)));
        t.begin = static_cast<size_t>(b);
        t.end = static_cast<size_t>(e);
        h.tensors.push_back(std::move(t));
    }
    std::vector<const TensorInfo*> sorted;
    for (const auto& t : h.tensors) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](auto a, auto b) { return a->begin < b->begin; });
    for (size_t i = 1; i < sorted.size(); ++i)
        if (sorted[i]->begin < sorted[i - 1]->end)
            throw Error("model.safetensors: tensors \"" + sorted[i - 1]->name + "\" and \"" + sorted[i]->name +
                        "\" overlap");
    return h;
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400u)) { mant <<= 1; --exp; }
            bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
    if (absx < 0x38800000u) {  // subnormal half (or zero): round to nearest even
        if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
        const uint32_t e = absx >> 23, m = (absx & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // 14 + (113 - e)
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) ++r;
        return static_cast<uint16_t>(sign | r);
    }
    uint32_t r = absx - 0x38000000u;  // rebias exponent 127 -> 15
    const uint32_t rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
}

void convert_to_f32(DType dtype, const uint8_t* src, size_t n, float* dst) {
    switch (dtype) {
        case DType::F32:
            std::memcpy(dst, src, n * 4);  // little-endian host (x86, wasm)
            break;
        case DType::F16:
            for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
            break;
        case DType::BF16:
            for (size_t i = 0; i < n; ++i) {
                const uint32_t bits = static_cast<uint32_t>(src[2 * i] | (src[2 * i + 1] << 8)) << 16;
                std::memcpy(&dst[i], &bits, 4);
            }
            break;
    }
}

}  // namespace hooklab
