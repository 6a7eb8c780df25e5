// CPU merge of partial attention states.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "attention/cpu/convert.h"
#include "attention/merge_math.h"
#include "kvtier/attention/merge.h"
#include "kvtier/core/error.h"

namespace kvtier::attention {
namespace {

void check_merge_args(std::span<const PartialState> parts, int head_dim, const void* out_o) {
  if (head_dim < 1)
    throw InvalidArgument("merge: head_dim " + std::to_string(head_dim) + "; expected >= 1");
  if (!out_o) throw InvalidArgument("merge: out_o must not be null");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].o || !parts[i].lse) {
      throw InvalidArgument("merge: part " + std::to_string(i) + " has a null o or lse");
    }
  }
}

}  // namespace

void merge_cpu(std::span<const PartialState> parts, std::size_t rows, int head_dim, void* out_o,
               DType out_dtype, float* out_lse, ThreadPool* pool) {
  check_merge_args(parts, head_dim, out_o);
  const std::size_t d = static_cast<std::size_t>(head_dim);
  auto merge_rows = [&](std::size_t r0, std::size_t r1) {
    std::vector<float> acc(d);
    std::vector<float> w(parts.size());
    for (std::size_t r = r0; r < r1; ++r) {
      detail::MergeAcc m;
      float unused_rescale, unused_weight;
      for (const PartialState& p : parts) m.add(p.lse[r], &unused_rescale, &unused_weight);
      for (std::size_t i = 0; i < parts.size(); ++i) w[i] = m.weight_of(parts[i].lse[r]);
      std::fill(acc.begin(), acc.end(), 0.f);
      for (std::size_t i = 0; i < parts.size(); ++i) {
        if (w[i] == 0.f) continue;  // empty parts may hold anything; never read them
        const float* src = parts[i].o + r * d;
        for (std::size_t k = 0; k < d; ++k) acc[k] += w[i] * src[k];
      }
      cpu::store_row(acc.data(), out_o, r * d, d, out_dtype);
      if (out_lse) out_lse[r] = m.lse();
    }
  };
  constexpr std::size_t kRowsPerTask = 64;
  const std::size_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  if (pool && tasks > 1) {
    pool->parallel_for(tasks, [&](std::size_t i) {
      merge_rows(i * kRowsPerTask, std::min(rows, (i + 1) * kRowsPerTask));
    });
  } else {
    merge_rows(0, rows);
  }
}

}  // namespace kvtier::attention
