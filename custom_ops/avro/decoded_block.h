// One decoded Avro block in columnar form: per feature, typed values plus cumulative row
// splits per ragged level (or per-record entry counts for sparse features). String values are
// views into the block's decompressed bytes, which the block owns.
#ifndef LIRANK_AVRO_DECODED_BLOCK_H_
#define LIRANK_AVRO_DECODED_BLOCK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "avro/buffer.h"
#include "avro/codec.h"
#include "avro/decode_program.h"
#include "avro/feature_spec.h"

namespace lirank {
namespace avro {

// What a worker needs to decode the blocks of one file.
struct FileContext {
  std::string filename;
  Codec codec = Codec::kNull;
  std::shared_ptr<const Program> program;
};

struct FeatureColumns {
  // Exactly one of these holds the values, by the feature's dtype.
  Column<int32_t> int32_values;
  Column<int64_t> int64_values;
  Column<float> float_values;
  Column<double> double_values;
  Column<bool> bool_values;
  Column<StrRef> string_values;
  // splits[l][i]..splits[l][i+1]: the items of entry i of level l (cumulative, leading 0).
  // Level 0 has one entry per record. Sparse features use level 0 for entries per record.
  Column<int64_t> splits[kMaxRank];
  Column<int64_t> indices[kMaxRank];  // sparse features: index arrays, one per dimension
  int64_t last_count[kMaxRank + 1] = {};  // sparse: length of each array of the current record

  size_t NumValues(DType dtype) const;
};

struct DecodedBlock {
  std::shared_ptr<const FileContext> file;
  uint64_t offset = 0;     // byte offset of the block in its file
  int64_t num_records = 0;
  ByteBuffer data;         // decompressed block bytes (string values point into them)
  std::vector<FeatureColumns> columns;  // per feature of the program
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_DECODED_BLOCK_H_
