// MurmurHash3 (Austin Appleby's public-domain algorithm), written for lirank-tf.
// Two variants, bit-identical to the reference and to the Python `mmh3` package:
//   x86_32   -> uint32 (mmh3.hash(key, seed, signed=False))
//   x64_128  -> two uint64 halves (mmh3.hash64(key, seed) are these, read as signed)
#ifndef LIRANK_CUSTOM_OPS_MURMUR3_MURMUR3_H_
#define LIRANK_CUSTOM_OPS_MURMUR3_MURMUR3_H_

#include <cstddef>
#include <cstdint>

namespace lirank {

uint32_t Murmur3X86_32(const void* data, size_t length, uint32_t seed);

struct Murmur3Hash128 {
  uint64_t low;   // h1: what LiRank bitcasts into two int32 halves (§A.7)
  uint64_t high;  // h2
};

Murmur3Hash128 Murmur3X64_128(const void* data, size_t length, uint32_t seed);

}  // namespace lirank

#endif  // LIRANK_CUSTOM_OPS_MURMUR3_MURMUR3_H_
