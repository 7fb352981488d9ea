// A small, strict JSON parser for Avro schemas (file headers) and the feature-spec attribute.
// The input may come from a corrupt file: nesting depth and sizes are bounded, every error is
// an absl::Status naming the byte position, never a crash.
#ifndef LIRANK_AVRO_JSON_H_
#define LIRANK_AVRO_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace lirank {
namespace avro {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool bool_value() const { return bool_; }
  double number() const { return number_; }
  // True when the number was written without fraction/exponent and fits int64.
  bool is_integer() const { return is_integer_; }
  int64_t integer() const { return integer_; }
  const std::string& str() const { return string_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }

  // Member of an object by key, or nullptr (also for non-objects).
  const JsonValue* Find(std::string_view key) const;

  // Compact JSON text of this value (used in error messages).
  std::string ToString() const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  bool is_integer_ = false;
  double number_ = 0.0;
  int64_t integer_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

// Parses `text` (one JSON value, optional surrounding whitespace) into `*out`.
absl::Status ParseJson(std::string_view text, JsonValue* out);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_JSON_H_
