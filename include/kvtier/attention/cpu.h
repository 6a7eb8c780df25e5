// CPU partial decode attention over blocks in host memory: multithreaded (ThreadPool), with
// AVX-512 (bf16 dot products where the CPU has avx512_bf16), AVX2+FMA and portable paths chosen
// at run time. Same arguments and results as the GPU kernel; fp32 KV is accepted too.
#pragma once

#include "kvtier/attention/attention.h"
#include "kvtier/backend/thread_pool.h"

namespace kvtier::attention {

enum class CpuIsa { kPortable, kAvx2, kAvx512, kAvx512Bf16 };

const char* cpu_isa_name(CpuIsa isa);  // "portable", "avx2", "avx512", "avx512bf16"
// Whether this CPU can run `isa`.
bool cpu_isa_supported(CpuIsa isa);
// The fastest ISA this CPU supports.
CpuIsa best_cpu_isa();

// Computes (o, lse) for every row of `args` (all host memory) on `pool`'s threads.
// InvalidArgument for bad input and for an ISA this CPU lacks.
void decode_cpu(const DecodeArgs& args, ThreadPool& pool, CpuIsa isa);
inline void decode_cpu(const DecodeArgs& args, ThreadPool& pool) {
  decode_cpu(args, pool, best_cpu_isa());
}

// Reads `bytes` bytes at `data` with all of `pool`'s threads (the CPU read ceiling); returns a
// checksum so the reads cannot be optimized away.
unsigned long long cpu_read_probe(const void* data, std::size_t bytes, ThreadPool& pool);

}  // namespace kvtier::attention
