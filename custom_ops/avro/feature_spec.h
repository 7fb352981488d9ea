// The typed feature specification the Python side (lirank_tf/data/avro_features.py) passes
// to the dataset op as a JSON attribute, validated again here (the op must never trust it).
#ifndef LIRANK_AVRO_FEATURE_SPEC_H_
#define LIRANK_AVRO_FEATURE_SPEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace lirank {
namespace avro {

constexpr int kMaxRank = 8;

enum class FeatureKind {
  kDense,         // fixed shape (scalars, fixed-length nested arrays) -> Tensor [batch, *shape]
  kSparse,        // ATDS sparse record {indices0..indicesR-1, values} -> SparseTensor
  kRagged,        // nested arrays -> RaggedTensor (values + row splits per ragged level)
  kVarlenSparse,  // nested arrays -> SparseTensor (like tf.io.VarLenFeature)
};

enum class DType { kInt32, kInt64, kFloat32, kFloat64, kBool, kString };

struct FeatureSpec {
  std::string name;
  FeatureKind kind = FeatureKind::kDense;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // without the batch dimension; -1 = variable length
  bool has_default = false;    // value used for Avro nulls
  int64_t default_int = 0;
  double default_float = 0.0;
  bool default_bool = false;
  std::string default_string;

  // Number of leading dimensions stored as row splits (ragged/varlen kinds): one past the
  // last -1 in `shape`. Trailing fixed dimensions are stored flat.
  int ragged_rank() const;
  // Product of the dimensions from `dim` on (all must be fixed).
  int64_t FixedElements(int dim) const;
};

const char* DTypeName(DType dtype);
const char* FeatureKindName(FeatureKind kind);
// "int32 [batch, 4]" style description used in error messages.
std::string DescribeSpec(const FeatureSpec& spec);

// Parses and validates the JSON list of feature specs.
absl::Status ParseFeatureSpecs(std::string_view json_text, std::vector<FeatureSpec>* specs);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_FEATURE_SPEC_H_
