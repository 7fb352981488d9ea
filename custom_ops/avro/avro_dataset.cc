#include "avro/avro_dataset.h"

#include "avro/avro_iterator.h"

namespace lirank {
namespace avro {

using ::tensorflow::Node;
using ::tensorflow::Status;

AvroTensorDataset::AvroTensorDataset(tensorflow::OpKernelContext* ctx, const DatasetBase* input,
                                     AvroDatasetOptions options,
                                     tensorflow::DataTypeVector output_types,
                                     std::vector<tensorflow::PartialTensorShape> output_shapes)
    : DatasetBase(tensorflow::data::DatasetContext(ctx)),
      input_(input),
      options_(std::move(options)),
      output_types_(std::move(output_types)),
      output_shapes_(std::move(output_shapes)) {
  input_->Ref();
}

AvroTensorDataset::~AvroTensorDataset() { input_->Unref(); }

std::unique_ptr<tensorflow::data::IteratorBase> AvroTensorDataset::MakeIteratorInternal(
    const std::string& prefix) const {
  return std::make_unique<AvroTensorDatasetIterator>(
      AvroTensorDatasetIterator::Params{this, prefix + "::" + kDatasetType});
}

int64_t AvroTensorDataset::CardinalityInternal(
    tensorflow::data::CardinalityOptions options) const {
  return tensorflow::data::kUnknownCardinality;
}

Status AvroTensorDataset::InputDatasets(std::vector<const DatasetBase*>* inputs) const {
  inputs->push_back(input_);
  return absl::OkStatus();
}

Status AvroTensorDataset::CheckExternalState() const { return input_->CheckExternalState(); }

Status AvroTensorDataset::AsGraphDefInternal(tensorflow::data::SerializationContext* ctx,
                                             DatasetGraphDefBuilder* b, Node** output) const {
  Node* input_node = nullptr;
  TF_RETURN_IF_ERROR(b->AddInputDataset(ctx, input_, &input_node));
  Node* batch_size = nullptr;
  Node* shuffle_buffer_size = nullptr;
  Node* drop_remainder = nullptr;
  Node* num_parallel_calls = nullptr;
  Node* reader_buffer_size = nullptr;
  Node* seed = nullptr;
  Node* seed2 = nullptr;
  TF_RETURN_IF_ERROR(b->AddScalar(options_.batch_size, &batch_size));
  TF_RETURN_IF_ERROR(b->AddScalar(options_.shuffle_buffer_size, &shuffle_buffer_size));
  TF_RETURN_IF_ERROR(b->AddScalar(options_.drop_remainder, &drop_remainder));
  TF_RETURN_IF_ERROR(b->AddScalar(options_.num_parallel_calls, &num_parallel_calls));
  TF_RETURN_IF_ERROR(b->AddScalar(options_.reader_buffer_size, &reader_buffer_size));
  TF_RETURN_IF_ERROR(b->AddScalar(options_.seed, &seed));
  TF_RETURN_IF_ERROR(b->AddScalar(options_.seed2, &seed2));
  tensorflow::AttrValue features;
  b->BuildAttrValue(options_.features_json, &features);
  tensorflow::AttrValue output_types;
  b->BuildAttrValue(output_types_, &output_types);
  tensorflow::AttrValue output_shapes;
  b->BuildAttrValue(output_shapes_, &output_shapes);
  return b->AddDataset(this,
                       {input_node, batch_size, shuffle_buffer_size, drop_remainder,
                        num_parallel_calls, reader_buffer_size, seed, seed2},
                       {{"features", features},
                        {"output_types", output_types},
                        {"output_shapes", output_shapes}},
                       output);
}

}  // namespace avro
}  // namespace lirank
