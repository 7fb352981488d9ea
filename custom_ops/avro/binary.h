// Avro binary encoding primitives over a bounds-checked byte cursor.
// Every read checks the remaining bytes; on malformed input the reader returns false and
// leaves a static description in `Cursor::error`.
#ifndef LIRANK_AVRO_BINARY_H_
#define LIRANK_AVRO_BINARY_H_

#include <cstdint>
#include <cstring>

namespace lirank {
namespace avro {

#if defined(__GNUC__)
#define LIRANK_LIKELY(x) __builtin_expect(!!(x), 1)
#define LIRANK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIRANK_LIKELY(x) (x)
#define LIRANK_UNLIKELY(x) (x)
#endif

struct Cursor {
  const uint8_t* pos;
  const uint8_t* end;
  const char* error = nullptr;

  size_t remaining() const { return static_cast<size_t>(end - pos); }
  bool Fail(const char* what) {
    error = what;
    return false;
  }
};

// Unsigned LEB128 varint of at most 10 bytes (64 bits).
inline bool ReadVarint(Cursor& c, uint64_t* out) {
  const uint8_t* p = c.pos;
  if (LIRANK_LIKELY(c.end - p >= 10)) {
    // Fast path: no bounds checks needed for a maximal 10-byte varint.
    uint64_t b = *p++;
    uint64_t result = b & 0x7F;
    if (LIRANK_LIKELY(b < 0x80)) {
      c.pos = p;
      *out = result;
      return true;
    }
    for (int shift = 7; shift < 63; shift += 7) {
      b = *p++;
      result |= (b & 0x7F) << shift;
      if (b < 0x80) {
        c.pos = p;
        *out = result;
        return true;
      }
    }
    b = *p++;  // 10th byte: only its lowest bit is meaningful
    if (b > 1) return c.Fail("varint longer than 64 bits");
    result |= b << 63;
    c.pos = p;
    *out = result;
    return true;
  }
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= c.end) return c.Fail("truncated varint");
    const uint64_t b = *p++;
    if (shift == 63 && b > 1) return c.Fail("varint longer than 64 bits");
    result |= (b & 0x7F) << shift;
    if (b < 0x80) {
      c.pos = p;
      *out = result;
      return true;
    }
  }
  return c.Fail("varint longer than 64 bits");
}

inline int64_t ZigZagDecode(uint64_t n) {
  return static_cast<int64_t>((n >> 1) ^ (~(n & 1) + 1));
}

inline bool ReadLong(Cursor& c, int64_t* out) {
  uint64_t raw;
  if (LIRANK_LIKELY(c.pos < c.end && *c.pos < 0x80)) {  // one-byte values are the common case
    raw = *c.pos++;
    *out = ZigZagDecode(raw);
    return true;
  }
  if (!ReadVarint(c, &raw)) return false;
  *out = ZigZagDecode(raw);
  return true;
}

inline bool ReadInt(Cursor& c, int32_t* out) {
  int64_t value;
  if (!ReadLong(c, &value)) return false;
  if (LIRANK_UNLIKELY(value < INT32_MIN || value > INT32_MAX)) {
    return c.Fail("Avro int outside the 32-bit range");
  }
  *out = static_cast<int32_t>(value);
  return true;
}

inline bool ReadFloat(Cursor& c, float* out) {
  if (LIRANK_UNLIKELY(c.remaining() < 4)) return c.Fail("truncated float");
  std::memcpy(out, c.pos, 4);  // little-endian hosts only (x86, ARM)
  c.pos += 4;
  return true;
}

inline bool ReadDouble(Cursor& c, double* out) {
  if (LIRANK_UNLIKELY(c.remaining() < 8)) return c.Fail("truncated double");
  std::memcpy(out, c.pos, 8);
  c.pos += 8;
  return true;
}

inline bool ReadBool(Cursor& c, bool* out) {
  if (LIRANK_UNLIKELY(c.pos >= c.end)) return c.Fail("truncated boolean");
  const uint8_t b = *c.pos++;
  if (LIRANK_UNLIKELY(b > 1)) return c.Fail("boolean byte is neither 0 nor 1");
  *out = b != 0;
  return true;
}

// Length-prefixed bytes/string: returns a pointer into the buffer, no copy.
inline bool ReadBytes(Cursor& c, const char** data, size_t* size) {
  int64_t length;
  if (!ReadLong(c, &length)) return false;
  if (LIRANK_UNLIKELY(length < 0)) return c.Fail("negative string/bytes length");
  if (LIRANK_UNLIKELY(static_cast<uint64_t>(length) > c.remaining())) {
    return c.Fail("string/bytes length runs past the end of the block");
  }
  *data = reinterpret_cast<const char*>(c.pos);
  *size = static_cast<size_t>(length);
  c.pos += length;
  return true;
}

inline bool Skip(Cursor& c, uint64_t n) {
  if (LIRANK_UNLIKELY(n > c.remaining())) return c.Fail("value runs past the end of the block");
  c.pos += n;
  return true;
}

// Item count of one array/map block. A negative count is followed by the block's byte size,
// which is read and returned in `*byte_size` (else -1). Counts are bounded by the bytes left
// when items are not zero-size, so corrupt counts cannot cause huge loops.
inline bool ReadBlockCount(Cursor& c, bool zero_size_items, int64_t* count, int64_t* byte_size) {
  int64_t n;
  if (!ReadLong(c, &n)) return false;
  *byte_size = -1;
  if (n < 0) {
    if (LIRANK_UNLIKELY(n == INT64_MIN)) return c.Fail("invalid array block count");
    n = -n;
    if (!ReadLong(c, byte_size)) return false;
    if (LIRANK_UNLIKELY(*byte_size < 0 ||
                        static_cast<uint64_t>(*byte_size) > c.remaining())) {
      return c.Fail("invalid array block byte size");
    }
  }
  if (LIRANK_UNLIKELY(!zero_size_items && static_cast<uint64_t>(n) > c.remaining())) {
    return c.Fail("array block count exceeds the bytes left in the block");
  }
  *count = n;
  return true;
}

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_BINARY_H_
