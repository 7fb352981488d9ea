// LirankMurmur3Hash: MurmurHash3 of every string of a tensor, as int64.
//   algorithm="x64_64": the low 64 bits (h1) of x64_128, bit-identical to mmh3.hash64(s, seed)[0]
//   algorithm="x86_32": x86_32 as an unsigned value in [0, 2^32), equal to
//                     mmh3.hash(s, seed, signed=False)
// Used by the simulator and the training input pipeline; the serving graph hashes with stock
// ops (lirank_tf.layers.qr_hash), so TF Serving needs no custom op.
#include <cstdint>
#include <string>

#include "murmur3/murmur3.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace lirank {
namespace {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::tstring;
namespace errors = ::tensorflow::errors;
namespace shape_inference = ::tensorflow::shape_inference;

REGISTER_OP("LirankMurmur3Hash")
    .Input("input: string")
    .Input("seed: int64")
    .Output("output: int64")
    .Attr("algorithm: {'x64_64', 'x86_32'} = 'x64_64'")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle seed_shape;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 0, &seed_shape));
      c->set_output(0, c->input(0));
      return Status();
    })
    .Doc("MurmurHash3 of each string: x64_64 (low half of x64_128) or x86_32 (unsigned).");

class Murmur3HashOp : public OpKernel {
 public:
  explicit Murmur3HashOp(OpKernelConstruction* context) : OpKernel(context) {
    std::string algorithm;
    OP_REQUIRES_OK(context, context->GetAttr("algorithm", &algorithm));
    use_x86_32_ = algorithm == "x86_32";
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& input = context->input(0);
    const Tensor& seed_tensor = context->input(1);
    OP_REQUIRES(context, seed_tensor.dims() == 0,
                errors::InvalidArgument("seed must be a scalar, got shape ",
                                        seed_tensor.shape().DebugString()));
    const int64_t seed = seed_tensor.scalar<int64_t>()();
    OP_REQUIRES(context, seed >= 0 && seed <= 0xffffffffLL,
                errors::InvalidArgument("seed must be in [0, 2^32 - 1], got ", seed));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, input.shape(), &output));
    const auto strings = input.flat<tstring>();
    auto hashes = output->flat<int64_t>();
    const uint32_t seed32 = static_cast<uint32_t>(seed);
    const bool x86_32 = use_x86_32_;
    auto hash_range = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const tstring& s = strings(i);
        if (x86_32) {
          hashes(i) = static_cast<int64_t>(Murmur3X86_32(s.data(), s.size(), seed32));
        } else {
          hashes(i) = static_cast<int64_t>(Murmur3X64_128(s.data(), s.size(), seed32).low);
        }
      }
    };
    auto* workers = context->device()->tensorflow_cpu_worker_threads();
    ::tensorflow::Shard(workers->num_threads, workers->workers, strings.size(),
                        /*cost_per_unit=*/200, hash_range);
  }

 private:
  bool use_x86_32_ = false;
};

REGISTER_KERNEL_BUILDER(Name("LirankMurmur3Hash").Device(DEVICE_CPU), Murmur3HashOp);

}  // namespace
}  // namespace lirank
