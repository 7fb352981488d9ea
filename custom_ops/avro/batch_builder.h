// Gathers picked records (block, record index) from decoded blocks into the batch tensors
// of each feature: dense [batch, *shape]; sparse / varlen as a serialized SparseTensor
// (variant [3]: indices, values, dense_shape, the encoding tf.SparseTensorSpec uses in
// tf.data); ragged as flat values + one int64 row-splits tensor per ragged level.
#ifndef LIRANK_AVRO_BATCH_BUILDER_H_
#define LIRANK_AVRO_BATCH_BUILDER_H_

#include <cstdint>
#include <vector>

#include "avro/decoded_block.h"
#include "avro/feature_spec.h"
#include "tensorflow/core/framework/tensor.h"

namespace lirank {
namespace avro {

struct RecordRef {
  const DecodedBlock* block;
  int64_t record;
};

tensorflow::DataType ToTfDataType(DType dtype);

// Number of op output tensors of a feature.
int NumOutputs(const FeatureSpec& spec);

// Builds the output tensors of feature `feature` for `picks` into out[0..NumOutputs).
// Features are independent, so callers may build them concurrently.
void BuildFeature(const FeatureSpec& spec, int feature, const std::vector<RecordRef>& picks,
                  tensorflow::Allocator* allocator, tensorflow::Tensor* out);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_BATCH_BUILDER_H_
