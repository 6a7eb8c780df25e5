// 128-bit hashes for block identity (prefix reuse). Not cryptographic: it guards against
// accidental collisions (2^-64 birthday bound at 2^32 blocks), not against an adversary who picks
// token sequences to collide on purpose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace kvtier {

struct Hash128 {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  friend bool operator==(const Hash128&, const Hash128&) = default;
  friend auto operator<=>(const Hash128&, const Hash128&) = default;
  std::string hex() const;  // 32 hex digits, hi first
};

// Hashes `bytes` bytes at `data` with `seed` (MurmurHash3 x64 128 construction, own code).
Hash128 hash128(const void* data, std::size_t bytes, Hash128 seed = {});

// One step of the splitmix64 generator: advances `state` and returns the next 64 random bits.
// For deterministic test and benchmark data (never for identity: use hash128).
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Hash128Hasher {
  std::size_t operator()(const Hash128& h) const noexcept {
    return static_cast<std::size_t>(h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull));
  }
};

}  // namespace kvtier
