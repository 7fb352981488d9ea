// Reads an Avro object container file through TensorFlow's file system layer
// (tensorflow::RandomAccessFile, so every registered scheme works): the header (schema,
// codec, sync marker), then one raw (still compressed) block at a time, with buffered reads
// of `buffer_size` bytes. Sizes are checked against the file size before any allocation.
#ifndef LIRANK_AVRO_BLOCK_READER_H_
#define LIRANK_AVRO_BLOCK_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "avro/buffer.h"
#include "avro/codec.h"
#include "tensorflow/core/platform/file_system.h"

namespace lirank {
namespace avro {

struct FileHeader {
  std::string schema_json;
  Codec codec = Codec::kNull;
  uint8_t sync[16] = {};
  uint64_t first_block_offset = 0;
};

struct RawBlock {
  uint64_t offset = 0;       // file offset of the block (where its record count starts)
  int64_t record_count = 0;
  ByteBuffer bytes;          // the block's data as stored (compressed with the file's codec)
};

class BlockReader {
 public:
  BlockReader(std::string filename, std::unique_ptr<tensorflow::RandomAccessFile> file,
              uint64_t file_size, size_t buffer_size);

  // Reads and validates the header; call once, first.
  absl::Status ReadHeader(FileHeader* header);
  // Continues reading at a block boundary previously returned by next_block_offset().
  absl::Status SeekToBlock(uint64_t offset);
  // Reads the next block; sets *end_of_file (and leaves `block` alone) at the end.
  absl::Status ReadBlock(RawBlock* block, bool* end_of_file);

  uint64_t next_block_offset() const { return position_; }
  const std::string& filename() const { return filename_; }

 private:
  absl::Status Error(absl::StatusCode code, uint64_t offset, const std::string& what) const;
  absl::Status BlockError(absl::StatusCode code, uint64_t block_offset,
                          const std::string& what) const;
  // Makes at least min(n, bytes left in file) bytes from position_ available in the buffer.
  absl::Status Fill(size_t n);
  size_t Available() const { return buffer_.size() - (position_ - buffer_offset_); }
  const uint8_t* Current() const { return buffer_.data() + (position_ - buffer_offset_); }
  absl::Status ReadAt(uint64_t offset, size_t n, uint8_t* out) const;
  // Copies n bytes at position_ (buffered or not) to out and advances.
  absl::Status Consume(size_t n, uint8_t* out);
  absl::Status ReadLongAt(const char* what, int64_t* value);

  const std::string filename_;
  const std::unique_ptr<tensorflow::RandomAccessFile> file_;
  const uint64_t file_size_;
  const size_t buffer_size_;
  ByteBuffer buffer_;           // file bytes [buffer_offset_, buffer_offset_ + buffer_.size())
  uint64_t buffer_offset_ = 0;
  uint64_t position_ = 0;
  uint8_t sync_[16] = {};
  uint64_t first_block_offset_ = 0;
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_BLOCK_READER_H_
