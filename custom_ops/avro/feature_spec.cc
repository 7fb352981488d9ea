#include "avro/feature_spec.h"

#include "avro/json.h"

namespace lirank {
namespace avro {

namespace {
absl::Status SpecError(const std::string& feature, const std::string& what) {
  return absl::InvalidArgumentError("invalid feature spec '" + feature + "': " + what);
}

bool ParseHex(const std::string& hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int value = 0;
    for (int k = 0; k < 2; ++k) {
      const char h = hex[i + k];
      value <<= 4;
      if (h >= '0' && h <= '9') value |= h - '0';
      else if (h >= 'a' && h <= 'f') value |= h - 'a' + 10;
      else return false;
    }
    out->push_back(static_cast<char>(value));
  }
  return true;
}

absl::Status ParseDefault(const JsonValue& value, FeatureSpec* spec) {
  spec->has_default = true;
  switch (spec->dtype) {
    case DType::kInt32:
    case DType::kInt64:
      if (!value.is_integer()) return SpecError(spec->name, "default must be an integer");
      if (spec->dtype == DType::kInt32 &&
          (value.integer() < INT32_MIN || value.integer() > INT32_MAX)) {
        return SpecError(spec->name, "default is out of the int32 range");
      }
      spec->default_int = value.integer();
      return absl::OkStatus();
    case DType::kFloat32:
    case DType::kFloat64:
      if (!value.is_number()) return SpecError(spec->name, "default must be a number");
      spec->default_float = value.number();
      return absl::OkStatus();
    case DType::kBool:
      if (!value.is_bool()) return SpecError(spec->name, "default must be a boolean");
      spec->default_bool = value.bool_value();
      return absl::OkStatus();
    case DType::kString:
      if (!value.is_string() || !ParseHex(value.str(), &spec->default_string)) {
        return SpecError(spec->name, "default must be hex-encoded bytes");
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}
}  // namespace

int FeatureSpec::ragged_rank() const {
  int rank = 0;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (shape[d] < 0) rank = d + 1;
  }
  return rank;
}

int64_t FeatureSpec::FixedElements(int dim) const {
  int64_t n = 1;
  for (int d = dim; d < static_cast<int>(shape.size()); ++d) n *= shape[d];
  return n;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kBool: return "bool";
    case DType::kString: return "string";
  }
  return "?";
}

const char* FeatureKindName(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kDense: return "dense";
    case FeatureKind::kSparse: return "sparse";
    case FeatureKind::kRagged: return "ragged";
    case FeatureKind::kVarlenSparse: return "varlen";
  }
  return "?";
}

std::string DescribeSpec(const FeatureSpec& spec) {
  std::string out = std::string(FeatureKindName(spec.kind)) + " " + DTypeName(spec.dtype) + " [";
  for (size_t d = 0; d < spec.shape.size(); ++d) {
    if (d) out += ", ";
    out += spec.shape[d] < 0 ? std::string("None") : std::to_string(spec.shape[d]);
  }
  return out + "]";
}

absl::Status ParseFeatureSpecs(std::string_view json_text, std::vector<FeatureSpec>* specs) {
  JsonValue json;
  absl::Status status = ParseJson(json_text, &json);
  if (!status.ok()) return absl::InvalidArgumentError("invalid feature spec JSON: " +
                                                      std::string(status.message()));
  if (!json.is_array() || json.items().empty()) {
    return absl::InvalidArgumentError("the feature spec must be a non-empty JSON list");
  }
  specs->clear();
  for (const JsonValue& item : json.items()) {
    FeatureSpec spec;
    const JsonValue* name = item.Find("name");
    const JsonValue* kind = item.Find("kind");
    const JsonValue* dtype = item.Find("dtype");
    const JsonValue* shape = item.Find("shape");
    if (name == nullptr || !name->is_string() || name->str().empty()) {
      return absl::InvalidArgumentError("feature spec without a name: " + item.ToString());
    }
    spec.name = name->str();
    for (const FeatureSpec& other : *specs) {
      if (other.name == spec.name) return SpecError(spec.name, "defined twice");
    }
    if (kind == nullptr || !kind->is_string()) return SpecError(spec.name, "missing kind");
    if (kind->str() == "dense") spec.kind = FeatureKind::kDense;
    else if (kind->str() == "sparse") spec.kind = FeatureKind::kSparse;
    else if (kind->str() == "ragged") spec.kind = FeatureKind::kRagged;
    else if (kind->str() == "varlen") spec.kind = FeatureKind::kVarlenSparse;
    else return SpecError(spec.name, "unknown kind '" + kind->str() + "'");
    if (dtype == nullptr || !dtype->is_string()) return SpecError(spec.name, "missing dtype");
    static const std::pair<const char*, DType> kDTypes[] = {
        {"int32", DType::kInt32}, {"int64", DType::kInt64},     {"float32", DType::kFloat32},
        {"float64", DType::kFloat64}, {"bool", DType::kBool},   {"string", DType::kString}};
    bool known = false;
    for (const auto& entry : kDTypes) {
      if (dtype->str() == entry.first) {
        spec.dtype = entry.second;
        known = true;
      }
    }
    if (!known) return SpecError(spec.name, "unsupported dtype '" + dtype->str() + "'");
    if (shape == nullptr || !shape->is_array()) return SpecError(spec.name, "missing shape");
    if (shape->items().size() > kMaxRank) return SpecError(spec.name, "rank above 8");
    for (const JsonValue& dim : shape->items()) {
      if (!dim.is_integer() || dim.integer() < -1 || dim.integer() == 0 ||
          dim.integer() > (int64_t{1} << 31)) {
        return SpecError(spec.name, "dimensions must be positive or -1, got " + dim.ToString());
      }
      spec.shape.push_back(dim.integer());
    }
    const bool has_unknown = spec.ragged_rank() > 0;
    if (spec.kind == FeatureKind::kDense && has_unknown) {
      return SpecError(spec.name, "a dense feature needs a fully known shape");
    }
    if ((spec.kind == FeatureKind::kRagged || spec.kind == FeatureKind::kVarlenSparse) &&
        !has_unknown) {
      return SpecError(spec.name, "a ragged/varlen feature needs at least one -1 dimension");
    }
    if (spec.kind == FeatureKind::kSparse && spec.shape.empty()) {
      return SpecError(spec.name, "a sparse feature needs rank >= 1");
    }
    const JsonValue* default_value = item.Find("default");
    if (default_value != nullptr && !default_value->is_null()) {
      status = ParseDefault(*default_value, &spec);
      if (!status.ok()) return status;
    }
    specs->push_back(std::move(spec));
  }
  return absl::OkStatus();
}

}  // namespace avro
}  // namespace lirank
