// Runs a file's decode program over every record of one block, writing columnar values.
#ifndef LIRANK_AVRO_BLOCK_DECODER_H_
#define LIRANK_AVRO_BLOCK_DECODER_H_

#include "absl/status/status.h"
#include "avro/block_reader.h"
#include "avro/decoded_block.h"

namespace lirank {
namespace avro {

// Decompresses and decodes `raw` (a block of `file`) into `*out`. Errors name the file, the
// block's byte offset, the record and the field: DataLoss for corrupt bytes, InvalidArgument
// for values that do not fit the spec (out of range, wrong length, null without default).
absl::Status DecodeBlock(std::shared_ptr<const FileContext> file, RawBlock* raw,
                         DecodedBlock* out);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_BLOCK_DECODER_H_
