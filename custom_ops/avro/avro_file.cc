#include "avro/avro_file.h"

namespace lirank {
namespace avro {

namespace {
constexpr size_t kMaxCachedPrograms = 64;
}

absl::Status ProgramCache::Get(const std::string& schema_json,
                               std::shared_ptr<const Program>* program) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = programs_.find(schema_json);
  if (it != programs_.end()) {
    *program = it->second;
    return absl::OkStatus();
  }
  auto schema = std::make_shared<Schema>();
  absl::Status status = Schema::Parse(schema_json, schema.get());
  if (!status.ok()) return status;
  auto compiled = std::make_shared<Program>();
  status = CompileProgram(std::move(schema), features_, compiled.get());
  if (!status.ok()) return status;
  if (programs_.size() >= kMaxCachedPrograms) programs_.clear();
  programs_.emplace(schema_json, compiled);
  *program = std::move(compiled);
  return absl::OkStatus();
}

absl::Status OpenFile(tensorflow::Env* env, const std::string& filename, size_t buffer_size,
                      ProgramCache* programs, OpenAvroFile* out) {
  uint64_t file_size = 0;
  absl::Status status = env->GetFileSize(filename, &file_size);
  std::unique_ptr<tensorflow::RandomAccessFile> file;
  if (status.ok()) status = env->NewRandomAccessFile(filename, &file);
  if (!status.ok()) {
    return absl::Status(status.code(), "cannot open Avro file " + filename + ": " +
                                           std::string(status.message()));
  }
  out->reader = std::make_unique<BlockReader>(filename, std::move(file), file_size, buffer_size);
  FileHeader header;
  status = out->reader->ReadHeader(&header);
  if (!status.ok()) return status;
  auto context = std::make_shared<FileContext>();
  context->filename = filename;
  context->codec = header.codec;
  status = programs->Get(header.schema_json, &context->program);
  if (!status.ok()) {
    return absl::Status(status.code(), filename + ": " + std::string(status.message()));
  }
  out->context = std::move(context);
  return absl::OkStatus();
}

}  // namespace avro
}  // namespace lirank
