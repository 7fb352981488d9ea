// Skipping one value of any Avro type by its schema, without materialising it (fields of the
// file that are not requested). Arrays and maps written with block byte sizes are jumped over.
#ifndef LIRANK_AVRO_VALUE_SKIPPER_H_
#define LIRANK_AVRO_VALUE_SKIPPER_H_

#include "avro/binary.h"
#include "avro/schema.h"

namespace lirank {
namespace avro {

// Nesting limit of values (recursive schemas); deeper data is reported as corrupt.
constexpr int kMaxNesting = 128;

// Advances `c` past one value of schema node `node`; false (c.error set) on corrupt data.
bool SkipValue(const Schema& schema, int node, Cursor& c, int depth);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_VALUE_SKIPPER_H_
