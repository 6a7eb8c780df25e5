// fp64 reference of partial decode attention, for tests and `kvtier-bench attention --verify`
// only: a direct two-pass softmax in double over host memory.
#pragma once

#include <vector>

#include "kvtier/attention/attention.h"

namespace kvtier::attention {

struct ReferenceHead {
  std::vector<double> o;    // [q_tokens][group][head_dim]
  std::vector<double> lse;  // [q_tokens][group], -inf for rows that see no key
};

// Rows of sequence b whose q heads belong to kv head h. args must be host memory.
ReferenceHead reference_head(const DecodeArgs& args, int b, int kv_head);

// Reads one element of a q or KV array of `dtype` as double.
double load_as_double(const void* base, std::size_t index, DType dtype);

}  // namespace kvtier::attention
