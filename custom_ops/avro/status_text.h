// Error messages quote text from the files (schema names, codec names): corrupt files can
// put invalid UTF-8 there, which TensorFlow's Python layer cannot decode. Statuses leaving
// the op pass through MakePrintable, which escapes such bytes as \xNN.
#ifndef LIRANK_AVRO_STATUS_TEXT_H_
#define LIRANK_AVRO_STATUS_TEXT_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace lirank {
namespace avro {

// Copies `text`, replacing bytes that are not part of valid UTF-8 (and control characters
// other than tab/newline) with \xNN escapes.
std::string EscapeInvalidUtf8(std::string_view text);

absl::Status MakePrintable(const absl::Status& status);

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_STATUS_TEXT_H_
