// Checkpointing of AvroTensorDatasetIterator (SaveInternal / RestoreInternal).
//
// Saved: the filenames iterator, the RNG (seed, counter), the open file and the offset of its
// next block, every buffered block by (file, byte offset) with its unread records (in sampling
// order), and the (file, offset) of blocks still being decoded. Restoring reopens the files by
// name and re-reads those blocks, so a restored iterator yields exactly the batches the saved
// one would have.
#include <map>
#include <string>

#include "avro/avro_iterator.h"
#include "avro/block_decoder.h"
#include "avro/status_text.h"
#include "tensorflow/core/framework/tensor.h"

namespace lirank {
namespace avro {

using ::tensorflow::mutex_lock;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::data::IteratorContext;
using ::tensorflow::data::IteratorStateReader;
using ::tensorflow::data::IteratorStateWriter;
using ::tensorflow::data::SerializationContext;

namespace {
std::string Key(const char* name, size_t index) {
  return "block_" + std::to_string(index) + "_" + name;
}
}  // namespace

Status AvroTensorDatasetIterator::SaveInternal(SerializationContext* ctx,
                                               IteratorStateWriter* writer) {
  mutex_lock lock(mu_);
  const std::string& p = prefix();
  TF_RETURN_IF_ERROR(writer->WriteScalar(p, "input_exhausted", input_exhausted_ ? 1 : 0));
  if (!input_exhausted_) TF_RETURN_IF_ERROR(SaveInput(ctx, writer, input_impl_));
  TF_RETURN_IF_ERROR(writer->WriteScalar(p, "rng_seed", static_cast<int64_t>(rng_.seed())));
  TF_RETURN_IF_ERROR(writer->WriteScalar(p, "rng_counter",
                                         static_cast<int64_t>(rng_.counter())));
  TF_RETURN_IF_ERROR(writer->WriteScalar(
      p, "current_file", current_file_ ? current_file_->context->filename : std::string()));
  TF_RETURN_IF_ERROR(writer->WriteScalar(
      p, "current_offset",
      current_file_ ? static_cast<int64_t>(current_file_->reader->next_block_offset()) : 0));
  // Buffered blocks (with their unread records), then blocks still in the pipeline.
  size_t index = 0;
  const bool shuffle = options_.shuffle_buffer_size > 0;
  for (const BufferedBlock& buffered : sampler_.blocks()) {
    TF_RETURN_IF_ERROR(writer->WriteScalar(p, Key("file", index), buffered.block->file->filename));
    TF_RETURN_IF_ERROR(writer->WriteScalar(p, Key("offset", index),
                                           static_cast<int64_t>(buffered.block->offset)));
    TF_RETURN_IF_ERROR(writer->WriteScalar(p, Key("next", index), buffered.next));
    if (shuffle) {
      Tensor remaining(tensorflow::DT_INT32,
                       tensorflow::TensorShape({static_cast<int64_t>(buffered.remaining.size())}));
      std::copy(buffered.remaining.begin(), buffered.remaining.end(),
                remaining.flat<int32_t>().data());
      TF_RETURN_IF_ERROR(writer->WriteTensor(p, Key("remaining", index), remaining));
    }
    ++index;
  }
  TF_RETURN_IF_ERROR(writer->WriteScalar(p, "num_buffered_blocks", static_cast<int64_t>(index)));
  size_t task_index = 0;
  for (const std::shared_ptr<DecodeTask>& task : pipeline_->tasks()) {
    TF_RETURN_IF_ERROR(writer->WriteScalar(p, Key("task_file", task_index), task->filename()));
    TF_RETURN_IF_ERROR(writer->WriteScalar(p, Key("task_offset", task_index),
                                           static_cast<int64_t>(task->offset())));
    ++task_index;
  }
  return writer->WriteScalar(p, "num_tasks", static_cast<int64_t>(task_index));
}

Status AvroTensorDatasetIterator::RestoreInternal(IteratorContext* ctx,
                                                  IteratorStateReader* reader) {
  mutex_lock lock(mu_);
  return MakePrintable(RestoreLocked(ctx, reader));
}

Status AvroTensorDatasetIterator::RestoreLocked(IteratorContext* ctx,
                                                IteratorStateReader* reader) {
  const std::string& p = prefix();
  int64_t value = 0;
  TF_RETURN_IF_ERROR(reader->ReadScalar(p, "input_exhausted", &value));
  input_exhausted_ = value != 0;
  if (input_exhausted_) {
    input_impl_.reset();
  } else {
    TF_RETURN_IF_ERROR(RestoreInput(ctx, reader, input_impl_));
  }
  int64_t seed = 0, counter = 0;
  TF_RETURN_IF_ERROR(reader->ReadScalar(p, "rng_seed", &seed));
  TF_RETURN_IF_ERROR(reader->ReadScalar(p, "rng_counter", &counter));
  rng_.Reset(static_cast<uint64_t>(seed), static_cast<uint64_t>(counter));

  // Files are reopened by name; the blocks at the saved offsets are read again.
  std::map<std::string, std::unique_ptr<OpenAvroFile>> files;
  auto open = [&](const std::string& name, OpenAvroFile** file) -> Status {
    auto it = files.find(name);
    if (it == files.end()) {
      auto opened = std::make_unique<OpenAvroFile>();
      TF_RETURN_IF_ERROR(OpenFile(ctx->env(), name,
                                  static_cast<size_t>(options_.reader_buffer_size), &programs_,
                                  opened.get()));
      it = files.emplace(name, std::move(opened)).first;
    }
    *file = it->second.get();
    return absl::OkStatus();
  };
  auto read_block = [&](OpenAvroFile* file, int64_t offset, RawBlock* raw) -> Status {
    TF_RETURN_IF_ERROR(file->reader->SeekToBlock(static_cast<uint64_t>(offset)));
    bool end_of_file = false;
    TF_RETURN_IF_ERROR(file->reader->ReadBlock(raw, &end_of_file));
    if (end_of_file) {
      return absl::DataLossError(file->context->filename + ": no block at byte offset " +
                                 std::to_string(offset) + " (was the file changed?)");
    }
    return absl::OkStatus();
  };

  const bool shuffle = options_.shuffle_buffer_size > 0;
  sampler_ = RecordSampler(shuffle);
  int64_t num_blocks = 0;
  TF_RETURN_IF_ERROR(reader->ReadScalar(p, "num_buffered_blocks", &num_blocks));
  for (int64_t i = 0; i < num_blocks; ++i) {
    tensorflow::tstring name;
    int64_t offset = 0;
    TF_RETURN_IF_ERROR(reader->ReadScalar(p, Key("file", i), &name));
    TF_RETURN_IF_ERROR(reader->ReadScalar(p, Key("offset", i), &offset));
    OpenAvroFile* file = nullptr;
    TF_RETURN_IF_ERROR(open(std::string(name), &file));
    RawBlock raw;
    TF_RETURN_IF_ERROR(read_block(file, offset, &raw));
    BufferedBlock buffered;
    buffered.block = std::make_shared<DecodedBlock>();
    TF_RETURN_IF_ERROR(DecodeBlock(file->context, &raw, buffered.block.get()));
    TF_RETURN_IF_ERROR(reader->ReadScalar(p, Key("next", i), &buffered.next));
    if (buffered.next < 0 || buffered.next > buffered.block->num_records) {
      return absl::DataLossError("corrupt iterator checkpoint: bad record position");
    }
    if (shuffle) {
      Tensor remaining;
      TF_RETURN_IF_ERROR(reader->ReadTensor(p, Key("remaining", i), &remaining));
      const auto ids = remaining.flat<int32_t>();
      for (int64_t k = 0; k < ids.size(); ++k) {
        if (ids(k) < 0 || ids(k) >= buffered.block->num_records) {
          return absl::DataLossError("corrupt iterator checkpoint: bad record id");
        }
        buffered.remaining.push_back(ids(k));
      }
    }
    sampler_.AddRestored(std::move(buffered));
  }

  pipeline_ = std::make_unique<DecodePipeline>(pool_.get());
  int64_t num_tasks = 0;
  TF_RETURN_IF_ERROR(reader->ReadScalar(p, "num_tasks", &num_tasks));
  for (int64_t i = 0; i < num_tasks; ++i) {
    tensorflow::tstring name;
    int64_t offset = 0;
    TF_RETURN_IF_ERROR(reader->ReadScalar(p, Key("task_file", i), &name));
    TF_RETURN_IF_ERROR(reader->ReadScalar(p, Key("task_offset", i), &offset));
    OpenAvroFile* file = nullptr;
    Status status = open(std::string(name), &file);
    RawBlock raw;
    if (status.ok()) status = read_block(file, offset, &raw);
    if (!status.ok()) {  // the error is reported again at the same place in the stream
      pipeline_->Submit(std::make_shared<DecodeTask>(status, std::string(name),
                                                     static_cast<uint64_t>(offset)));
      continue;
    }
    pipeline_->Submit(std::make_shared<DecodeTask>(file->context, std::move(raw)));
  }

  tensorflow::tstring current;
  int64_t current_offset = 0;
  TF_RETURN_IF_ERROR(reader->ReadScalar(p, "current_file", &current));
  TF_RETURN_IF_ERROR(reader->ReadScalar(p, "current_offset", &current_offset));
  current_file_.reset();
  if (!current.empty()) {
    auto file = std::make_unique<OpenAvroFile>();
    TF_RETURN_IF_ERROR(OpenFile(ctx->env(), std::string(current),
                                static_cast<size_t>(options_.reader_buffer_size), &programs_,
                                file.get()));
    TF_RETURN_IF_ERROR(file->reader->SeekToBlock(static_cast<uint64_t>(current_offset)));
    current_file_ = std::move(file);
  }
  return absl::OkStatus();
}

}  // namespace avro
}  // namespace lirank
