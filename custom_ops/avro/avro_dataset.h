// The tf.data dataset of the LirankAvroTensorDataset op: reads the Avro files named by its
// input dataset (scalar strings) into batches of feature tensors.
#ifndef LIRANK_AVRO_AVRO_DATASET_H_
#define LIRANK_AVRO_AVRO_DATASET_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "avro/feature_spec.h"
#include "tensorflow/core/framework/dataset.h"

namespace lirank {
namespace avro {

struct AvroDatasetOptions {
  int64_t batch_size = 1;
  int64_t shuffle_buffer_size = 0;
  bool drop_remainder = false;
  int64_t num_parallel_calls = 1;  // -1: AUTOTUNE
  int64_t reader_buffer_size = 256 * 1024;
  int64_t seed = 0;
  int64_t seed2 = 0;
  std::string features_json;
  std::vector<FeatureSpec> features;
};

class AvroTensorDataset : public tensorflow::data::DatasetBase {
 public:
  static constexpr const char kDatasetType[] = "LirankAvroTensor";

  AvroTensorDataset(tensorflow::OpKernelContext* ctx, const DatasetBase* input,
                    AvroDatasetOptions options, tensorflow::DataTypeVector output_types,
                    std::vector<tensorflow::PartialTensorShape> output_shapes);
  ~AvroTensorDataset() override;

  std::unique_ptr<tensorflow::data::IteratorBase> MakeIteratorInternal(
      const std::string& prefix) const override;
  const tensorflow::DataTypeVector& output_dtypes() const override { return output_types_; }
  const std::vector<tensorflow::PartialTensorShape>& output_shapes() const override {
    return output_shapes_;
  }
  std::string DebugString() const override { return "LirankAvroTensorDatasetOp::Dataset"; }
  int64_t CardinalityInternal(tensorflow::data::CardinalityOptions options) const override;
  tensorflow::Status InputDatasets(std::vector<const DatasetBase*>* inputs) const override;
  tensorflow::Status CheckExternalState() const override;

  const DatasetBase* input() const { return input_; }
  const AvroDatasetOptions& options() const { return options_; }
  // Each new iterator gets the next iteration number (reshuffling each epoch reproducibly).
  int64_t NextIteration() const { return iterations_.fetch_add(1); }

 protected:
  tensorflow::Status AsGraphDefInternal(tensorflow::data::SerializationContext* ctx,
                                        DatasetGraphDefBuilder* b,
                                        tensorflow::Node** output) const override;

 private:
  const DatasetBase* const input_;
  const AvroDatasetOptions options_;
  const tensorflow::DataTypeVector output_types_;
  const std::vector<tensorflow::PartialTensorShape> output_shapes_;
  mutable std::atomic<int64_t> iterations_{0};
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_AVRO_DATASET_H_
