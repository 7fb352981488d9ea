#include "avro/record_sampler.h"

#include <numeric>

namespace lirank {
namespace avro {

void RecordSampler::Add(std::shared_ptr<DecodedBlock> block) {
  BufferedBlock buffered;
  buffered.block = std::move(block);
  if (shuffle_) {
    buffered.remaining.resize(static_cast<size_t>(buffered.block->num_records));
    std::iota(buffered.remaining.begin(), buffered.remaining.end(), 0);
  }
  AddRestored(std::move(buffered));
}

void RecordSampler::AddRestored(BufferedBlock buffered) {
  const int64_t unread = buffered.NumUnread(shuffle_);
  if (unread <= 0) return;
  buffered_ += unread;
  blocks_.push_back(std::move(buffered));
}

void RecordSampler::Take(int64_t n, Rng* rng, std::vector<RecordRef>* picks,
                         std::vector<std::shared_ptr<DecodedBlock>>* hold) {
  picks->clear();
  picks->reserve(static_cast<size_t>(n));
  if (!shuffle_) {
    while (n > 0) {
      BufferedBlock& front = blocks_.front();
      const int64_t take = std::min(n, front.block->num_records - front.next);
      for (int64_t i = 0; i < take; ++i) picks->push_back({front.block.get(), front.next + i});
      front.next += take;
      n -= take;
      buffered_ -= take;
      if (front.next == front.block->num_records) {
        hold->push_back(std::move(front.block));
        blocks_.pop_front();
      }
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    uint64_t r = rng->Uniform(static_cast<uint64_t>(buffered_));
    size_t b = 0;
    while (r >= blocks_[b].remaining.size()) {
      r -= blocks_[b].remaining.size();
      ++b;
    }
    std::vector<int32_t>& remaining = blocks_[b].remaining;
    picks->push_back({blocks_[b].block.get(), remaining[r]});
    remaining[r] = remaining.back();
    remaining.pop_back();
    --buffered_;
    if (remaining.empty()) {
      hold->push_back(std::move(blocks_[b].block));
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b));
    }
  }
}

}  // namespace avro
}  // namespace lirank
