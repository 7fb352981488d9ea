#include "avro/type_mapping.h"

namespace lirank {
namespace avro {

// Avro types each output dtype accepts, for error messages.
const char* AcceptedTypes(DType dtype) {
  switch (dtype) {
    case DType::kInt32: return "int, long (range-checked) or enum (symbol index)";
    case DType::kInt64: return "int, long or enum (symbol index)";
    case DType::kFloat32: return "float or double (range-checked)";
    case DType::kFloat64: return "float or double";
    case DType::kBool: return "boolean";
    case DType::kString: return "string, bytes, fixed or enum (symbol)";
  }
  return "?";
}

bool LeafFor(AvroType type, DType dtype, LeafKind* kind) {
  switch (dtype) {
    case DType::kInt32:
      if (type == AvroType::kInt) *kind = LeafKind::kIntToInt32;
      else if (type == AvroType::kLong) *kind = LeafKind::kLongToInt32;
      else if (type == AvroType::kEnum) *kind = LeafKind::kEnumToInt32;
      else return false;
      return true;
    case DType::kInt64:
      if (type == AvroType::kInt) *kind = LeafKind::kIntToInt64;
      else if (type == AvroType::kLong) *kind = LeafKind::kLongToInt64;
      else if (type == AvroType::kEnum) *kind = LeafKind::kEnumToInt64;
      else return false;
      return true;
    case DType::kFloat32:
      if (type == AvroType::kFloat) *kind = LeafKind::kFloatToFloat32;
      else if (type == AvroType::kDouble) *kind = LeafKind::kDoubleToFloat32;
      else return false;
      return true;
    case DType::kFloat64:
      if (type == AvroType::kFloat) *kind = LeafKind::kFloatToFloat64;
      else if (type == AvroType::kDouble) *kind = LeafKind::kDoubleToFloat64;
      else return false;
      return true;
    case DType::kBool:
      if (type != AvroType::kBoolean) return false;
      *kind = LeafKind::kBoolToBool;
      return true;
    case DType::kString:
      if (type == AvroType::kString || type == AvroType::kBytes) *kind = LeafKind::kBytesToString;
      else if (type == AvroType::kFixed) *kind = LeafKind::kFixedToString;
      else if (type == AvroType::kEnum) *kind = LeafKind::kEnumToString;
      else return false;
      return true;
  }
  return false;
}

}  // namespace avro
}  // namespace lirank
