#include "avro/decode_pipeline.h"

#include "avro/block_decoder.h"

namespace lirank {
namespace avro {

DecodeTask::DecodeTask(std::shared_ptr<const FileContext> file, RawBlock raw)
    : file_(std::move(file)), offset_(raw.offset), raw_(std::move(raw)) {
  filename_ = file_->filename;
}

DecodeTask::DecodeTask(absl::Status error, std::string filename, uint64_t offset)
    : filename_(std::move(filename)), offset_(offset), status_(std::move(error)),
      state_(kDone) {}

void DecodeTask::Run() {
  auto block = std::make_shared<DecodedBlock>();
  status_ = DecodeBlock(file_, &raw_, block.get());
  raw_.bytes.Release();
  if (status_.ok()) result_ = std::move(block);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_.store(kDone);
  }
  done_cv_.notify_all();
}

void DecodeTask::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return state_.load() == kDone; });
}

void DecodePipeline::Submit(std::shared_ptr<DecodeTask> task) {
  if (pool_ != nullptr && !task->done()) {
    pool_->Schedule([task] {
      if (task->TryClaim()) task->Run();
    });
  }
  tasks_.push_back(std::move(task));
}

absl::Status DecodePipeline::PopFront(std::shared_ptr<DecodedBlock>* block) {
  std::shared_ptr<DecodeTask> front = tasks_.front();
  tasks_.pop_front();
  while (!front->done()) {
    if (front->TryClaim()) {
      front->Run();
      break;
    }
    // The oldest block is being decoded by a worker: help with the next pending one.
    bool helped = false;
    for (const std::shared_ptr<DecodeTask>& task : tasks_) {
      if (task->TryClaim()) {
        task->Run();
        helped = true;
        break;
      }
    }
    if (!helped) front->Wait();
  }
  if (!front->status().ok()) return front->status();
  *block = front->TakeResult();
  return absl::OkStatus();
}

}  // namespace avro
}  // namespace lirank
