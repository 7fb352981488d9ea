#include "avro/schema.h"

#include <map>

#include "avro/json.h"

namespace lirank {
namespace avro {

namespace {
constexpr int kMaxDepth = 200;

bool PrimitiveType(std::string_view name, AvroType* type) {
  static const std::pair<const char*, AvroType> kPrimitives[] = {
      {"null", AvroType::kNull},     {"boolean", AvroType::kBoolean},
      {"int", AvroType::kInt},       {"long", AvroType::kLong},
      {"float", AvroType::kFloat},   {"double", AvroType::kDouble},
      {"bytes", AvroType::kBytes},   {"string", AvroType::kString},
  };
  for (const auto& primitive : kPrimitives) {
    if (name == primitive.first) {
      *type = primitive.second;
      return true;
    }
  }
  return false;
}

const char* TypeName(AvroType type) {
  switch (type) {
    case AvroType::kNull: return "null";
    case AvroType::kBoolean: return "boolean";
    case AvroType::kInt: return "int";
    case AvroType::kLong: return "long";
    case AvroType::kFloat: return "float";
    case AvroType::kDouble: return "double";
    case AvroType::kBytes: return "bytes";
    case AvroType::kString: return "string";
    case AvroType::kRecord: return "record";
    case AvroType::kEnum: return "enum";
    case AvroType::kArray: return "array";
    case AvroType::kMap: return "map";
    case AvroType::kUnion: return "union";
    case AvroType::kFixed: return "fixed";
  }
  return "?";
}
}  // namespace

class SchemaParser {
 public:
  explicit SchemaParser(Schema* schema) : schema_(schema) {}

  absl::Status Parse(const JsonValue& json) {
    int root = -1;
    absl::Status status = ParseType(json, "", 0, &root);
    if (!status.ok()) return status;
    schema_->root_ = root;
    ComputeZeroSize();
    return absl::OkStatus();
  }

 private:
  static absl::Status Error(const std::string& what) {
    return absl::InvalidArgumentError("invalid Avro schema: " + what);
  }

  int AddNode(AvroType type) {
    schema_->nodes_.emplace_back();
    schema_->nodes_.back().type = type;
    return static_cast<int>(schema_->nodes_.size()) - 1;
  }

  // Full name of a named type per the Avro spec: a dotted name is already full,
  // otherwise the explicit or enclosing namespace is prepended.
  static std::string FullName(const std::string& name, const JsonValue& json,
                              const std::string& enclosing_namespace, std::string* ns_out) {
    if (name.find('.') != std::string::npos) {
      *ns_out = name.substr(0, name.rfind('.'));
      return name;
    }
    const JsonValue* ns = json.Find("namespace");
    *ns_out = (ns != nullptr && ns->is_string()) ? ns->str() : enclosing_namespace;
    return ns_out->empty() ? name : *ns_out + "." + name;
  }

  absl::Status ResolveName(const std::string& name, const std::string& ns, int* out) {
    auto it = named_.find(name);
    if (it == named_.end() && name.find('.') == std::string::npos && !ns.empty()) {
      it = named_.find(ns + "." + name);
    }
    if (it == named_.end()) return Error("unknown type name '" + name + "'");
    *out = it->second;
    return absl::OkStatus();
  }

  absl::Status RegisterName(const std::string& full_name, int index) {
    AvroType primitive;
    if (PrimitiveType(full_name, &primitive)) {
      return Error("type name '" + full_name + "' redefines a primitive type");
    }
    if (!named_.emplace(full_name, index).second) {
      return Error("type name '" + full_name + "' is defined twice");
    }
    return absl::OkStatus();
  }

