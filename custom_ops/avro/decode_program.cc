#include "avro/decode_program.h"

#include <utility>

namespace lirank {
namespace avro {

namespace {

class Compiler {
 public:
  Compiler(const Schema& schema, Program* program) : schema_(schema), program_(program) {}

  absl::Status Compile() {
    const SchemaNode& root = schema_.node(schema_.root());
    if (root.type != AvroType::kRecord) {
      return absl::InvalidArgumentError("the file's schema must be a record, found " +
                                        schema_.TypeString(schema_.root()));
    }
    program_->field_names = root.field_names;
    program_->zero_size_records = schema_.IsZeroSize(schema_.root());
    std::vector<int> feature_of_field(root.children.size(), -1);
    for (size_t f = 0; f < program_->features.size(); ++f) {
      const std::string& name = program_->features[f].name;
      bool found = false;
      for (size_t i = 0; i < root.field_names.size(); ++i) {
        if (root.field_names[i] == name) {
          feature_of_field[i] = static_cast<int>(f);
          found = true;
        }
      }
      if (!found) {
        std::string fields;
        for (const std::string& field : root.field_names) fields += (fields.empty() ? "" : ", ") + field;
        return absl::InvalidArgumentError("feature '" + name + "' (" +
                                          DescribeSpec(program_->features[f]) +
                                          ") is not a field of the file's schema (record " +
                                          root.name + " has fields: " + fields + ")");
      }
    }
    for (size_t i = 0; i < root.children.size(); ++i) {
      field_ = static_cast<int>(i);
      if (feature_of_field[i] < 0) {
        AddSkip(root.children[i]);
        continue;
      }
      feature_ = feature_of_field[i];
      const FeatureSpec& spec = program_->features[feature_];
      absl::Status status = spec.kind == FeatureKind::kSparse
                                ? CompileSparse(root.children[i])
                                : CompileValue(root.children[i], 0);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  const FeatureSpec& spec() const { return program_->features[feature_]; }

  absl::Status Mismatch(const std::string& expected, int found_node) const {
    const int field_node = schema_.node(schema_.root()).children[field_];
    std::string message = "field '" + program_->FieldName(field_) + "': the feature spec (" +
                          DescribeSpec(spec()) + ") expects " + expected +
                          ", but the file's schema has " + schema_.TypeString(found_node);
    if (found_node != field_node) {
      message += " (the field's type is " + schema_.TypeString(field_node) + ")";
    }
    return absl::InvalidArgumentError(message);
  }

  Step NewStep(OpCode op) const {
    Step step;
    step.op = op;
    step.feature = feature_;
    step.field = field_;
    return step;
  }

  void AddSkip(int node) {
    if (schema_.IsZeroSize(node)) return;
    const SchemaNode& n = schema_.node(node);
    OpCode op;
    int64_t amount = 1;
    switch (n.type) {
      case AvroType::kBoolean: op = OpCode::kSkipBytes; break;
      case AvroType::kFloat: op = OpCode::kSkipBytes; amount = 4; break;
      case AvroType::kDouble: op = OpCode::kSkipBytes; amount = 8; break;
      case AvroType::kFixed: op = OpCode::kSkipBytes; amount = n.fixed_size; break;
      case AvroType::kInt:
      case AvroType::kLong:
      case AvroType::kEnum: op = OpCode::kSkipVarints; break;
      case AvroType::kString:
      case AvroType::kBytes: op = OpCode::kSkipStrings; break;
      default: {
        Step step = NewStep(OpCode::kSkipType);
        step.feature = -1;
        step.node = node;
        program_->steps.push_back(step);
        return;
      }
    }
    std::vector<Step>& steps = program_->steps;
    if (!steps.empty() && steps.back().op == op && steps.back().feature < 0) {
      steps.back().arg += amount;  // merge with the previous skip of the same kind
      steps.back().last_field = field_;
      return;
    }
    Step step = NewStep(op);
    step.feature = -1;
    step.arg = amount;
    steps.push_back(step);
  }

  // Splits a union into its value branch and null branch; only [T], [null, T], [T, null].
  absl::Status SplitUnion(int node, int* value_branch, int* null_branch) {
    const SchemaNode& n = schema_.node(node);
    *value_branch = -1;
    *null_branch = -1;
    for (size_t b = 0; b < n.children.size(); ++b) {
      if (schema_.node(n.children[b]).type == AvroType::kNull) {
        if (*null_branch < 0) *null_branch = static_cast<int>(b);
        else return Mismatch("a union of null and one other type", node);
      } else if (*value_branch < 0) {
        *value_branch = static_cast<int>(b);
      } else {
        return Mismatch("a union of null and one other type", node);
      }
    }
    if (*value_branch < 0) return Mismatch("a non-null type", node);
    return absl::OkStatus();
  }

  // What a null at dimension `dim` of the feature becomes.
  absl::Status NullActionFor(int dim, int union_node, Step* step) {
    const FeatureSpec& s = spec();
    const int rank = static_cast<int>(s.shape.size());
    if (s.kind == FeatureKind::kSparse) {
      step->null_action = NullAction::kEmptyList;  // a null sparse record has no entries
      step->level = 0;
      return absl::OkStatus();
    }
    if (s.kind != FeatureKind::kDense && dim < rank && s.shape[dim] < 0) {
      step->null_action = NullAction::kEmptyList;
      step->level = static_cast<int8_t>(dim);
      return absl::OkStatus();
    }
    if (s.kind == FeatureKind::kDense || dim >= s.ragged_rank()) {
      step->null_action = NullAction::kFillDefault;
      step->fill_count = s.FixedElements(dim);
      return absl::OkStatus();
    }
    return Mismatch("a non-null array at dimension " + std::to_string(dim) +
                        " (a null there cannot fill a fixed dimension inside ragged ones)",
                    union_node);
  }

  absl::Status CompileValue(int node, int dim) {
    const SchemaNode& n = schema_.node(node);
    const FeatureSpec& s = spec();
    const int rank = static_cast<int>(s.shape.size());
    if (n.type == AvroType::kUnion) {
      int value_branch, null_branch;
      absl::Status status = SplitUnion(node, &value_branch, &null_branch);
      if (!status.ok()) return status;
      Step step = NewStep(OpCode::kUnion);
      step.arg = value_branch;
      step.null_branch = null_branch;
      if (null_branch >= 0) {
        status = NullActionFor(dim, node, &step);
        if (!status.ok()) return status;
      }
      const size_t index = program_->steps.size();
      program_->steps.push_back(step);
      status = CompileValue(n.children[value_branch], dim);
      if (!status.ok()) return status;
      program_->steps[index].body_size =
          static_cast<int32_t>(program_->steps.size() - index - 1);
      return absl::OkStatus();
    }
    if (dim == rank) {
      LeafKind kind;
      if (!LeafFor(n.type, s.dtype, &kind)) {
        const std::string where =
            rank == 0 ? std::string(" (a scalar)")
                      : " inside " + std::to_string(rank) + " nested array level(s)";
        return Mismatch(std::string("values of Avro type ") + AcceptedTypes(s.dtype) + where,
                        node);
      }
      Step step = NewStep(OpCode::kLeaf);
      SetLeaf(kind, node, &step);
      program_->steps.push_back(step);
      return absl::OkStatus();
    }
    if (n.type != AvroType::kArray) {
      return Mismatch(std::to_string(rank) + " nested array level(s) (rank " +
                          std::to_string(rank) + "); at level " + std::to_string(dim) +
                          " an array is required", node);
    }
    const int item = n.children[0];
    const bool ragged_level =
        s.kind != FeatureKind::kDense && dim < s.ragged_rank();
    const int64_t expected = s.shape[dim] >= 0 ? s.shape[dim] : -1;
    LeafKind kind;
    if (dim + 1 == rank && LeafFor(schema_.node(item).type, s.dtype, &kind)) {
      Step step = NewStep(OpCode::kLeafArray);
      SetLeaf(kind, item, &step);
      step.level = ragged_level ? static_cast<int8_t>(dim) : -1;
      step.expected = expected;
      step.items_zero_size = schema_.IsZeroSize(item);
      program_->steps.push_back(step);
      return absl::OkStatus();
    }
    Step step = NewStep(OpCode::kArray);
    step.level = ragged_level ? static_cast<int8_t>(dim) : -1;
    step.expected = expected;
    step.node = node;
    step.items_zero_size = schema_.IsZeroSize(item);
    const size_t index = program_->steps.size();
    program_->steps.push_back(step);
    absl::Status status = CompileValue(item, dim + 1);
    if (!status.ok()) return status;
    program_->steps[index].body_size = static_cast<int32_t>(program_->steps.size() - index - 1);
    return absl::OkStatus();
  }

  void SetLeaf(LeafKind kind, int node, Step* step) {
    step->leaf = kind;
    step->node = node;
    const SchemaNode& n = schema_.node(node);
    if (kind == LeafKind::kFixedToString) step->arg = n.fixed_size;
    if (kind == LeafKind::kEnumToString || kind == LeafKind::kEnumToInt32 ||
        kind == LeafKind::kEnumToInt64) {
      std::vector<StrRef> table;
      for (const std::string& symbol : n.symbols) table.push_back({symbol.data(), symbol.size()});
      step->arg = static_cast<int64_t>(program_->enum_tables.size());
      program_->enum_tables.push_back(std::move(table));
    }
  }

  absl::Status CompileSparse(int node) {
    const SchemaNode* n = &schema_.node(node);
    size_t union_index = 0;
    bool in_union = false;
    if (n->type == AvroType::kUnion) {
      int value_branch, null_branch;
      absl::Status status = SplitUnion(node, &value_branch, &null_branch);
      if (!status.ok()) return status;
      Step step = NewStep(OpCode::kUnion);
      step.arg = value_branch;
      step.null_branch = null_branch;
      if (null_branch >= 0) NullActionFor(0, node, &step).IgnoreError();
      union_index = program_->steps.size();
      in_union = true;
      program_->steps.push_back(step);
      node = n->children[value_branch];
      n = &schema_.node(node);
    }
    const int rank = static_cast<int>(spec().shape.size());
    const std::string expected = "a sparse record {indices0.." + std::string("indices") +
                                 std::to_string(rank - 1) + ": array<int|long>, values: array<" +
                                 DTypeName(spec().dtype) + "-compatible>}";
    if (n->type != AvroType::kRecord) return Mismatch(expected, node);
    std::vector<bool> seen(rank + 1, false);
    for (size_t i = 0; i < n->children.size(); ++i) {
      const std::string& name = n->field_names[i];
      int target = -2;
      if (name == "values") target = -1;
      for (int k = 0; k < rank; ++k) {
        if (name == "indices" + std::to_string(k)) target = k;
      }
      if (target == -2) {
        AddSkip(n->children[i]);
        continue;
      }
      const int array_node = n->children[i];
      const SchemaNode& array = schema_.node(array_node);
      LeafKind kind;
      const bool ok =
          array.type == AvroType::kArray &&
          (target == -1 ? LeafFor(schema_.node(array.children[0]).type, spec().dtype, &kind)
                        : LeafFor(schema_.node(array.children[0]).type, DType::kInt64, &kind) &&
                              (kind == LeafKind::kIntToInt64 || kind == LeafKind::kLongToInt64));
      if (!ok) {
        return Mismatch(target == -1 ? std::string("'values' as an array of ") +
                                           AcceptedTypes(spec().dtype)
                                     : "'" + name + "' as an array of int or long",
                        array_node);
      }
      Step step = NewStep(OpCode::kLeafArray);
      SetLeaf(kind, array.children[0], &step);
      step.target = static_cast<int8_t>(target);
      step.items_zero_size = schema_.IsZeroSize(array.children[0]);
      program_->steps.push_back(step);
      seen[target + 1] = true;
    }
    for (int k = -1; k < rank; ++k) {
      if (!seen[k + 1]) return Mismatch(expected, node);
    }
    Step end = NewStep(OpCode::kSparseEnd);
    end.arg = rank;
    program_->steps.push_back(end);
    if (in_union) {
      program_->steps[union_index].body_size =
          static_cast<int32_t>(program_->steps.size() - union_index - 1);
    }
    return absl::OkStatus();
  }

  const Schema& schema_;
  Program* program_;
  int field_ = -1;
  int feature_ = -1;
};

}  // namespace

const std::string& Program::FieldName(int field) const {
  static const std::string kUnknown = "?";
  return field >= 0 && field < static_cast<int>(field_names.size()) ? field_names[field]
                                                                      : kUnknown;
}

std::string Program::StepFields(const Step& step) const {
  std::string names = "'" + FieldName(step.field) + "'";
  if (step.last_field > step.field) names += " .. '" + FieldName(step.last_field) + "' (skipped)";
  return names;
}

absl::Status CompileProgram(std::shared_ptr<const Schema> schema,
                            const std::vector<FeatureSpec>& features, Program* program) {
  *program = Program();
  program->schema = std::move(schema);
  program->features = features;
  for (const FeatureSpec& spec : program->features) {
    program->default_strings.push_back({spec.default_string.data(), spec.default_string.size()});
  }
  return Compiler(*program->schema, program).Compile();
}

}  // namespace avro
}  // namespace lirank
