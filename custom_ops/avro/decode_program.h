// Compiles (file schema, feature specs) once per file into a flat program of decode steps.
//
// Each step is specialised at compile time to the exact Avro type and output dtype
// (e.g. "array of long -> int64 values, record the length as row split level 0"), so decoding
// a record is a walk over a short vector of steps with no generic type dispatch. Fields that
// are not requested compile to skip steps (adjacent ones merged: "skip 12 bytes", "skip 3
// varints"); complex skipped fields skip by schema without materialising anything.
// A spec that does not fit the schema fails here, before any block is read.
#ifndef LIRANK_AVRO_DECODE_PROGRAM_H_
#define LIRANK_AVRO_DECODE_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "avro/feature_spec.h"
#include "avro/schema.h"
#include "avro/type_mapping.h"

namespace lirank {
namespace avro {

// A string value: a view into the block's decompressed bytes (or into the program, for
// enum symbols and defaults). Plain struct so columns of it are trivially copyable.
struct StrRef {
  const char* data;
  uint64_t size;
};

enum class OpCode : uint8_t {
  kSkipBytes,    // skip `arg` bytes (merged fixed-size fields)
  kSkipVarints,  // skip `arg` varints (int, long, enum fields)
  kSkipStrings,  // skip `arg` length-prefixed values (string, bytes fields)
  kSkipType,     // skip one value of schema node `node` (records, arrays, maps, unions)
  kLeaf,         // decode one leaf value into the target column
  kLeafArray,    // decode an array of leaf values into the target column
  kArray,        // array of composite items: run the next `body_size` steps per item
  kUnion,        // union: branch `arg` runs the next `body_size` steps, `null_branch` -> null action
  kSparseEnd,    // end of an ATDS sparse record: index and value arrays must have equal lengths
};

enum class NullAction : uint8_t {
  kNone,         // union without a null branch
  kFillDefault,  // write `fill_count` default values (error if the spec has no default)
  kEmptyList,    // record a zero-length row at split level `level`
};

struct Step {
  OpCode op = OpCode::kSkipBytes;
  LeafKind leaf = LeafKind::kBoolToBool;
  NullAction null_action = NullAction::kNone;
  int8_t target = -1;      // -1: the feature's values; k >= 0: its sparse index column k
  int8_t level = -1;       // row-split level that records this array's length, or -1
  int32_t feature = -1;    // index into Program::features, -1 for skips
  int32_t field = -1;      // top-level field, for error messages
  int32_t last_field = -1; // merged skips: the last top-level field they cover
  int32_t node = -1;       // schema node (kSkipType, fixed size, enum table)
  int32_t body_size = 0;   // kArray / kUnion: number of following steps forming the body
  int32_t null_branch = -1;
  bool items_zero_size = false;  // kLeafArray: items may take zero bytes (fixed(0))
  int64_t arg = 0;         // skip count; kUnion: value branch; kLeaf fixed size; enum table
  int64_t expected = -1;   // required array length (fixed dimension), -1 if variable
  int64_t fill_count = 0;  // kFillDefault: number of default values
};

struct Program {
  std::shared_ptr<const Schema> schema;
  std::vector<FeatureSpec> features;
  std::vector<std::string> field_names;      // top-level fields of the file's record
  std::vector<Step> steps;                   // one record
  std::vector<std::vector<StrRef>> enum_tables;
  std::vector<StrRef> default_strings;       // per feature (string dtype)
  bool zero_size_records = false;            // records take no bytes (counts unbounded by size)

  const std::string& FieldName(int field) const;
  // "'a'" or, for merged skip steps, "'a' .. 'c' (skipped)".
  std::string StepFields(const Step& step) const;
};

// Compiles the decode program. Errors are InvalidArgument naming the field, the type the
// spec expects and the type found in the file's schema.
absl::Status CompileProgram(std::shared_ptr<const Schema> schema,
                            const std::vector<FeatureSpec>& features, Program* program);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_DECODE_PROGRAM_H_