  absl::Status ParseType(const JsonValue& json, const std::string& ns, int depth, int* out) {
    if (depth > kMaxDepth) return Error("nesting deeper than 200 levels");
    if (json.is_string()) {
      AvroType type;
      if (PrimitiveType(json.str(), &type)) {
        *out = AddNode(type);
        return absl::OkStatus();
      }
      return ResolveName(json.str(), ns, out);
    }
    if (json.is_array()) return ParseUnion(json, ns, depth, out);
    if (!json.is_object()) return Error("a type must be a string, array or object, got " +
                                        json.ToString());
    const JsonValue* type_json = json.Find("type");
    if (type_json == nullptr) return Error("object without \"type\": " + json.ToString());
    if (!type_json->is_string()) {
      // {"type": {...}} or {"type": [...]} wraps another type definition.
      return ParseType(*type_json, ns, depth + 1, out);
    }
    const std::string& type_name = type_json->str();
    AvroType primitive;
    if (PrimitiveType(type_name, &primitive)) {  // e.g. {"type": "int", "logicalType": "date"}
      *out = AddNode(primitive);
      return absl::OkStatus();
    }
    if (type_name == "record" || type_name == "error") return ParseRecord(json, ns, depth, out);
    if (type_name == "enum") return ParseEnum(json, ns, out);
    if (type_name == "fixed") return ParseFixed(json, ns, out);
    if (type_name == "array" || type_name == "map") {
      const char* key = type_name == "array" ? "items" : "values";
      const JsonValue* inner = json.Find(key);
      if (inner == nullptr) return Error(type_name + " without \"" + key + "\"");
      int child = -1;
      absl::Status status = ParseType(*inner, ns, depth + 1, &child);
      if (!status.ok()) return status;
      const int index = AddNode(type_name == "array" ? AvroType::kArray : AvroType::kMap);
      schema_->nodes_[index].children.push_back(child);
      *out = index;
      return absl::OkStatus();
    }
    return ResolveName(type_name, ns, out);
  }

  absl::Status ParseUnion(const JsonValue& json, const std::string& ns, int depth, int* out) {
    if (json.items().empty()) return Error("empty union");
    std::vector<int> branches;
    for (const JsonValue& item : json.items()) {
      if (item.is_array()) return Error("a union may not directly contain a union");
      int child = -1;
      absl::Status status = ParseType(item, ns, depth + 1, &child);
      if (!status.ok()) return status;
      branches.push_back(child);
    }
    const int index = AddNode(AvroType::kUnion);
    schema_->nodes_[index].children = std::move(branches);
    *out = index;
    return absl::OkStatus();
  }

  absl::Status NamedHeader(const JsonValue& json, const std::string& ns, std::string* full,
                           std::string* own_ns) {
    const JsonValue* name = json.Find("name");
    if (name == nullptr || !name->is_string() || name->str().empty()) {
      return Error("named type without a \"name\": " + json.ToString());
    }
    *full = FullName(name->str(), json, ns, own_ns);
    return absl::OkStatus();
  }

  absl::Status ParseRecord(const JsonValue& json, const std::string& ns, int depth, int* out) {
    std::string full, own_ns;
    absl::Status status = NamedHeader(json, ns, &full, &own_ns);
    if (!status.ok()) return status;
    const int index = AddNode(AvroType::kRecord);
    schema_->nodes_[index].name = full;
    status = RegisterName(full, index);  // before the fields: they may refer to this record
    if (!status.ok()) return status;
    const JsonValue* fields = json.Find("fields");
    if (fields == nullptr || !fields->is_array()) return Error("record '" + full +
                                                               "' without a \"fields\" array");
    for (const JsonValue& field : fields->items()) {
      const JsonValue* field_name = field.Find("name");
      const JsonValue* field_type = field.Find("type");
      if (field_name == nullptr || !field_name->is_string() || field_type == nullptr) {
        return Error("field without name or type in record '" + full + "'");
      }
      for (const std::string& existing : schema_->nodes_[index].field_names) {
        if (existing == field_name->str()) {
          return Error("record '" + full + "' has two fields named '" + existing + "'");
        }
      }
      int child = -1;
      status = ParseType(*field_type, own_ns, depth + 1, &child);
      if (!status.ok()) return status;
      schema_->nodes_[index].children.push_back(child);
      schema_->nodes_[index].field_names.push_back(field_name->str());
    }
    *out = index;
    return absl::OkStatus();
  }

