// Decompressor for the raw Snappy format (https://github.com/google/snappy/blob/main/format_description.txt):
// a varint uncompressed length, then literal and back-reference (copy) elements.
// Every length and offset is checked, so corrupt input yields an error, never a bad access.
#ifndef LIRANK_AVRO_SNAPPY_H_
#define LIRANK_AVRO_SNAPPY_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "avro/buffer.h"

namespace lirank {
namespace avro {

// Decompresses `size` bytes of raw Snappy data into `*out` (resized to the exact length).
absl::Status SnappyDecompress(const uint8_t* data, size_t size, ByteBuffer* out);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_SNAPPY_H_
