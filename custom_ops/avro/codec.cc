#include "avro/codec.h"

#include <zlib.h>

#include "avro/snappy.h"

namespace lirank {
namespace avro {

namespace {

absl::Status Inflate(const uint8_t* data, size_t size, ByteBuffer* out) {
  // Deflate cannot expand more than 1032:1; this bounds the output of a corrupt stream.
  const size_t max_size = 1032 * size + 1024;
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  out->Resize(0);
  out->Reserve(std::min(max_size, std::max<size_t>(4 * size, 4096)));
  stream.next_in = const_cast<Bytef*>(data);
  size_t written = 0;
  size_t input_left = size;
  int result = Z_OK;
  while (true) {
    if (written == out->capacity()) {
      if (out->capacity() >= max_size) {
        inflateEnd(&stream);
        return absl::DataLossError("corrupt deflate data: output exceeds the maximal expansion");
      }
      out->Resize(written);
      out->Reserve(std::min(max_size, out->capacity() * 2));
    }
    const uInt in_chunk = static_cast<uInt>(std::min<size_t>(input_left, 1u << 30));
    const uInt out_chunk = static_cast<uInt>(std::min<size_t>(out->capacity() - written, 1u << 30));
    stream.avail_in = in_chunk;
    stream.next_out = out->data() + written;
    stream.avail_out = out_chunk;
    result = inflate(&stream, Z_NO_FLUSH);
    input_left -= in_chunk - stream.avail_in;
    written += out_chunk - stream.avail_out;
    if (result == Z_STREAM_END) break;
    if (result == Z_BUF_ERROR && input_left == 0 && stream.avail_out > 0) {
      inflateEnd(&stream);
      return absl::DataLossError("corrupt deflate data: the stream is truncated");
    }
    if (result != Z_OK && result != Z_BUF_ERROR) {
      const std::string message = stream.msg != nullptr ? stream.msg : "error " +
                                  std::to_string(result);
      inflateEnd(&stream);
      return absl::DataLossError("corrupt deflate data: " + message);
    }
  }
  inflateEnd(&stream);
  out->Resize(written);
  return absl::OkStatus();
}

absl::Status UnSnappy(const uint8_t* data, size_t size, ByteBuffer* out) {
  if (size < 4) return absl::DataLossError("corrupt snappy block: shorter than its CRC32");
  absl::Status status = SnappyDecompress(data, size - 4, out);
  if (!status.ok()) return status;
  const uint8_t* crc_bytes = data + size - 4;
  const uint32_t stored = (static_cast<uint32_t>(crc_bytes[0]) << 24) |
                          (static_cast<uint32_t>(crc_bytes[1]) << 16) |
                          (static_cast<uint32_t>(crc_bytes[2]) << 8) |
                          static_cast<uint32_t>(crc_bytes[3]);
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < out->size()) {  // zlib's crc32 takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(out->size() - done, 1u << 30));
    crc = crc32(crc, out->data() + done, chunk);
    done += chunk;
  }
  if (static_cast<uint32_t>(crc) != stored) {
    return absl::DataLossError("snappy block CRC32 mismatch (stored " + std::to_string(stored) +
                               ", computed " + std::to_string(static_cast<uint32_t>(crc)) + ")");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseCodec(std::string_view name, Codec* codec) {
  if (name.empty() || name == "null") {
    *codec = Codec::kNull;
  } else if (name == "deflate") {
    *codec = Codec::kDeflate;
  } else if (name == "snappy") {
    *codec = Codec::kSnappy;
  } else {
    return absl::InvalidArgumentError("unsupported Avro codec '" + std::string(name) +
                                      "' (supported: null, deflate, snappy)");
  }
  return absl::OkStatus();
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNull: return "null";
    case Codec::kDeflate: return "deflate";
    case Codec::kSnappy: return "snappy";
  }
  return "?";
}

absl::Status Decompress(Codec codec, const uint8_t* data, size_t size, ByteBuffer* out) {
  switch (codec) {
    case Codec::kDeflate: return Inflate(data, size, out);
    case Codec::kSnappy: return UnSnappy(data, size, out);
    case Codec::kNull: break;
  }
  return absl::InternalError("Decompress called for the null codec");
}

}  // namespace avro
}  // namespace lirank
