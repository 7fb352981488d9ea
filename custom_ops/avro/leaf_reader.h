// Reading one leaf value of each LeafKind: the inner loops of decoding, instantiated per kind
// so no type dispatch happens per value.
#ifndef LIRANK_AVRO_LEAF_READER_H_
#define LIRANK_AVRO_LEAF_READER_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "avro/binary.h"
#include "avro/decode_program.h"

namespace lirank {
namespace avro {

template <LeafKind K> struct LeafOut;
template <> struct LeafOut<LeafKind::kBoolToBool> { using T = bool; };
template <> struct LeafOut<LeafKind::kIntToInt32> { using T = int32_t; };
template <> struct LeafOut<LeafKind::kIntToInt64> { using T = int64_t; };
template <> struct LeafOut<LeafKind::kLongToInt64> { using T = int64_t; };
template <> struct LeafOut<LeafKind::kLongToInt32> { using T = int32_t; };
template <> struct LeafOut<LeafKind::kFloatToFloat32> { using T = float; };
template <> struct LeafOut<LeafKind::kFloatToFloat64> { using T = double; };
template <> struct LeafOut<LeafKind::kDoubleToFloat64> { using T = double; };
template <> struct LeafOut<LeafKind::kDoubleToFloat32> { using T = float; };
template <> struct LeafOut<LeafKind::kBytesToString> { using T = StrRef; };
template <> struct LeafOut<LeafKind::kFixedToString> { using T = StrRef; };
template <> struct LeafOut<LeafKind::kEnumToString> { using T = StrRef; };
template <> struct LeafOut<LeafKind::kEnumToInt32> { using T = int32_t; };
template <> struct LeafOut<LeafKind::kEnumToInt64> { using T = int64_t; };

// A value that is valid Avro but does not fit the output dtype (InvalidArgument, not DataLoss).
inline bool ValueError(Cursor& c, std::string* value_error, const std::string& what) {
  *value_error = what;
  c.error = "value error";
  return false;
}

// Reads one value of kind K into *out. On failure returns false with c.error set, and for
// values out of the output dtype's range also *value_error.
template <LeafKind K>
inline bool ReadLeaf(Cursor& c, const Step& s, const Program& program, std::string* value_error,
                     typename LeafOut<K>::T* out) {
  if constexpr (K == LeafKind::kBoolToBool) {
    return ReadBool(c, out);
  } else if constexpr (K == LeafKind::kIntToInt32) {
    return ReadInt(c, out);
  } else if constexpr (K == LeafKind::kIntToInt64) {
    int32_t v;
    if (!ReadInt(c, &v)) return false;
    *out = v;
    return true;
  } else if constexpr (K == LeafKind::kLongToInt64) {
    return ReadLong(c, out);
  } else if constexpr (K == LeafKind::kLongToInt32) {
    int64_t v;
    if (!ReadLong(c, &v)) return false;
    if (LIRANK_UNLIKELY(v < INT32_MIN || v > INT32_MAX)) {
      return ValueError(c, value_error, "long value " + std::to_string(v) + " is outside the int32 range");
    }
    *out = static_cast<int32_t>(v);
    return true;
  } else if constexpr (K == LeafKind::kFloatToFloat32) {
    return ReadFloat(c, out);
  } else if constexpr (K == LeafKind::kFloatToFloat64) {
    float v;
    if (!ReadFloat(c, &v)) return false;
    *out = v;
    return true;
  } else if constexpr (K == LeafKind::kDoubleToFloat64) {
    return ReadDouble(c, out);
  } else if constexpr (K == LeafKind::kDoubleToFloat32) {
    double v;
    if (!ReadDouble(c, &v)) return false;
    const float f = static_cast<float>(v);
    if (LIRANK_UNLIKELY(std::isfinite(v) && !std::isfinite(f))) {
      return ValueError(c, value_error, "double value " + std::to_string(v) + " is outside the float32 range");
    }
    *out = f;
    return true;
  } else if constexpr (K == LeafKind::kBytesToString) {
    const char* data;
    size_t size;
    if (!ReadBytes(c, &data, &size)) return false;
    *out = StrRef{data, size};
    return true;
  } else if constexpr (K == LeafKind::kFixedToString) {
    const uint64_t size = static_cast<uint64_t>(s.arg);
    if (LIRANK_UNLIKELY(size > c.remaining())) return c.Fail("truncated fixed value");
    *out = StrRef{reinterpret_cast<const char*>(c.pos), size};
    c.pos += size;
    return true;
  } else {  // enums
    int32_t index;
    if (!ReadInt(c, &index)) return false;
    const std::vector<StrRef>& table = program.enum_tables[s.arg];
    if (LIRANK_UNLIKELY(index < 0 || index >= static_cast<int32_t>(table.size()))) {
      return c.Fail("enum symbol index out of range");
    }
    if constexpr (K == LeafKind::kEnumToString) {
      *out = table[index];
    } else {
      *out = index;
    }
    return true;
  }
}

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_LEAF_READER_H_
