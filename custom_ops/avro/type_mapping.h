// Which Avro types each output dtype reads, and how (the leaf conversions of decode steps).
#ifndef LIRANK_AVRO_TYPE_MAPPING_H_
#define LIRANK_AVRO_TYPE_MAPPING_H_

#include <cstdint>

#include "avro/feature_spec.h"
#include "avro/schema.h"

namespace lirank {
namespace avro {

// How a leaf Avro value becomes an output value.
enum class LeafKind : uint8_t {
  kBoolToBool, kIntToInt32, kIntToInt64, kLongToInt64, kLongToInt32,
  kFloatToFloat32, kFloatToFloat64, kDoubleToFloat64, kDoubleToFloat32,
  kBytesToString, kFixedToString, kEnumToString, kEnumToInt32, kEnumToInt64,
};

// The conversion of Avro `type` values to `dtype`; false if `dtype` cannot read `type`.
bool LeafFor(AvroType type, DType dtype, LeafKind* kind);

// The Avro types `dtype` accepts, for error messages.
const char* AcceptedTypes(DType dtype);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_TYPE_MAPPING_H_
