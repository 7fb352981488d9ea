// Iterator of AvroTensorDataset: reads raw blocks of the files in order, decodes them in
// parallel (DecodePipeline), buffers decoded blocks (RecordSampler) and builds each batch.
// Its state (input position, file offsets of buffered blocks, unread records, RNG) is saved
// and restored exactly, so a restored iterator continues with the very same batches.
#ifndef LIRANK_AVRO_AVRO_ITERATOR_H_
#define LIRANK_AVRO_AVRO_ITERATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "avro/avro_dataset.h"
#include "avro/avro_file.h"
#include "avro/decode_pipeline.h"
#include "avro/record_sampler.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/model.h"
#include "tensorflow/core/platform/mutex.h"

namespace lirank {
namespace avro {

class AvroTensorDatasetIterator
    : public tensorflow::data::DatasetIterator<AvroTensorDataset> {
 public:
  explicit AvroTensorDatasetIterator(const Params& params);
  ~AvroTensorDatasetIterator() override;

  tensorflow::Status Initialize(tensorflow::data::IteratorContext* ctx) override;
  tensorflow::Status GetNextInternal(tensorflow::data::IteratorContext* ctx,
                                     std::vector<tensorflow::Tensor>* out_tensors,
                                     bool* end_of_sequence) override;

 protected:
  std::shared_ptr<tensorflow::data::model::Node> CreateNode(
      tensorflow::data::IteratorContext* ctx,
      tensorflow::data::model::Node::Args args) const override;
  tensorflow::Status SaveInternal(tensorflow::data::SerializationContext* ctx,
                                  tensorflow::data::IteratorStateWriter* writer) override;
  tensorflow::Status RestoreInternal(tensorflow::data::IteratorContext* ctx,
                                     tensorflow::data::IteratorStateReader* reader) override;

 private:
  tensorflow::Status GetNextLocked(tensorflow::data::IteratorContext* ctx,
                                   std::vector<tensorflow::Tensor>* out_tensors,
                                   bool* end_of_sequence) TF_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  tensorflow::Status RestoreLocked(tensorflow::data::IteratorContext* ctx,
                                   tensorflow::data::IteratorStateReader* reader)
      TF_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads raw blocks and submits them until `depth_` blocks are in flight or input ends.
  tensorflow::Status FillPipeline(tensorflow::data::IteratorContext* ctx)
      TF_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  tensorflow::Status OpenNextFile(tensorflow::data::IteratorContext* ctx, bool* end)
      TF_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BuildBatch(tensorflow::data::IteratorContext* ctx, const std::vector<RecordRef>& picks,
                  std::vector<tensorflow::Tensor>* out) TF_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AvroDatasetOptions& options_;
  tensorflow::mutex mu_;
  std::unique_ptr<tensorflow::data::IteratorBase> input_impl_ TF_GUARDED_BY(mu_);
  bool input_exhausted_ TF_GUARDED_BY(mu_) = false;
  int num_threads_ = 1;
  size_t depth_ = 1;  // raw blocks in flight (decoding or decoded, not yet buffered)
  std::unique_ptr<tensorflow::thread::ThreadPool> pool_;
  std::unique_ptr<DecodePipeline> pipeline_ TF_GUARDED_BY(mu_);
  std::unique_ptr<OpenAvroFile> current_file_ TF_GUARDED_BY(mu_);
  RecordSampler sampler_ TF_GUARDED_BY(mu_);
  Rng rng_ TF_GUARDED_BY(mu_);
  ProgramCache programs_;
  std::vector<int> output_offsets_;  // first op output of each feature
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_AVRO_ITERATOR_H_
