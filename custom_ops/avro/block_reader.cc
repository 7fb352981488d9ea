#include "avro/block_reader.h"

#include <algorithm>
#include <cstring>

#include "avro/binary.h"

namespace lirank {
namespace avro {

namespace {
constexpr uint8_t kMagic[4] = {'O', 'b', 'j', 1};
constexpr int kSyncSize = 16;
// The header metadata holds a schema and a few short entries; larger is a corrupt header.
constexpr int64_t kMaxMetadataValueBytes = int64_t{64} << 20;
}  // namespace

BlockReader::BlockReader(std::string filename,
                         std::unique_ptr<tensorflow::RandomAccessFile> file, uint64_t file_size,
                         size_t buffer_size)
    : filename_(std::move(filename)),
      file_(std::move(file)),
      file_size_(file_size),
      buffer_size_(std::max<size_t>(buffer_size, 4096)) {}

absl::Status BlockReader::Error(absl::StatusCode code, uint64_t offset,
                                const std::string& what) const {
  return absl::Status(code, filename_ + ": at byte offset " + std::to_string(offset) + ": " +
                                what);
}

absl::Status BlockReader::BlockError(absl::StatusCode code, uint64_t block_offset,
                                     const std::string& what) const {
  return absl::Status(code, filename_ + ": block at byte offset " +
                                std::to_string(block_offset) + ": " + what);
}

absl::Status BlockReader::ReadAt(uint64_t offset, size_t n, uint8_t* out) const {
  size_t done = 0;
  while (done < n) {
    tensorflow::StringPiece result;
    absl::Status status = file_->Read(offset + done, n - done, &result,
                                      reinterpret_cast<char*>(out + done));
    if (result.size() > 0 && result.data() != reinterpret_cast<char*>(out + done)) {
      std::memmove(out + done, result.data(), result.size());
    }
    done += result.size();
    if (!status.ok() && done < n) {
      if (absl::IsOutOfRange(status)) {
        return Error(absl::StatusCode::kDataLoss, offset + done,
                     "unexpected end of file (the file is truncated)");
      }
      return absl::Status(status.code(), filename_ + ": read failed at byte offset " +
                                             std::to_string(offset + done) + ": " +
                                             std::string(status.message()));
    }
    if (result.empty() && done < n) {
      return Error(absl::StatusCode::kDataLoss, offset + done, "unexpected end of file");
    }
  }
  return absl::OkStatus();
}

absl::Status BlockReader::Fill(size_t n) {
  const uint64_t left_in_file = file_size_ - position_;
  n = static_cast<size_t>(std::min<uint64_t>(n, left_in_file));
  if (position_ >= buffer_offset_ && position_ <= buffer_offset_ + buffer_.size() &&
      Available() >= n) {
    return absl::OkStatus();
  }
  const size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(n, buffer_size_),
                                                             left_in_file));
  buffer_.Resize(0);
  buffer_.Reserve(want);
  absl::Status status = ReadAt(position_, want, buffer_.data());
  if (!status.ok()) return status;
  buffer_.Resize(want);
  buffer_offset_ = position_;
  return absl::OkStatus();
}

absl::Status BlockReader::Consume(size_t n, uint8_t* out) {
  if (position_ + n > file_size_) {
    return Error(absl::StatusCode::kDataLoss, position_, "unexpected end of file");
  }
  size_t done = 0;
  if (position_ >= buffer_offset_ && position_ < buffer_offset_ + buffer_.size()) {
    done = std::min(n, Available());
    std::memcpy(out, Current(), done);
    position_ += done;
  }
  if (done < n) {
    const size_t rest = n - done;
    if (rest >= buffer_size_) {  // large: read directly, bypassing the buffer
      absl::Status status = ReadAt(position_, rest, out + done);
      if (!status.ok()) return status;
      position_ += rest;
    } else {
      absl::Status status = Fill(rest);
      if (!status.ok()) return status;
      std::memcpy(out + done, Current(), rest);
      position_ += rest;
    }
  }
  return absl::OkStatus();
}

absl::Status BlockReader::ReadLongAt(const char* what, int64_t* value) {
  absl::Status status = Fill(10);
  if (!status.ok()) return status;
  Cursor cursor{Current(), Current() + std::min<size_t>(Available(), file_size_ - position_)};
  if (!ReadLong(cursor, value)) {
    return Error(absl::StatusCode::kDataLoss, position_,
                 std::string("cannot read ") + what + ": " + cursor.error);
  }
  position_ += cursor.pos - Current();
  return absl::OkStatus();
}

