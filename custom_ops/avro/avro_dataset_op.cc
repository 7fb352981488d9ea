// LirankAvroTensorDataset: Avro object container files -> batches of feature tensors, with
// fused read, decode, shuffle and batch (LiRank §4.2). Python API:
// lirank_tf.data.AvroTensorDataset (lirank_tf/data/avro_dataset.py).
#include "avro/avro_dataset.h"
#include "avro/batch_builder.h"
#include "avro/feature_spec.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace lirank {
namespace avro {
namespace {

using ::tensorflow::DataType;
using ::tensorflow::DataTypeString;
using ::tensorflow::DataTypeVector;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::PartialTensorShape;
using ::tensorflow::Status;
using ::tensorflow::data::DatasetBase;
using ::tensorflow::data::ParseScalarArgument;
namespace errors = ::tensorflow::errors;
namespace shape_inference = ::tensorflow::shape_inference;

REGISTER_OP("LirankAvroTensorDataset")
    .Input("input_dataset: variant")
    .Input("batch_size: int64")
    .Input("shuffle_buffer_size: int64")
    .Input("drop_remainder: bool")
    .Input("num_parallel_calls: int64")
    .Input("reader_buffer_size: int64")
    .Input("seed: int64")
    .Input("seed2: int64")
    .Output("handle: variant")
    .Attr("features: string")
    .Attr("output_types: list(type) >= 1")
    .Attr("output_shapes: list(shape) >= 1")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle unused;
      for (int i = 0; i < 8; ++i) {  // the input dataset handle and every argument: scalars
        TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 0, &unused));
      }
      c->set_output(0, c->Scalar());
      return Status();
    })
    .Doc(R"doc(
Reads the Avro object container files named by `input_dataset` (scalar strings) into batches
of the features described by the JSON attribute `features`.
)doc");

class AvroTensorDatasetOp : public ::tensorflow::data::UnaryDatasetOpKernel {
 public:
  explicit AvroTensorDatasetOp(OpKernelConstruction* ctx) : UnaryDatasetOpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("features", &features_json_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("output_types", &output_types_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("output_shapes", &output_shapes_));
    OP_REQUIRES_OK(ctx, ParseFeatureSpecs(features_json_, &features_));
    OP_REQUIRES(ctx, output_types_.size() == output_shapes_.size(),
                errors::InvalidArgument("output_types and output_shapes differ in length"));
    DataTypeVector expected;
    for (const FeatureSpec& spec : features_) {
      if (spec.kind == FeatureKind::kSparse || spec.kind == FeatureKind::kVarlenSparse) {
        expected.push_back(::tensorflow::DT_VARIANT);
        continue;
      }
      expected.push_back(ToTfDataType(spec.dtype));
      if (spec.kind == FeatureKind::kRagged) {
        for (int l = 0; l < spec.ragged_rank(); ++l) expected.push_back(::tensorflow::DT_INT64);
      }
    }
    OP_REQUIRES(ctx, expected == output_types_,
                errors::InvalidArgument("output_types do not match the feature spec: expected ",
                                        ::tensorflow::DataTypeVectorString(expected), ", got ",
                                        ::tensorflow::DataTypeVectorString(output_types_)));
  }

 protected:
  void MakeDataset(OpKernelContext* ctx, DatasetBase* input, DatasetBase** output) override {
    OP_REQUIRES(ctx,
                input->output_dtypes().size() == 1 &&
                    input->output_dtypes()[0] == ::tensorflow::DT_STRING &&
                    input->output_shapes()[0].IsCompatibleWith(PartialTensorShape({})),
                errors::InvalidArgument("input_dataset must yield scalar strings (file names)"));
    AvroDatasetOptions options;
    OP_REQUIRES_OK(ctx, ParseScalarArgument(ctx, "batch_size", &options.batch_size));
    OP_REQUIRES_OK(ctx, ParseScalarArgument(ctx, "shuffle_buffer_size",
                                            &options.shuffle_buffer_size));
    OP_REQUIRES_OK(ctx, ParseScalarArgument(ctx, "drop_remainder", &options.drop_remainder));
    OP_REQUIRES_OK(ctx, ParseScalarArgument(ctx, "num_parallel_calls",
                                            &options.num_parallel_calls));
    OP_REQUIRES_OK(ctx, ParseScalarArgument(ctx, "reader_buffer_size",
                                            &options.reader_buffer_size));
    OP_REQUIRES_OK(ctx, ParseScalarArgument(ctx, "seed", &options.seed));
    OP_REQUIRES_OK(ctx, ParseScalarArgument(ctx, "seed2", &options.seed2));
    OP_REQUIRES(ctx, options.batch_size > 0 && options.batch_size <= (int64_t{1} << 31),
                errors::InvalidArgument("batch_size must be in [1, 2^31], got ",
                                        options.batch_size));
    OP_REQUIRES(ctx, options.shuffle_buffer_size >= 0 &&
                         options.shuffle_buffer_size <= (int64_t{1} << 40),
                errors::InvalidArgument("shuffle_buffer_size must be in [0, 2^40], got ",
                                        options.shuffle_buffer_size));
    OP_REQUIRES(ctx, options.num_parallel_calls > 0 || options.num_parallel_calls == -1,
                errors::InvalidArgument("num_parallel_calls must be positive or -1 (AUTOTUNE), got ",
                                        options.num_parallel_calls));
    OP_REQUIRES(ctx, options.reader_buffer_size >= 1024 &&
                         options.reader_buffer_size <= (int64_t{1} << 32),
                errors::InvalidArgument("reader_buffer_size must be in [1024, 2^32] bytes, got ",
                                        options.reader_buffer_size));
    options.features_json = features_json_;
    options.features = features_;
    *output = new AvroTensorDataset(ctx, input, std::move(options), output_types_,
                                    output_shapes_);
  }

 private:
  std::string features_json_;
  std::vector<FeatureSpec> features_;
  DataTypeVector output_types_;
  std::vector<PartialTensorShape> output_shapes_;
};

REGISTER_KERNEL_BUILDER(Name("LirankAvroTensorDataset").Device(::tensorflow::DEVICE_CPU),
                        AvroTensorDatasetOp);

}  // namespace
}  // namespace avro
}  // namespace lirank