  absl::Status ParseEnum(const JsonValue& json, const std::string& ns, int* out) {
    std::string full, own_ns;
    absl::Status status = NamedHeader(json, ns, &full, &own_ns);
    if (!status.ok()) return status;
    const JsonValue* symbols = json.Find("symbols");
    if (symbols == nullptr || !symbols->is_array()) return Error("enum '" + full +
                                                                 "' without \"symbols\"");
    const int index = AddNode(AvroType::kEnum);
    schema_->nodes_[index].name = full;
    for (const JsonValue& symbol : symbols->items()) {
      if (!symbol.is_string()) return Error("enum '" + full + "' has a non-string symbol");
      schema_->nodes_[index].symbols.push_back(symbol.str());
    }
    if (schema_->nodes_[index].symbols.empty()) return Error("enum '" + full + "' has no symbols");
    *out = index;
    return RegisterName(full, index);
  }

  absl::Status ParseFixed(const JsonValue& json, const std::string& ns, int* out) {
    std::string full, own_ns;
    absl::Status status = NamedHeader(json, ns, &full, &own_ns);
    if (!status.ok()) return status;
    const JsonValue* size = json.Find("size");
    if (size == nullptr || !size->is_integer() || size->integer() < 0 ||
        size->integer() > (int64_t{1} << 30)) {
      return Error("fixed '" + full + "' needs a \"size\" in [0, 2^30]");
    }
    const int index = AddNode(AvroType::kFixed);
    schema_->nodes_[index].name = full;
    schema_->nodes_[index].fixed_size = size->integer();
    *out = index;
    return RegisterName(full, index);
  }

  // Fixed point iteration: a record is zero-size when all its fields are; recursive records
  // start as "not zero-size" only if some path needs bytes, so iterate from optimistic true.
  void ComputeZeroSize() {
    const int n = schema_->num_nodes();
    std::vector<bool>& zero = schema_->zero_size_;
    zero.assign(n, false);
    for (int i = 0; i < n; ++i) {
      const SchemaNode& node = schema_->nodes_[i];
      zero[i] = node.type == AvroType::kNull || node.type == AvroType::kRecord ||
                (node.type == AvroType::kFixed && node.fixed_size == 0);
    }
    bool changed = true;
    while (changed) {
      changed = false;
      for (int i = 0; i < n; ++i) {
        const SchemaNode& node = schema_->nodes_[i];
        if (node.type != AvroType::kRecord || !zero[i]) continue;
        for (int child : node.children) {
          if (!zero[child]) {
            zero[i] = false;
            changed = true;
            break;
          }
        }
      }
    }
  }

  Schema* schema_;
  std::map<std::string, int> named_;
};

absl::Status Schema::Parse(std::string_view json_text, Schema* out) {
  *out = Schema();
  JsonValue json;
  absl::Status status = ParseJson(json_text, &json);
  if (!status.ok()) return absl::InvalidArgumentError("invalid Avro schema: " +
                                                      std::string(status.message()));
  return SchemaParser(out).Parse(json);
}

std::string Schema::TypeString(int index) const {
  std::string out;
  // Recursion is bounded: named types print by name only.
  struct Printer {
    const Schema* schema;
    void Print(int i, int depth, std::string* out) const {
      const SchemaNode& node = schema->nodes_[i];
      switch (node.type) {
        case AvroType::kRecord:
        case AvroType::kEnum:
        case AvroType::kFixed:
          out->append(TypeName(node.type));
          out->append(" ");
          out->append(node.name);
          return;
        case AvroType::kArray:
        case AvroType::kMap:
          out->append(TypeName(node.type));
          out->append("<");
          if (depth > 8) out->append("...");
          else Print(node.children[0], depth + 1, out);
          out->append(">");
          return;
        case AvroType::kUnion:
          out->append("union<");
          for (size_t b = 0; b < node.children.size(); ++b) {
            if (b) out->append(",");
            if (depth > 8) out->append("...");
            else Print(node.children[b], depth + 1, out);
          }
          out->append(">");
          return;
        default:
          out->append(TypeName(node.type));
      }
    }
  };
  Printer{this}.Print(index, 0, &out);
  return out;
}

}  // namespace avro
}  // namespace lirank
