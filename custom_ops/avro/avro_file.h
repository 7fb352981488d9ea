// Opens one Avro file for the dataset: header, codec, and the decode program compiled from
// its schema and the feature spec (cached by schema text, so files sharing a schema compile
// once). Spec/schema mismatches fail here, before any block is read.
#ifndef LIRANK_AVRO_AVRO_FILE_H_
#define LIRANK_AVRO_AVRO_FILE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "avro/block_reader.h"
#include "avro/decoded_block.h"
#include "avro/feature_spec.h"
#include "tensorflow/core/platform/env.h"

namespace lirank {
namespace avro {

class ProgramCache {
 public:
  explicit ProgramCache(std::vector<FeatureSpec> features) : features_(std::move(features)) {}
  absl::Status Get(const std::string& schema_json, std::shared_ptr<const Program>* program);

 private:
  const std::vector<FeatureSpec> features_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Program>> programs_;  // by schema text
};

struct OpenAvroFile {
  std::unique_ptr<BlockReader> reader;
  std::shared_ptr<const FileContext> context;
};

absl::Status OpenFile(tensorflow::Env* env, const std::string& filename, size_t buffer_size,
                      ProgramCache* programs, OpenAvroFile* out);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_AVRO_FILE_H_