absl::Status BlockReader::ReadHeader(FileHeader* header) {
  if (file_size_ < sizeof(kMagic)) {
    return Error(absl::StatusCode::kDataLoss, 0,
                 "not an Avro object container file (" + std::to_string(file_size_) +
                     " bytes, too short for the header)");
  }
  uint8_t magic[4];
  absl::Status status = Consume(4, magic);
  if (!status.ok()) return status;
  if (std::memcmp(magic, kMagic, 4) != 0) {
    return Error(absl::StatusCode::kDataLoss, 0,
                 "not an Avro object container file (bad magic bytes)");
  }
  bool have_schema = false;
  std::string codec_name = "null";
  // Metadata: a map<bytes> written as blocks of (count, [key, value]...), ending with 0.
  while (true) {
    int64_t count = 0;
    status = ReadLongAt("the header metadata count", &count);
    if (!status.ok()) return status;
    if (count == 0) break;
    if (count < 0) {
      if (count == INT64_MIN) return Error(absl::StatusCode::kDataLoss, position_,
                                           "corrupt header metadata count");
      count = -count;
      int64_t byte_size = 0;
      status = ReadLongAt("the header metadata size", &byte_size);
      if (!status.ok()) return status;
    }
    if (static_cast<uint64_t>(count) > file_size_ - position_) {
      return Error(absl::StatusCode::kDataLoss, position_, "corrupt header metadata count");
    }
    for (int64_t i = 0; i < count; ++i) {
      std::string entry[2];
      for (std::string& text : entry) {
        int64_t length = 0;
        status = ReadLongAt("a header metadata length", &length);
        if (!status.ok()) return status;
        if (length < 0 || length > kMaxMetadataValueBytes ||
            static_cast<uint64_t>(length) > file_size_ - position_) {
          return Error(absl::StatusCode::kDataLoss, position_,
                       "corrupt header metadata length " + std::to_string(length));
        }
        text.resize(static_cast<size_t>(length));
        status = Consume(static_cast<size_t>(length), reinterpret_cast<uint8_t*>(&text[0]));
        if (!status.ok()) return status;
      }
      if (entry[0] == "avro.schema") {
        header->schema_json = std::move(entry[1]);
        have_schema = true;
      } else if (entry[0] == "avro.codec") {
        codec_name = std::move(entry[1]);
      }
    }
  }
  if (!have_schema) {
    return Error(absl::StatusCode::kDataLoss, position_, "the header has no avro.schema");
  }
  status = ParseCodec(codec_name, &header->codec);
  if (!status.ok()) return Error(absl::StatusCode::kInvalidArgument, position_,
                                 std::string(status.message()));
  status = Consume(kSyncSize, sync_);
  if (!status.ok()) return status;
  std::memcpy(header->sync, sync_, kSyncSize);
  first_block_offset_ = position_;
  header->first_block_offset = position_;
  return absl::OkStatus();
}

absl::Status BlockReader::SeekToBlock(uint64_t offset) {
  if (offset < first_block_offset_ || offset > file_size_) {
    return Error(absl::StatusCode::kInvalidArgument, offset,
                 "cannot resume reading: offset is outside the file's data (was the file "
                 "changed since the checkpoint?)");
  }
  position_ = offset;
  return absl::OkStatus();
}

absl::Status BlockReader::ReadBlock(RawBlock* block, bool* end_of_file) {
  *end_of_file = false;
  if (position_ == file_size_) {
    *end_of_file = true;
    return absl::OkStatus();
  }
  const uint64_t block_offset = position_;
  int64_t count = 0;
  int64_t size = 0;
  absl::Status status = ReadLongAt("the block's record count", &count);
  if (status.ok()) status = ReadLongAt("the block's byte size", &size);
  if (!status.ok()) {
    return BlockError(status.code(), block_offset, "corrupt or truncated block header (" +
                                                  std::string(status.message()) + ")");
  }
  if (count < 0 || size < 0) {
    return BlockError(absl::StatusCode::kDataLoss, block_offset,
                 "corrupt block header: negative record count or size");
  }
  const uint64_t left = file_size_ - position_;
  if (static_cast<uint64_t>(size) > left || left - static_cast<uint64_t>(size) < kSyncSize) {
    return BlockError(absl::StatusCode::kDataLoss, block_offset,
                 "truncated block: it declares " + std::to_string(size) +
                     " bytes plus a 16-byte sync marker, but only " + std::to_string(left) +
                     " bytes are left in the file");
  }
  if (size > int64_t{0xFFFFFFFF}) {
    return BlockError(absl::StatusCode::kDataLoss, block_offset,
                 "block larger than 4 GiB (corrupt block size?)");
  }
  block->offset = block_offset;
  block->record_count = count;
  block->bytes.Resize(static_cast<size_t>(size));
  status = Consume(static_cast<size_t>(size), block->bytes.data());
  uint8_t sync[kSyncSize];
  if (status.ok()) status = Consume(kSyncSize, sync);
  if (!status.ok()) return BlockError(status.code(), block_offset, std::string(status.message()));
  if (std::memcmp(sync, sync_, kSyncSize) != 0) {
    return BlockError(absl::StatusCode::kDataLoss, block_offset,
                 "sync marker mismatch after the block (corrupt block size or data)");
  }
  return absl::OkStatus();
}

}  // namespace avro
}  // namespace lirank
