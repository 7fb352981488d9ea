#include "avro/batch_builder.h"

#include <algorithm>
#include <cstring>

#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/framework/variant.h"
#include "tensorflow/core/framework/variant_encode_decode.h"

namespace lirank {
namespace avro {

using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::tstring;

namespace {

template <typename Stored, typename Out>
struct Types {
  using StoredType = Stored;
  using OutType = Out;
};

// Calls f(Types<column value type, tensor value type>{}) for the dtype.
template <typename F>
void DispatchDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kInt32: f(Types<int32_t, int32_t>{}); return;
    case DType::kInt64: f(Types<int64_t, int64_t>{}); return;
    case DType::kFloat32: f(Types<float, float>{}); return;
    case DType::kFloat64: f(Types<double, double>{}); return;
    case DType::kBool: f(Types<bool, bool>{}); return;
    case DType::kString: f(Types<StrRef, tstring>{}); return;
  }
}

template <typename T> const Column<T>& ValuesOf(const FeatureColumns& c);
template <> const Column<int32_t>& ValuesOf(const FeatureColumns& c) { return c.int32_values; }
template <> const Column<int64_t>& ValuesOf(const FeatureColumns& c) { return c.int64_values; }
template <> const Column<float>& ValuesOf(const FeatureColumns& c) { return c.float_values; }
template <> const Column<double>& ValuesOf(const FeatureColumns& c) { return c.double_values; }
template <> const Column<bool>& ValuesOf(const FeatureColumns& c) { return c.bool_values; }
template <> const Column<StrRef>& ValuesOf(const FeatureColumns& c) { return c.string_values; }

template <typename T>
inline void CopyOut(const Column<T>& src, size_t begin, size_t n, T* dst) {
  if (n > 0) std::memcpy(dst, src.data() + begin, n * sizeof(T));
}
inline void CopyOut(const Column<StrRef>& src, size_t begin, size_t n, tstring* dst) {
  const StrRef* in = src.data() + begin;
  for (size_t i = 0; i < n; ++i) dst[i].assign(in[i].data, in[i].size);
}

TensorShape BatchShape(int64_t batch, const std::vector<int64_t>& dims, size_t from) {
  TensorShape shape({batch});
  for (size_t d = from; d < dims.size(); ++d) shape.AddDim(dims[d]);
  return shape;
}

void BuildDense(const FeatureSpec& spec, int f, const std::vector<RecordRef>& picks,
                tensorflow::Allocator* allocator, Tensor* out) {
  const int64_t batch = static_cast<int64_t>(picks.size());
  const size_t elements = static_cast<size_t>(spec.FixedElements(0));
  DispatchDType(spec.dtype, [&](auto types) {
    using Stored = typename decltype(types)::StoredType;
    using Out = typename decltype(types)::OutType;
    *out = Tensor(allocator, ToTfDataType(spec.dtype), BatchShape(batch, spec.shape, 0));
    Out* dst = out->flat<Out>().data();
    size_t i = 0;
    while (i < picks.size()) {  // copy runs of consecutive records with one call
      const DecodedBlock* block = picks[i].block;
      const int64_t record = picks[i].record;
      size_t run = 1;
      while (i + run < picks.size() && picks[i + run].block == block &&
             picks[i + run].record == record + static_cast<int64_t>(run)) {
        ++run;
      }
      CopyOut(ValuesOf<Stored>(block->columns[f]), static_cast<size_t>(record) * elements,
              run * elements, dst + i * elements);
      i += run;
    }
  });
}

// Range of entries of one record at the values level (after all ragged levels).
struct Range {
  int64_t begin;
  int64_t end;
};

void BuildRagged(const FeatureSpec& spec, int f, const std::vector<RecordRef>& picks,
                 tensorflow::Allocator* allocator, Tensor* out) {
  const int ragged_rank = spec.ragged_rank();
  const int64_t elements = spec.FixedElements(ragged_rank);
  int64_t level_entries[kMaxRank + 1] = {};
  for (const RecordRef& pick : picks) {
    const FeatureColumns& cols = pick.block->columns[f];
    Range range{pick.record, pick.record + 1};
    for (int l = 0; l < ragged_rank; ++l) {
      level_entries[l] += range.end - range.begin;
      range = Range{cols.splits[l][range.begin], cols.splits[l][range.end]};
    }
    level_entries[ragged_rank] += range.end - range.begin;
  }
  for (int l = 0; l < ragged_rank; ++l) {
    out[1 + l] = Tensor(allocator, tensorflow::DT_INT64, TensorShape({level_entries[l] + 1}));
    out[1 + l].flat<int64_t>()(0) = 0;
  }
  DispatchDType(spec.dtype, [&](auto types) {
    using Stored = typename decltype(types)::StoredType;
    using Out = typename decltype(types)::OutType;
    out[0] = Tensor(allocator, ToTfDataType(spec.dtype),
                    BatchShape(level_entries[ragged_rank], spec.shape, ragged_rank));
    Out* values = out[0].flat<Out>().data();
    int64_t* splits_out[kMaxRank];
    int64_t position[kMaxRank] = {};
    for (int l = 0; l < ragged_rank; ++l) splits_out[l] = out[1 + l].flat<int64_t>().data();
    int64_t value_position = 0;
    for (const RecordRef& pick : picks) {
      const FeatureColumns& cols = pick.block->columns[f];
      Range range{pick.record, pick.record + 1};
      for (int l = 0; l < ragged_rank; ++l) {
        const Column<int64_t>& splits = cols.splits[l];
        int64_t* dst = splits_out[l];
        for (int64_t j = range.begin; j < range.end; ++j) {
          dst[position[l] + 1] = dst[position[l]] + (splits[j + 1] - splits[j]);
          ++position[l];
        }
        range = Range{splits[range.begin], splits[range.end]};
      }
      const int64_t n = (range.end - range.begin) * elements;
      CopyOut(ValuesOf<Stored>(cols), static_cast<size_t>(range.begin * elements),
              static_cast<size_t>(n), values + value_position);
      value_position += n;
    }
  });
}

Tensor SerializedSparse(const Tensor& indices, const Tensor& values, const Tensor& dense_shape,
                        tensorflow::Allocator* allocator) {
  Tensor serialized(allocator, tensorflow::DT_VARIANT, TensorShape({3}));
  auto parts = serialized.vec<tensorflow::Variant>();
  parts(0) = indices;
  parts(1) = values;
  parts(2) = dense_shape;
  return serialized;
}

// Nested arrays -> SparseTensor [batch, *shape] in row-major (canonical) order; -1 dimensions
// take the longest row of the batch.
void BuildVarlenSparse(const FeatureSpec& spec, int f, const std::vector<RecordRef>& picks,
                       tensorflow::Allocator* allocator, Tensor* out) {
  const int rank = static_cast<int>(spec.shape.size());
  const int ragged_rank = spec.ragged_rank();
  const int64_t elements = spec.FixedElements(ragged_rank);
  int64_t longest[kMaxRank] = {};
  int64_t nnz = 0;
  for (const RecordRef& pick : picks) {
    const FeatureColumns& cols = pick.block->columns[f];
    Range range{pick.record, pick.record + 1};
    for (int l = 0; l < ragged_rank; ++l) {
      const Column<int64_t>& splits = cols.splits[l];
      for (int64_t j = range.begin; j < range.end; ++j) {
        longest[l] = std::max(longest[l], splits[j + 1] - splits[j]);
      }
      range = Range{splits[range.begin], splits[range.end]};
    }
    nnz += (range.end - range.begin) * elements;
  }
  Tensor indices(allocator, tensorflow::DT_INT64, TensorShape({nnz, rank + 1}));
  Tensor dense_shape(allocator, tensorflow::DT_INT64, TensorShape({rank + 1}));
  auto shape_out = dense_shape.vec<int64_t>();
  shape_out(0) = static_cast<int64_t>(picks.size());
  for (int d = 0; d < rank; ++d) shape_out(d + 1) = spec.shape[d] >= 0 ? spec.shape[d] : longest[d];
  int64_t* index_out = indices.flat<int64_t>().data();
  DispatchDType(spec.dtype, [&](auto types) {
    using Stored = typename decltype(types)::StoredType;
    using Out = typename decltype(types)::OutType;
    Tensor values(allocator, ToTfDataType(spec.dtype), TensorShape({nnz}));
    Out* value_out = values.flat<Out>().data();
    int64_t index[kMaxRank + 1];
    int64_t written = 0;
    if (rank == 1) {  // plain lists, the common case: rows [i, position in the list]
      for (size_t i = 0; i < picks.size(); ++i) {
        const FeatureColumns& cols = picks[i].block->columns[f];
        const int64_t first = cols.splits[0][picks[i].record];
        const int64_t n = cols.splits[0][picks[i].record + 1] - first;
        CopyOut(ValuesOf<Stored>(cols), static_cast<size_t>(first), static_cast<size_t>(n),
                value_out + written);
        int64_t* row = index_out + 2 * written;
        for (int64_t k = 0; k < n; ++k) {
          row[2 * k] = static_cast<int64_t>(i);
          row[2 * k + 1] = k;
        }
        written += n;
      }
      out[0] = SerializedSparse(indices, values, dense_shape, allocator);
      return;
    }
    for (size_t i = 0; i < picks.size(); ++i) {
      const FeatureColumns& cols = picks[i].block->columns[f];
      const Column<Stored>& column = ValuesOf<Stored>(cols);
      index[0] = static_cast<int64_t>(i);
      // Depth-first walk over the ragged levels; `entry` is an entry of level `l`.
      auto visit = [&](auto&& self, int l, int64_t entry) -> void {
        const Column<int64_t>& splits = cols.splits[l];
        const int64_t first = splits[entry];
        for (int64_t item = first; item < splits[entry + 1]; ++item) {
          index[1 + l] = item - first;
          if (l + 1 < ragged_rank) {
            self(self, l + 1, item);
            continue;
          }
          CopyOut(column, static_cast<size_t>(item * elements), static_cast<size_t>(elements),
                  value_out + written);
          for (int64_t v = 0; v < elements; ++v) {  // unravel v over the trailing fixed dims
            int64_t rest = v;
            for (int d = rank - 1; d >= ragged_rank; --d) {
              index[1 + d] = rest % spec.shape[d];
              rest /= spec.shape[d];
            }
            std::memcpy(index_out + (written + v) * (rank + 1), index,
                        sizeof(int64_t) * (rank + 1));
          }
          written += elements;
        }
      };
      visit(visit, 0, picks[i].record);
    }
    out[0] = SerializedSparse(indices, values, dense_shape, allocator);
  });
}

// ATDS sparse records (index arrays + values) -> SparseTensor [batch, *shape]; entries keep
// the order of the file; -1 dimensions take the largest index of the batch plus one.
void BuildSparse(const FeatureSpec& spec, int f, const std::vector<RecordRef>& picks,
                 tensorflow::Allocator* allocator, Tensor* out) {
  const int rank = static_cast<int>(spec.shape.size());
  int64_t nnz = 0;
  for (const RecordRef& pick : picks) {
    const Column<int64_t>& splits = pick.block->columns[f].splits[0];
    nnz += splits[pick.record + 1] - splits[pick.record];
  }
  Tensor indices(allocator, tensorflow::DT_INT64, TensorShape({nnz, rank + 1}));
  Tensor dense_shape(allocator, tensorflow::DT_INT64, TensorShape({rank + 1}));
  int64_t* index_out = indices.flat<int64_t>().data();
  int64_t largest[kMaxRank];
  std::fill(largest, largest + kMaxRank, -1);
  DispatchDType(spec.dtype, [&](auto types) {
    using Stored = typename decltype(types)::StoredType;
    using Out = typename decltype(types)::OutType;
    Tensor values(allocator, ToTfDataType(spec.dtype), TensorShape({nnz}));
    Out* value_out = values.flat<Out>().data();
    int64_t written = 0;
    for (size_t i = 0; i < picks.size(); ++i) {
      const FeatureColumns& cols = picks[i].block->columns[f];
      const int64_t begin = cols.splits[0][picks[i].record];
      const int64_t end = cols.splits[0][picks[i].record + 1];
      CopyOut(ValuesOf<Stored>(cols), static_cast<size_t>(begin),
              static_cast<size_t>(end - begin), value_out + written);
      for (int64_t j = begin; j < end; ++j, ++written) {
        int64_t* row = index_out + written * (rank + 1);
        row[0] = static_cast<int64_t>(i);
        for (int k = 0; k < rank; ++k) {
          row[1 + k] = cols.indices[k][j];
          largest[k] = std::max(largest[k], row[1 + k]);
        }
      }
    }
    auto shape_out = dense_shape.vec<int64_t>();
    shape_out(0) = static_cast<int64_t>(picks.size());
    for (int k = 0; k < rank; ++k) shape_out(k + 1) = spec.shape[k] >= 0 ? spec.shape[k] : largest[k] + 1;
    out[0] = SerializedSparse(indices, values, dense_shape, allocator);
  });
}

}  // namespace

