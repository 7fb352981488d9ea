#include "avro/avro_iterator.h"

#include <map>
#include <random>

#include "avro/block_decoder.h"
#include "avro/status_text.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/platform/cpu_info.h"

namespace lirank {
namespace avro {

using ::tensorflow::mutex_lock;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::data::IteratorContext;
using ::tensorflow::data::IteratorStateReader;
using ::tensorflow::data::IteratorStateWriter;
using ::tensorflow::data::SerializationContext;
namespace model = ::tensorflow::data::model;

namespace {

uint64_t MixSeed(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string Key(const char* name, size_t index) {
  return "block_" + std::to_string(index) + "_" + name;
}

}  // namespace

AvroTensorDatasetIterator::AvroTensorDatasetIterator(const Params& params)
    : DatasetIterator<AvroTensorDataset>(params),
      options_(params.dataset->options()),
      sampler_(params.dataset->options().shuffle_buffer_size > 0),
      programs_(params.dataset->options().features) {
  int offset = 0;
  for (const FeatureSpec& spec : options_.features) {
    output_offsets_.push_back(offset);
    offset += NumOutputs(spec);
  }
}

AvroTensorDatasetIterator::~AvroTensorDatasetIterator() {
  // Tasks own their data; destroying the pool waits for workers still decoding.
  pipeline_.reset();
  pool_.reset();
}

Status AvroTensorDatasetIterator::Initialize(IteratorContext* ctx) {
  mutex_lock lock(mu_);
  int64_t threads = options_.num_parallel_calls;
  if (threads == model::kAutotune || threads <= 0) {
    threads = tensorflow::port::MaxParallelism();
  }
  num_threads_ = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, 256)));
  depth_ = num_threads_ == 1 ? 1 : static_cast<size_t>(2 * num_threads_);
  if (num_threads_ > 1) {
    pool_ = ctx->CreateThreadPool("lirank_avro_decode", num_threads_ - 1);
  }
  pipeline_ = std::make_unique<DecodePipeline>(pool_.get());
  // Seeds: (0, 0) draws a fresh random order per iterator; otherwise each iteration over the
  // dataset gets a different order derived reproducibly from the seeds.
  uint64_t seed;
  if (options_.seed == 0 && options_.seed2 == 0) {
    std::random_device device;
    seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  } else {
    seed = MixSeed(MixSeed(static_cast<uint64_t>(options_.seed),
                           static_cast<uint64_t>(options_.seed2)),
                   static_cast<uint64_t>(dataset()->NextIteration()));
  }
  rng_.Reset(seed, 0);
  return dataset()->input()->MakeIterator(ctx, this, prefix(), &input_impl_);
}

std::shared_ptr<model::Node> AvroTensorDatasetIterator::CreateNode(
    IteratorContext* ctx, model::Node::Args args) const {
  return model::MakeSourceNode(std::move(args));
}

Status AvroTensorDatasetIterator::OpenNextFile(IteratorContext* ctx, bool* end) {
  *end = false;
  std::vector<Tensor> filename;
  bool input_end = false;
  TF_RETURN_IF_ERROR(input_impl_->GetNext(ctx, &filename, &input_end));
  if (input_end) {
    input_exhausted_ = true;
    input_impl_.reset();
    *end = true;
    return absl::OkStatus();
  }
  if (filename.size() != 1 || filename[0].dtype() != tensorflow::DT_STRING ||
      filename[0].NumElements() != 1) {
    return absl::InvalidArgumentError("the filenames dataset must yield scalar strings");
  }
  const std::string name(filename[0].flat<tensorflow::tstring>()(0));
  auto file = std::make_unique<OpenAvroFile>();
  Status status = OpenFile(ctx->env(), name, static_cast<size_t>(options_.reader_buffer_size),
                           &programs_, file.get());
  if (!status.ok()) {
    // Reported in order, after the blocks already submitted; the file is skipped.
    pipeline_->Submit(std::make_shared<DecodeTask>(status, name, 0));
    return absl::OkStatus();
  }
  current_file_ = std::move(file);
  return absl::OkStatus();
}

Status AvroTensorDatasetIterator::FillPipeline(IteratorContext* ctx) {
  while (pipeline_->size() < depth_) {
    if (current_file_ == nullptr) {
      if (input_exhausted_) return absl::OkStatus();
      bool end = false;
      TF_RETURN_IF_ERROR(OpenNextFile(ctx, &end));
      if (end) return absl::OkStatus();
      continue;
    }
    RawBlock raw;
    bool end_of_file = false;
    const uint64_t offset = current_file_->reader->next_block_offset();
    Status status = current_file_->reader->ReadBlock(&raw, &end_of_file);
    if (!status.ok()) {
      // A block that cannot be read ends its file: report it and continue with the next.
      pipeline_->Submit(std::make_shared<DecodeTask>(status, current_file_->context->filename,
                                                     offset));
      current_file_.reset();
      continue;
    }
    if (end_of_file) {
      current_file_.reset();
      continue;
    }
    pipeline_->Submit(std::make_shared<DecodeTask>(current_file_->context, std::move(raw)));
  }
  return absl::OkStatus();
}

void AvroTensorDatasetIterator::BuildBatch(IteratorContext* ctx,
                                           const std::vector<RecordRef>& picks,
                                           std::vector<Tensor>* out) {
  out->resize(output_offsets_.empty() ? 0
                                      : output_offsets_.back() +
                                            NumOutputs(options_.features.back()));
  tensorflow::Allocator* allocator = ctx->allocator({});
  for (size_t f = 0; f < options_.features.size(); ++f) {
    BuildFeature(options_.features[f], static_cast<int>(f), picks, allocator,
                 out->data() + output_offsets_[f]);
  }
}

Status AvroTensorDatasetIterator::GetNextInternal(IteratorContext* ctx,
                                                  std::vector<Tensor>* out_tensors,
                                                  bool* end_of_sequence) {
  mutex_lock lock(mu_);
  return MakePrintable(GetNextLocked(ctx, out_tensors, end_of_sequence));
}

Status AvroTensorDatasetIterator::GetNextLocked(IteratorContext* ctx,
                                                std::vector<Tensor>* out_tensors,
                                                bool* end_of_sequence) {
  const int64_t batch = options_.batch_size;
  const int64_t wanted = batch + options_.shuffle_buffer_size;
  while (sampler_.buffered() < wanted) {
    TF_RETURN_IF_ERROR(FillPipeline(ctx));
    if (pipeline_->empty()) break;  // all input read
    std::shared_ptr<DecodedBlock> block;
    Status status = pipeline_->PopFront(&block);
    if (!status.ok()) {
      TF_RETURN_IF_ERROR(FillPipeline(ctx));  // keep the workers busy past the bad block
      return status;
    }
    sampler_.Add(std::move(block));
  }
  TF_RETURN_IF_ERROR(FillPipeline(ctx));  // decode ahead while this batch is built
  const int64_t n = std::min(batch, sampler_.buffered());
  if (n == 0 || (n < batch && options_.drop_remainder)) {
    *end_of_sequence = true;
    return absl::OkStatus();
  }
  std::vector<RecordRef> picks;
  std::vector<std::shared_ptr<DecodedBlock>> hold;
  sampler_.Take(n, &rng_, &picks, &hold);
  BuildBatch(ctx, picks, out_tensors);
  *end_of_sequence = false;
  return absl::OkStatus();
}

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
