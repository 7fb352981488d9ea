// LirankAvroReadFile: one whole Avro file as a single batch, decoded synchronously with the
// same classes as LirankAvroTensorDataset (block reader, codec, decode program, batch
// builder), without tf.data. Used by lirank_tf.data.read_avro_file (inspection, tests) and by
// the decoder fuzzer, where per-file dataset set-up would dominate.
#include <memory>
#include <string>
#include <vector>

#include "avro/avro_file.h"
#include "avro/batch_builder.h"
#include "avro/block_decoder.h"
#include "avro/feature_spec.h"
#include "avro/status_text.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace lirank {
namespace avro {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
namespace shape_inference = ::tensorflow::shape_inference;

REGISTER_OP("LirankAvroReadFile")
    .Input("filename: string")
    .Output("components: output_types")
    .Attr("features: string")
    .Attr("output_types: list(type) >= 1")
    .SetIsStateful()  // reads a file: never constant-folded or cached
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle unused;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 0, &unused));
      for (int i = 0; i < c->num_outputs(); ++i) c->set_output(i, c->UnknownShape());
      return Status();
    })
    .Doc("Reads every record of one Avro file into one batch of the features' tensors.");

class AvroReadFileOp : public OpKernel {
 public:
  explicit AvroReadFileOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string features_json;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("features", &features_json));
    OP_REQUIRES_OK(ctx, ParseFeatureSpecs(features_json, &features_));
    tensorflow::DataTypeVector output_types;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("output_types", &output_types));
    int outputs = 0;
    for (const FeatureSpec& spec : features_) outputs += NumOutputs(spec);
    OP_REQUIRES(ctx, outputs == static_cast<int>(output_types.size()),
                tensorflow::errors::InvalidArgument("output_types has ", output_types.size(),
                                                    " entries, the features need ", outputs));
  }

  void Compute(OpKernelContext* ctx) override {
    const tensorflow::Tensor& filename = ctx->input(0);
    OP_REQUIRES(ctx, filename.dims() == 0,
                tensorflow::errors::InvalidArgument("filename must be a scalar"));
    std::vector<std::shared_ptr<DecodedBlock>> blocks;
    OP_REQUIRES_OK(ctx, MakePrintable(ReadAll(ctx, std::string(filename.scalar<tensorflow::tstring>()()),
                                              &blocks)));
    std::vector<RecordRef> picks;
    for (const auto& block : blocks) {
      for (int64_t r = 0; r < block->num_records; ++r) picks.push_back({block.get(), r});
    }
    tensorflow::Allocator* allocator = ctx->get_allocator({});
    int index = 0;
    for (size_t f = 0; f < features_.size(); ++f) {
      std::vector<tensorflow::Tensor> out(NumOutputs(features_[f]));
      BuildFeature(features_[f], static_cast<int>(f), picks, allocator, out.data());
      for (tensorflow::Tensor& tensor : out) {
        OP_REQUIRES(ctx, tensor.dtype() == ctx->expected_output_dtype(index),
                    tensorflow::errors::InvalidArgument("output ", index, " is ",
                                                        DataTypeString(tensor.dtype())));
        ctx->set_output(index++, tensor);
      }
    }
  }

 private:
  Status ReadAll(OpKernelContext* ctx, const std::string& filename,
                 std::vector<std::shared_ptr<DecodedBlock>>* blocks) {
    ProgramCache programs(features_);
    OpenAvroFile file;
    TF_RETURN_IF_ERROR(OpenFile(ctx->env(), filename, 256 * 1024, &programs, &file));
    while (true) {
      RawBlock raw;
      bool end_of_file = false;
      TF_RETURN_IF_ERROR(file.reader->ReadBlock(&raw, &end_of_file));
      if (end_of_file) return absl::OkStatus();
      auto block = std::make_shared<DecodedBlock>();
      TF_RETURN_IF_ERROR(DecodeBlock(file.context, &raw, block.get()));
      blocks->push_back(std::move(block));
    }
  }

  std::vector<FeatureSpec> features_;
};

REGISTER_KERNEL_BUILDER(Name("LirankAvroReadFile").Device(::tensorflow::DEVICE_CPU),
                        AvroReadFileOp);

}  // namespace
}  // namespace avro
}  // namespace lirank
