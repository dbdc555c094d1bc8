#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hooklab {

enum class DType { F32, F16, BF16 };

struct TensorInfo {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    size_t begin = 0, end = 0;  // byte offsets relative to the start of the data section

    int64_t numel() const;
};

// The parsed header of a .safetensors file. Parsing checks everything that can be
// checked without the tensor bytes: sizes against dtype x shape, offsets inside the
// data, no overlaps.
struct SafeTensorsHeader {
    size_t data_start = 0;  // 8 + header length
    size_t data_size = 0;   // bytes after the header
    std::vector<TensorInfo> tensors;

    const TensorInfo* find(const std::string& name) const;
};

// Bytes needed to know the header's length (the first 8 bytes) and then the whole header.
size_t safetensors_header_length(const uint8_t* data, size_t size);
// `size` is the whole file's size; `data` need only hold the first data_start bytes
// when file_size is given separately.
SafeTensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, size_t file_size);

// Converts `n` elements of `dtype` from little-endian bytes to float.
void convert_to_f32(DType dtype, const uint8_t* src, size_t n, float* dst);

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
const char* dtype_name(DType d);
// Bytes per element.
size_t dtype_size(DType d);

}  // namespace hooklab
