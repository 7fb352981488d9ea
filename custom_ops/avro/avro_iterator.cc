#include "avro/avro_iterator.h"

#include <random>

#include "avro/status_text.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/platform/cpu_info.h"

namespace lirank {
namespace avro {

using ::tensorflow::mutex_lock;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::data::IteratorContext;
namespace model = ::tensorflow::data::model;

namespace {

uint64_t MixSeed(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
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
  // Raw blocks in flight: with helpers, enough that nobody waits for the consumer's reads.
  depth_ = num_threads_ == 1 ? 1 : static_cast<size_t>(std::max(8, 4 * num_threads_));
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

}  // namespace avro
}  // namespace lirank
