#include "murmur3/murmur3.h"

#include <cstring>

namespace lirank {
namespace {

inline uint32_t RotateLeft32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
inline uint64_t RotateLeft64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Blocks are read little-endian, as the reference does on x86 and as mmh3 does everywhere.
inline uint32_t ReadLE32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t ReadLE64(const uint8_t* p) {
  return static_cast<uint64_t>(ReadLE32(p)) | (static_cast<uint64_t>(ReadLE32(p + 4)) << 32);
}

inline uint32_t FinalMix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

inline uint64_t FinalMix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

}  // namespace

uint32_t Murmur3X86_32(const void* data, size_t length, uint32_t seed) {
  constexpr uint32_t kC1 = 0xcc9e2d51U;
  constexpr uint32_t kC2 = 0x1b873593U;
  const auto* bytes = static_cast<const uint8_t*>(data);
  const size_t block_count = length / 4;
  uint32_t h = seed;
  for (size_t i = 0; i < block_count; ++i) {
    uint32_t k = ReadLE32(bytes + 4 * i);
    k *= kC1;
    k = RotateLeft32(k, 15);
    k *= kC2;
    h ^= k;
    h = RotateLeft32(h, 13);
    h = h * 5 + 0xe6546b64U;
  }
  const uint8_t* tail = bytes + 4 * block_count;
  uint32_t k = 0;
  switch (length & 3) {
    case 3: k ^= static_cast<uint32_t>(tail[2]) << 16; [[fallthrough]];
    case 2: k ^= static_cast<uint32_t>(tail[1]) << 8; [[fallthrough]];
    case 1:
      k ^= tail[0];
      k *= kC1;
      k = RotateLeft32(k, 15);
      k *= kC2;
      h ^= k;
  }
  h ^= static_cast<uint32_t>(length);
  return FinalMix32(h);
}

Murmur3Hash128 Murmur3X64_128(const void* data, size_t length, uint32_t seed) {
  constexpr uint64_t kC1 = 0x87c37b91114253d5ULL;
  constexpr uint64_t kC2 = 0x4cf5ad432745937fULL;
  const auto* bytes = static_cast<const uint8_t*>(data);
  const size_t block_count = length / 16;
  uint64_t h1 = seed;
  uint64_t h2 = seed;
  for (size_t i = 0; i < block_count; ++i) {
    uint64_t k1 = ReadLE64(bytes + 16 * i);
    uint64_t k2 = ReadLE64(bytes + 16 * i + 8);
    k1 *= kC1; k1 = RotateLeft64(k1, 31); k1 *= kC2; h1 ^= k1;
    h1 = RotateLeft64(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729ULL;
    k2 *= kC2; k2 = RotateLeft64(k2, 33); k2 *= kC1; h2 ^= k2;
    h2 = RotateLeft64(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5ULL;
  }
  const uint8_t* tail = bytes + 16 * block_count;
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  const size_t rest = length & 15;
  for (size_t i = rest; i > 8; --i) k2 ^= static_cast<uint64_t>(tail[i - 1]) << (8 * (i - 9));
  if (rest > 8) {
    k2 *= kC2; k2 = RotateLeft64(k2, 33); k2 *= kC1; h2 ^= k2;
  }
  for (size_t i = rest < 8 ? rest : 8; i > 0; --i) k1 ^= static_cast<uint64_t>(tail[i - 1]) << (8 * (i - 1));
  if (rest > 0) {
    k1 *= kC1; k1 = RotateLeft64(k1, 31); k1 *= kC2; h1 ^= k1;
  }
  h1 ^= static_cast<uint64_t>(length);
  h2 ^= static_cast<uint64_t>(length);
  h1 += h2;
  h2 += h1;
  h1 = FinalMix64(h1);
  h2 = FinalMix64(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

}  // namespace lirank