tensorflow::DataType ToTfDataType(DType dtype) {
  switch (dtype) {
    case DType::kInt32: return tensorflow::DT_INT32;
    case DType::kInt64: return tensorflow::DT_INT64;
    case DType::kFloat32: return tensorflow::DT_FLOAT;
    case DType::kFloat64: return tensorflow::DT_DOUBLE;
    case DType::kBool: return tensorflow::DT_BOOL;
    case DType::kString: return tensorflow::DT_STRING;
  }
  return tensorflow::DT_INVALID;
}

int NumOutputs(const FeatureSpec& spec) {
  return spec.kind == FeatureKind::kRagged ? 1 + spec.ragged_rank() : 1;
}

void BuildFeature(const FeatureSpec& spec, int feature, const std::vector<RecordRef>& picks,
                  tensorflow::Allocator* allocator, Tensor* out) {
  switch (spec.kind) {
    case FeatureKind::kDense: BuildDense(spec, feature, picks, allocator, out); return;
    case FeatureKind::kRagged: BuildRagged(spec, feature, picks, allocator, out); return;
    case FeatureKind::kVarlenSparse: BuildVarlenSparse(spec, feature, picks, allocator, out); return;
    case FeatureKind::kSparse: BuildSparse(spec, feature, picks, allocator, out); return;
  }
}

}  // namespace avro
}  // namespace lirank
