#include "avro/block_decoder.h"

#include <cfloat>
#include <cmath>
#include <new>
#include <string>

#include "avro/binary.h"
#include "avro/leaf_reader.h"
#include "avro/value_skipper.h"

namespace lirank {
namespace avro {

size_t FeatureColumns::NumValues(DType dtype) const {
  switch (dtype) {
    case DType::kInt32: return int32_values.size();
    case DType::kInt64: return int64_values.size();
    case DType::kFloat32: return float_values.size();
    case DType::kFloat64: return double_values.size();
    case DType::kBool: return bool_values.size();
    case DType::kString: return string_values.size();
  }
  return 0;
}

namespace {

// Items that take no bytes (fixed(0) values) have counts unbounded by the block size.
constexpr int64_t kMaxZeroSizeItems = int64_t{1} << 24;

template <typename T> Column<T>& ValuesOf(FeatureColumns& c);
template <> Column<int32_t>& ValuesOf(FeatureColumns& c) { return c.int32_values; }
template <> Column<int64_t>& ValuesOf(FeatureColumns& c) { return c.int64_values; }
template <> Column<float>& ValuesOf(FeatureColumns& c) { return c.float_values; }
template <> Column<double>& ValuesOf(FeatureColumns& c) { return c.double_values; }
template <> Column<bool>& ValuesOf(FeatureColumns& c) { return c.bool_values; }
template <> Column<StrRef>& ValuesOf(FeatureColumns& c) { return c.string_values; }

template <typename T>
Column<T>& TargetOf(FeatureColumns& c, int target) {
  if constexpr (std::is_same<T, int64_t>::value) {
    if (target >= 0) return c.indices[target];
  }
  return ValuesOf<T>(c);
}

class Decoder {
 public:
  Decoder(const Program& program, DecodedBlock* block)
      : program_(program), schema_(*program.schema), block_(block) {}

  absl::Status Run(int64_t count);

 private:
  bool Exec(const Step* step, const Step* end, int depth);
  bool Fail(const Step& step) {
    if (failed_step_ == nullptr) failed_step_ = &step;
    return false;
  }
  bool ValueError(const std::string& what) {
    return avro::ValueError(cursor_, &value_error_, what);
  }

  template <LeafKind K>
  bool ReadLeaves(const Step& s, FeatureColumns& cols, int64_t n) {
    using T = typename LeafOut<K>::T;
    T* out = TargetOf<T>(cols, s.target).Extend(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      if (LIRANK_UNLIKELY(!ReadLeaf<K>(cursor_, s, program_, &value_error_, out + i))) {
        return false;
      }
    }
    return true;
  }
  bool DecodeLeaves(const Step& s, int64_t n);
  bool DecodeArray(const Step& s, int depth);
  bool FillDefaults(const Step& s);
  absl::Status CheckSparseIndices();

