// Block codecs of Avro object container files: null, deflate (raw RFC 1951 via zlib) and
// snappy (own decompressor; Avro appends a big-endian CRC32 of the uncompressed bytes, which
// is verified).
#ifndef LIRANK_AVRO_CODEC_H_
#define LIRANK_AVRO_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "avro/buffer.h"

namespace lirank {
namespace avro {

enum class Codec { kNull, kDeflate, kSnappy };

// Maps the "avro.codec" header value to a codec; unsupported names are InvalidArgument.
absl::Status ParseCodec(std::string_view name, Codec* codec);

const char* CodecName(Codec codec);

// Decompresses one block of `codec` data into `*out`. Not called for the null codec.
absl::Status Decompress(Codec codec, const uint8_t* data, size_t size, ByteBuffer* out);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_CODEC_H_
