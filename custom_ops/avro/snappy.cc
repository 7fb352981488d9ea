#include "avro/snappy.h"

#include <cstring>
#include <string>

namespace lirank {
namespace avro {

namespace {
absl::Status Corrupt(const std::string& what) {
  return absl::DataLossError("corrupt snappy data: " + what);
}

// Copies `length` bytes from `offset` bytes back; the regions may overlap (run-length copies),
// in which case the copy must proceed byte by byte in order.
inline void CopyBack(uint8_t* dst, size_t offset, size_t length) {
  const uint8_t* src = dst - offset;
  if (offset >= length) {
    std::memcpy(dst, src, length);
  } else {
    for (size_t i = 0; i < length; ++i) dst[i] = src[i];
  }
}
}  // namespace

absl::Status SnappyDecompress(const uint8_t* data, size_t size, ByteBuffer* out) {
  const uint8_t* in = data;
  const uint8_t* const in_end = data + size;
  // Preamble: uncompressed length, a varint of at most 32 bits.
  uint64_t expected = 0;
  int shift = 0;
  while (true) {
    if (in >= in_end) return Corrupt("truncated length preamble");
    const uint8_t b = *in++;
    expected |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (b < 0x80) break;
    shift += 7;
    if (shift > 28) return Corrupt("length preamble longer than 32 bits");
  }
  if (expected > 0xFFFFFFFFull) return Corrupt("length preamble longer than 32 bits");
  // A 3-byte copy element yields at most 64 bytes, so a valid stream expands at most ~22x;
  // this keeps a corrupt preamble from requesting a huge allocation.
  if (expected > 22 * static_cast<uint64_t>(size) + 64) {
    return Corrupt("uncompressed length " + std::to_string(expected) +
                   " is impossible for " + std::to_string(size) + " compressed bytes");
  }
  out->Resize(static_cast<size_t>(expected));
  uint8_t* const begin = out->data();
  uint8_t* dst = begin;
  uint8_t* const dst_end = begin + expected;

  while (in < in_end) {
    const uint8_t tag = *in++;
    const int kind = tag & 3;
    if (kind == 0) {  // literal
      size_t length = tag >> 2;
      if (length >= 60) {
        const int extra = static_cast<int>(length) - 59;  // 1..4 little-endian length bytes
        if (in_end - in < extra) return Corrupt("truncated literal length");
        length = 0;
        for (int i = 0; i < extra; ++i) length |= static_cast<size_t>(in[i]) << (8 * i);
        in += extra;
      }
      length += 1;
      if (static_cast<size_t>(in_end - in) < length) return Corrupt("literal runs past the input");
      if (static_cast<size_t>(dst_end - dst) < length) return Corrupt("literal overflows the output");
      std::memcpy(dst, in, length);
      in += length;
      dst += length;
      continue;
    }
    size_t length;
    size_t offset;
    if (kind == 1) {  // copy with 1-byte offset
      if (in_end - in < 1) return Corrupt("truncated copy");
      length = ((tag >> 2) & 7) + 4;
      offset = (static_cast<size_t>(tag >> 5) << 8) | in[0];
      in += 1;
    } else if (kind == 2) {  // copy with 2-byte offset
      if (in_end - in < 2) return Corrupt("truncated copy");
      length = (tag >> 2) + 1;
      offset = static_cast<size_t>(in[0]) | (static_cast<size_t>(in[1]) << 8);
      in += 2;
    } else {  // copy with 4-byte offset
      if (in_end - in < 4) return Corrupt("truncated copy");
      length = (tag >> 2) + 1;
      offset = static_cast<size_t>(in[0]) | (static_cast<size_t>(in[1]) << 8) |
               (static_cast<size_t>(in[2]) << 16) | (static_cast<size_t>(in[3]) << 24);
      in += 4;
    }
    if (offset == 0 || offset > static_cast<size_t>(dst - begin)) {
      return Corrupt("copy offset points before the start of the output");
    }
    if (static_cast<size_t>(dst_end - dst) < length) return Corrupt("copy overflows the output");
    CopyBack(dst, offset, length);
    dst += length;
  }
  if (dst != dst_end) {
    return Corrupt("stream ended after " + std::to_string(dst - begin) + " of " +
                   std::to_string(expected) + " bytes");
  }
  return absl::OkStatus();
}

}  // namespace avro
}  // namespace lirank