  const Program& program_;
  const Schema& schema_;
  DecodedBlock* block_;
  Cursor cursor_{nullptr, nullptr};
  const Step* failed_step_ = nullptr;
  std::string value_error_;
};

bool Decoder::DecodeLeaves(const Step& s, int64_t n) {
  FeatureColumns& cols = block_->columns[s.feature];
  switch (s.leaf) {
    case LeafKind::kBoolToBool: return ReadLeaves<LeafKind::kBoolToBool>(s, cols, n);
    case LeafKind::kIntToInt32: return ReadLeaves<LeafKind::kIntToInt32>(s, cols, n);
    case LeafKind::kIntToInt64: return ReadLeaves<LeafKind::kIntToInt64>(s, cols, n);
    case LeafKind::kLongToInt64: return ReadLeaves<LeafKind::kLongToInt64>(s, cols, n);
    case LeafKind::kLongToInt32: return ReadLeaves<LeafKind::kLongToInt32>(s, cols, n);
    case LeafKind::kFloatToFloat32: return ReadLeaves<LeafKind::kFloatToFloat32>(s, cols, n);
    case LeafKind::kFloatToFloat64: return ReadLeaves<LeafKind::kFloatToFloat64>(s, cols, n);
    case LeafKind::kDoubleToFloat64: return ReadLeaves<LeafKind::kDoubleToFloat64>(s, cols, n);
    case LeafKind::kDoubleToFloat32: return ReadLeaves<LeafKind::kDoubleToFloat32>(s, cols, n);
    case LeafKind::kBytesToString: return ReadLeaves<LeafKind::kBytesToString>(s, cols, n);
    case LeafKind::kFixedToString: return ReadLeaves<LeafKind::kFixedToString>(s, cols, n);
    case LeafKind::kEnumToString: return ReadLeaves<LeafKind::kEnumToString>(s, cols, n);
    case LeafKind::kEnumToInt32: return ReadLeaves<LeafKind::kEnumToInt32>(s, cols, n);
    case LeafKind::kEnumToInt64: return ReadLeaves<LeafKind::kEnumToInt64>(s, cols, n);
  }
  return cursor_.Fail("unknown leaf kind");
}

bool Decoder::FillDefaults(const Step& s) {
  const FeatureSpec& spec = program_.features[s.feature];
  if (!spec.has_default) {
    return ValueError("null value, but the feature spec has no default_value");
  }
  FeatureColumns& cols = block_->columns[s.feature];
  const size_t n = static_cast<size_t>(s.fill_count);
  auto fill = [n](auto& column, auto value) {
    auto* out = column.Extend(n);
    for (size_t i = 0; i < n; ++i) out[i] = value;
  };
  switch (spec.dtype) {
    case DType::kInt32: fill(cols.int32_values, static_cast<int32_t>(spec.default_int)); break;
    case DType::kInt64: fill(cols.int64_values, spec.default_int); break;
    case DType::kFloat32: fill(cols.float_values, static_cast<float>(spec.default_float)); break;
    case DType::kFloat64: fill(cols.double_values, spec.default_float); break;
    case DType::kBool: fill(cols.bool_values, spec.default_bool); break;
    case DType::kString: fill(cols.string_values, program_.default_strings[s.feature]); break;
  }
  return true;
}

// Arrays: a sequence of blocks (count, [byte size if count < 0], items), ending with 0.
bool Decoder::DecodeArray(const Step& s, int depth) {
  int64_t total = 0;
  const Step* body = &s + 1;
  const Step* body_end = body + s.body_size;
  while (true) {
    int64_t n, byte_size;
    if (!ReadBlockCount(cursor_, s.items_zero_size, &n, &byte_size)) return false;
    if (n == 0) break;
    if (LIRANK_UNLIKELY(s.items_zero_size && n > kMaxZeroSizeItems - total)) {
      return cursor_.Fail("implausible item count for zero-size items");
    }
    total += n;
    if (LIRANK_UNLIKELY(s.expected >= 0 && total > s.expected)) {
      return ValueError("array has more than the " + std::to_string(s.expected) +
                        " items the feature's fixed shape requires");
    }
    const uint8_t* block_start = cursor_.pos;
    if (s.op == OpCode::kLeafArray) {
      if (!DecodeLeaves(s, n)) return false;
    } else {
      for (int64_t i = 0; i < n; ++i) {
        if (!Exec(body, body_end, depth + 1)) return false;
      }
    }
    if (LIRANK_UNLIKELY(byte_size >= 0 && cursor_.pos - block_start != byte_size)) {
      return cursor_.Fail("array block byte size does not match its items");
    }
  }
  if (LIRANK_UNLIKELY(s.expected >= 0 && total != s.expected)) {
    return ValueError("array has " + std::to_string(total) + " items, but the feature's " +
                      "fixed shape requires " + std::to_string(s.expected));
  }
  FeatureColumns& cols = block_->columns[s.feature];
  if (s.level >= 0) {
    Column<int64_t>& splits = cols.splits[s.level];
    splits.Push(splits.back() + total);
  }
  cols.last_count[s.target + 1] = total;
  return true;
}

bool Decoder::Exec(const Step* step, const Step* end, int depth) {
  Cursor& c = cursor_;
  if (LIRANK_UNLIKELY(depth > kMaxNesting)) {
    c.Fail("values nested too deeply");
    return Fail(*step);
  }
  for (; step < end; ++step) {
    const Step& s = *step;
    switch (s.op) {
      case OpCode::kSkipBytes:
        if (!Skip(c, static_cast<uint64_t>(s.arg))) return Fail(s);
        break;
      case OpCode::kSkipVarints:
        for (int64_t i = 0; i < s.arg; ++i) {
          uint64_t v;
          if (!ReadVarint(c, &v)) return Fail(s);
        }
        break;
      case OpCode::kSkipStrings:
        for (int64_t i = 0; i < s.arg; ++i) {
          const char* data;
          size_t size;
          if (!ReadBytes(c, &data, &size)) return Fail(s);
        }
        break;
      case OpCode::kSkipType:
        if (!SkipValue(schema_, s.node, c, depth)) return Fail(s);
        break;
      case OpCode::kLeaf:
        if (!DecodeLeaves(s, 1)) return Fail(s);
        break;
      case OpCode::kLeafArray:
        if (!DecodeArray(s, depth)) return Fail(s);
        break;
      case OpCode::kArray:
        if (!DecodeArray(s, depth)) return Fail(s);
        step += s.body_size;
        break;
      case OpCode::kUnion: {
        int64_t branch;
        if (!ReadLong(c, &branch)) return Fail(s);
        if (branch == s.arg) {
          if (!Exec(step + 1, step + 1 + s.body_size, depth + 1)) return Fail(s);
        } else if (branch == s.null_branch) {
          if (s.null_action == NullAction::kFillDefault) {
            if (!FillDefaults(s)) return Fail(s);
          } else {
            Column<int64_t>& splits = block_->columns[s.feature].splits[s.level];
            splits.Push(splits.back());
          }
        } else {
          c.Fail("union branch index out of range");
          return Fail(s);
        }
        step += s.body_size;
        break;
      }
      case OpCode::kSparseEnd: {
        FeatureColumns& cols = block_->columns[s.feature];
        const int64_t nnz = cols.last_count[0];
        for (int64_t k = 1; k <= s.arg; ++k) {
          if (cols.last_count[k] != nnz) {
            ValueError("sparse record has " + std::to_string(nnz) + " values but " +
                       std::to_string(cols.last_count[k]) + " entries in indices" +
                       std::to_string(k - 1));
            return Fail(s);
          }
        }
        cols.splits[0].Push(cols.splits[0].back() + nnz);
        break;
      }
    }
  }
  return true;
}

absl::Status Decoder::CheckSparseIndices() {
  for (size_t f = 0; f < program_.features.size(); ++f) {
    const FeatureSpec& spec = program_.features[f];
    if (spec.kind != FeatureKind::kSparse) continue;
    const FeatureColumns& cols = block_->columns[f];
    for (size_t k = 0; k < spec.shape.size(); ++k) {
      const Column<int64_t>& indices = cols.indices[k];
      const int64_t dim = spec.shape[k];
      for (size_t i = 0; i < indices.size(); ++i) {
        const int64_t index = indices[i];
        if (index < 0 || (dim >= 0 && index >= dim)) {
          int64_t record = 0;
          while (record + 1 < static_cast<int64_t>(cols.splits[0].size()) &&
                 cols.splits[0][record + 1] <= static_cast<int64_t>(i)) {
            ++record;
          }
          return absl::InvalidArgumentError(
              block_->file->filename + ": block at byte offset " +
              std::to_string(block_->offset) + ": record " + std::to_string(record) +
              ": field '" + spec.name + "': sparse index " + std::to_string(index) +
              " in indices" + std::to_string(k) + " is outside [0, " +
              (dim >= 0 ? std::to_string(dim) : std::string("inf")) + ")");
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Decoder::Run(int64_t count) {
  const size_t size = block_->data.size();
  const std::string where = block_->file->filename + ": block at byte offset " +
                            std::to_string(block_->offset);
  if (!program_.zero_size_records ? static_cast<uint64_t>(count) > size
                                  : count > (int64_t{1} << 26)) {
    return absl::DataLossError(where + ": corrupt block: " + std::to_string(count) +
                               " records cannot fit in " + std::to_string(size) + " bytes");
  }
  block_->columns.resize(program_.features.size());
  for (size_t f = 0; f < program_.features.size(); ++f) {
    const FeatureSpec& spec = program_.features[f];
    const int levels = spec.kind == FeatureKind::kSparse ? 1
                       : spec.kind == FeatureKind::kDense ? 0 : spec.ragged_rank();
    for (int l = 0; l < levels; ++l) {
      block_->columns[f].splits[l].Reserve(l == 0 ? count + 1 : 16);
      block_->columns[f].splits[l].Push(0);
    }
  }
  const Step* begin = program_.steps.data();
  const Step* end = begin + program_.steps.size();
  cursor_ = Cursor{block_->data.data(), block_->data.data() + size};
  for (int64_t r = 0; r < count; ++r) {
    if (LIRANK_UNLIKELY(!Exec(begin, end, 0))) {
      const bool value = !value_error_.empty();
      const std::string field = failed_step_ != nullptr ? program_.StepFields(*failed_step_)
                                                        : std::string("'?'");
      const std::string detail = value ? value_error_ : std::string(cursor_.error);
      const std::string message = where + ": record " + std::to_string(r) + " of " +
                                  std::to_string(count) + ": field " + field + ": " + detail;
      return value ? absl::InvalidArgumentError(message)
                   : absl::DataLossError(message + " (corrupt block)");
    }
  }
  if (cursor_.pos != cursor_.end) {
    return absl::DataLossError(where + ": corrupt block: " +
                               std::to_string(cursor_.end - cursor_.pos) +
                               " bytes left after its last record");
  }
  return CheckSparseIndices();
}

absl::Status DecodeBlockUnguarded(std::shared_ptr<const FileContext> file, RawBlock* raw,
                                  DecodedBlock* out) {
  out->file = std::move(file);
  out->offset = raw->offset;
  out->num_records = raw->record_count;
  if (out->file->codec == Codec::kNull) {
    out->data = std::move(raw->bytes);
  } else {
    absl::Status status = Decompress(out->file->codec, raw->bytes.data(), raw->bytes.size(),
                                     &out->data);
    if (!status.ok()) {
      return absl::Status(status.code(), out->file->filename + ": block at byte offset " +
                                             std::to_string(raw->offset) + ": " +
                                             std::string(status.message()));
    }
    raw->bytes.Release();
  }
  return Decoder(*out->file->program, out).Run(out->num_records);
}

}  // namespace

absl::Status DecodeBlock(std::shared_ptr<const FileContext> file, RawBlock* raw,
                         DecodedBlock* out) {
  // A corrupt block can ask for more memory than there is (deflate expands up to 1032x):
  // report it as an error of this block rather than letting std::bad_alloc abort the process.
  try {
    return DecodeBlockUnguarded(std::move(file), raw, out);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(out->file->filename + ": block at byte offset " +
                                        std::to_string(raw->offset) +
                                        ": out of memory while decompressing or decoding it");
  }
}

}  // namespace avro
}  // namespace lirank
