// The buffer of decoded blocks that batches are drawn from: shuffle fused with batching.
//
// Sequential mode (no shuffle) hands out records in file order. Shuffle mode draws each record
// of a batch uniformly at random, without replacement, from every unread record of every
// buffered block (blocks are decoded column-wise, so any record of a block can be taken in
// O(1)). The caller refills whole blocks before each batch, so the pool holds between
// shuffle_buffer_size + batch_size and that plus one block of records.
#ifndef LIRANK_AVRO_RECORD_SAMPLER_H_
#define LIRANK_AVRO_RECORD_SAMPLER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "avro/batch_builder.h"
#include "avro/decoded_block.h"

namespace lirank {
namespace avro {

// Counter-based generator (SplitMix64 finaliser over seed + counter): its whole state is two
// integers, which makes iterator checkpoints exact.
class Rng {
 public:
  void Reset(uint64_t seed, uint64_t counter) {
    seed_ = seed;
    counter_ = counter;
  }
  uint64_t Next() {
    uint64_t z = seed_ + (++counter_) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, n), n > 0, without modulo bias (rejection).
  uint64_t Uniform(uint64_t n) {
    const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n);
    uint64_t x;
    do {
      x = Next();
    } while (x >= limit);
    return x % n;
  }
  uint64_t seed() const { return seed_; }
  uint64_t counter() const { return counter_; }

 private:
  uint64_t seed_ = 0;
  uint64_t counter_ = 0;
};

struct BufferedBlock {
  std::shared_ptr<DecodedBlock> block;
  int64_t next = 0;                 // sequential mode: the next unread record
  std::vector<int32_t> remaining;   // shuffle mode: unread record ids (order is state)

  int64_t NumUnread(bool shuffle) const {
    return shuffle ? static_cast<int64_t>(remaining.size()) : block->num_records - next;
  }
};

class RecordSampler {
 public:
  explicit RecordSampler(bool shuffle) : shuffle_(shuffle) {}

  // Adds a block with all its records unread.
  void Add(std::shared_ptr<DecodedBlock> block);
  // Adds a block in a restored state (checkpoints).
  void AddRestored(BufferedBlock buffered);

  int64_t buffered() const { return buffered_; }
  const std::deque<BufferedBlock>& blocks() const { return blocks_; }

  // Takes `n` <= buffered() records. Blocks that become empty leave the buffer; they are kept
  // alive in `*hold` until the caller has copied the picked records.
  void Take(int64_t n, Rng* rng, std::vector<RecordRef>* picks,
            std::vector<std::shared_ptr<DecodedBlock>>* hold);

 private:
  bool shuffle_;
  std::deque<BufferedBlock> blocks_;
  int64_t buffered_ = 0;
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_RECORD_SAMPLER_H_
