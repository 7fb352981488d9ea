// Parallel, order-preserving block decoding. Raw blocks are submitted in file order; each is
// decompressed and decoded by whichever thread claims it first: one of the pool's workers or
// the consumer itself, which decodes pending blocks while it waits for the oldest one. With
// `num_threads` threads in total the pool has num_threads - 1 workers (none for 1 thread:
// everything runs on the calling thread). Results come out in submission order, so output is
// deterministic whatever the scheduling.
#ifndef LIRANK_AVRO_DECODE_PIPELINE_H_
#define LIRANK_AVRO_DECODE_PIPELINE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "avro/block_reader.h"
#include "avro/decoded_block.h"
#include "tensorflow/core/platform/threadpool.h"

namespace lirank {
namespace avro {

class DecodeTask {
 public:
  // A block to decode.
  DecodeTask(std::shared_ptr<const FileContext> file, RawBlock raw);
  // A task that only reports an error (read or open failure) at its place in the order.
  explicit DecodeTask(absl::Status error, std::string filename, uint64_t offset);

  bool TryClaim() {
    int expected = kPending;
    return state_.compare_exchange_strong(expected, kRunning);
  }
  void Run();   // after a successful TryClaim
  void Wait();  // until Run has finished
  bool done() const { return state_.load() == kDone; }

  const std::string& filename() const { return filename_; }
  uint64_t offset() const { return offset_; }
  absl::Status status() const { return status_; }
  std::shared_ptr<DecodedBlock> TakeResult() { return std::move(result_); }

 private:
  static constexpr int kPending = 0, kRunning = 1, kDone = 2;
  std::shared_ptr<const FileContext> file_;
  std::string filename_;
  uint64_t offset_ = 0;
  RawBlock raw_;
  std::shared_ptr<DecodedBlock> result_;
  absl::Status status_;
  std::atomic<int> state_{kPending};
  std::mutex mu_;
  std::condition_variable done_cv_;
};

class DecodePipeline {
 public:
  // `pool` may be null (single-threaded); it must outlive the pipeline's tasks.
  explicit DecodePipeline(tensorflow::thread::ThreadPool* pool) : pool_(pool) {}

  void Submit(std::shared_ptr<DecodeTask> task);
  size_t size() const { return tasks_.size(); }
  bool empty() const { return tasks_.empty(); }
  const std::deque<std::shared_ptr<DecodeTask>>& tasks() const { return tasks_; }

  // Removes the oldest task and returns its result (or error), decoding pending tasks on the
  // calling thread while it is not done.
  absl::Status PopFront(std::shared_ptr<DecodedBlock>* block);

 private:
  tensorflow::thread::ThreadPool* pool_;
  std::deque<std::shared_ptr<DecodeTask>> tasks_;
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_DECODE_PIPELINE_H_
