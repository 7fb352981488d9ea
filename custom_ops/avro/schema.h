// Avro schema model parsed from the JSON in an object container file's header.
// Nodes live in one vector and refer to each other by index, so named types can be
// referenced before they are complete (recursive schemas such as linked lists work).
#ifndef LIRANK_AVRO_SCHEMA_H_
#define LIRANK_AVRO_SCHEMA_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace lirank {
namespace avro {

enum class AvroType {
  kNull, kBoolean, kInt, kLong, kFloat, kDouble, kBytes, kString,
  kRecord, kEnum, kArray, kMap, kUnion, kFixed,
};

struct SchemaNode {
  AvroType type = AvroType::kNull;
  std::string name;                      // full name of records, enums and fixed
  std::vector<int> children;             // record fields, array items, map values, union branches
  std::vector<std::string> field_names;  // records only, parallel to `children`
  std::vector<std::string> symbols;      // enums only
  int64_t fixed_size = 0;                // fixed only
};

class Schema {
 public:
  // Parses Avro schema JSON text. Errors are InvalidArgument with a description.
  static absl::Status Parse(std::string_view json_text, Schema* out);

  int root() const { return root_; }
  const SchemaNode& node(int index) const { return nodes_[index]; }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }

  // Short human-readable type, e.g. "long", "array<string>", "union<null,long>",
  // "record lirank.Foo". Used in spec-mismatch errors.
  std::string TypeString(int index) const;

  // True when values of this type always occupy zero bytes (null, empty records, fixed(0)).
  // Every other type takes at least one byte per value, which bounds item counts by data size.
  bool IsZeroSize(int index) const { return zero_size_[index]; }

 private:
  friend class SchemaParser;
  std::vector<SchemaNode> nodes_;
  std::vector<bool> zero_size_;
  int root_ = -1;
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_SCHEMA_H_
