#include "avro/value_skipper.h"

namespace lirank {
namespace avro {

bool SkipValue(const Schema& schema, int node, Cursor& c, int depth) {
  if (LIRANK_UNLIKELY(depth > kMaxNesting)) return c.Fail("values nested too deeply");
  const SchemaNode& n = schema.node(node);
  switch (n.type) {
    case AvroType::kNull: return true;
    case AvroType::kBoolean: return Skip(c, 1);
    case AvroType::kFloat: return Skip(c, 4);
    case AvroType::kDouble: return Skip(c, 8);
    case AvroType::kFixed: return Skip(c, static_cast<uint64_t>(n.fixed_size));
    case AvroType::kInt:
    case AvroType::kLong:
    case AvroType::kEnum: {
      uint64_t v;
      return ReadVarint(c, &v);
    }
    case AvroType::kBytes:
    case AvroType::kString: {
      const char* data;
      size_t size;
      return ReadBytes(c, &data, &size);
    }
    case AvroType::kRecord:
      for (int child : n.children) {
        if (!SkipValue(schema, child, c, depth + 1)) return false;
      }
      return true;
    case AvroType::kUnion: {
      int64_t branch;
      if (!ReadLong(c, &branch)) return false;
      if (branch < 0 || branch >= static_cast<int64_t>(n.children.size())) {
        return c.Fail("union branch index out of range");
      }
      return SkipValue(schema, n.children[branch], c, depth + 1);
    }
    case AvroType::kArray:
    case AvroType::kMap: {
      const int item = n.children[0];
      const bool is_map = n.type == AvroType::kMap;
      const bool zero = !is_map && schema.IsZeroSize(item);
      while (true) {
        int64_t count, byte_size;
        if (!ReadBlockCount(c, zero, &count, &byte_size)) return false;
        if (count == 0) return true;
        if (byte_size >= 0) {
          if (!Skip(c, static_cast<uint64_t>(byte_size))) return false;
          continue;
        }
        if (zero) continue;
        for (int64_t i = 0; i < count; ++i) {
          if (is_map) {
            const char* key;
            size_t size;
            if (!ReadBytes(c, &key, &size)) return false;
          }
          if (!SkipValue(schema, item, c, depth + 1)) return false;
        }
      }
    }
  }
  return c.Fail("unknown schema node");
}

}  // namespace avro
}  // namespace lirank
