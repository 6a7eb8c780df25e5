#include "attention/cuda_harness.h"

#include <cstring>
#include <vector>

#include "attention/cpu/convert.h"
#include "kvtier/attention/merge.h"

namespace kvtier::attention::test {

GpuHarness::GpuHarness()
    : backend_(make_backend(BackendChoice::kCuda)),
      stream_(backend_->create_stream()),
      decoder_(std::make_unique<GpuDecoder>(*backend_)) {}

Buffer GpuHarness::upload(const void* data, std::size_t bytes) {
  Buffer b = backend_->allocate(MemoryKind::kDevice, std::max<std::size_t>(bytes, 16));
  if (bytes) backend_->copy_async(b.data(), data, bytes, *stream_);
  stream_->synchronize();
  return b;
}

void GpuHarness::download(void* dst, const void* src, std::size_t bytes) {
  backend_->copy_async(dst, src, bytes, *stream_);
  stream_->synchronize();
}

namespace {

struct DeviceProblem {
  Buffer pool, blocks, begin, lens, q;
};

DeviceProblem to_device(GpuHarness& gpu, const Problem& x) {
  DeviceProblem d;
  d.pool = gpu.upload(x.pool.data(), x.pool.size());
  std::vector<const void*> dblocks;
  for (std::size_t off : x.offsets)
    dblocks.push_back(static_cast<const char*>(d.pool.data()) + off);
  if (dblocks.empty()) dblocks.push_back(d.pool.data());
  d.blocks = gpu.upload(dblocks.data(), dblocks.size() * sizeof(void*));
  d.begin = gpu.upload(x.block_begin.data(), x.block_begin.size() * sizeof(int));
  d.lens = gpu.upload(x.seq_lens.data(), x.seq_lens.size() * sizeof(int));
  d.q = gpu.upload(x.q.data(), x.q.size());
  return d;
}

DecodeArgs args_of(const Problem& x, const DeviceProblem& d, Buffer& o, Buffer& lse) {
  DecodeArgs a;
  a.shape = x.shape;
  a.q = d.q.data();
  a.tables.blocks = d.blocks.as<const void*>();
  a.tables.block_begin = d.begin.as<int>();
  a.tables.seq_lens = d.lens.as<int>();
  a.host_block_begin = x.block_begin;
  a.host_seq_lens = x.seq_lens;
  a.o = o.as<float>();
  a.lse = lse.as<float>();
  return a;
}

}  // namespace

GpuRun GpuHarness::results(const DecodeShape& s, const Buffer& o, const Buffer& lse) {
  GpuRun r;
  r.splits = decoder_->last_splits();
  r.o.resize(s.q_elems());
  r.lse.resize(s.rows());
  download(r.o.data(), o.data(), o.bytes());
  download(r.lse.data(), lse.data(), lse.bytes());
  return r;
}

GpuRun GpuHarness::run(const Problem& p, int forced_splits) {
  return run_after(p, -1, p, forced_splits);
}

GpuRun GpuHarness::run_after(const Problem& first, int first_splits, const Problem& p,
                             int forced_splits, bool kv_ready) {
  const DecodeShape& s = p.shape;
  Buffer o = backend_->allocate(MemoryKind::kDevice, s.q_elems() * 4);
  Buffer lse = backend_->allocate(MemoryKind::kDevice, s.rows() * 4);
  DeviceProblem d0;
  if (first_splits >= 0) d0 = to_device(*this, first);
  const DeviceProblem d = to_device(*this, p);
  backend_->fill_async(o.data(), 0xff, o.bytes(), *stream_);  // NaN poison
  backend_->fill_async(lse.data(), 0xff, lse.bytes(), *stream_);
  if (first_splits >= 0) {
    decoder_->force_splits(first_splits);
    decoder_->run(args_of(first, d0, o, lse), *stream_);
  }
  decoder_->force_splits(forced_splits);
  DecodeArgs second = args_of(p, d, o, lse);
  second.kv_ready = kv_ready;
  decoder_->run(second, *stream_);
  return results(s, o, lse);
}

GpuRun GpuHarness::run_q_from_kernel(const Problem& p) {
  const DecodeShape& s = p.shape;
  const DeviceProblem d = to_device(*this, p);
  // q as fp32 with lse 0: a merge of this one part writes q's exact values in q's dtype.
  std::vector<float> q32(s.q_elems());
  for (std::size_t i = 0; i < q32.size(); ++i) q32[i] = cpu::load_float(p.q.data(), i, s.dtype);
  const std::vector<float> zeros(s.rows(), 0.f);
  Buffer part_o = upload(q32.data(), q32.size() * 4),
         part_lse = upload(zeros.data(), zeros.size() * 4);
  Buffer q = backend_->allocate(MemoryKind::kDevice, p.q.size());
  Buffer o = backend_->allocate(MemoryKind::kDevice, s.q_elems() * 4);
  Buffer lse = backend_->allocate(MemoryKind::kDevice, s.rows() * 4);
  backend_->fill_async(q.data(), 0x7f, q.bytes(), *stream_);  // huge finite values
  backend_->fill_async(o.data(), 0xff, o.bytes(), *stream_);  // NaN poison
  backend_->fill_async(lse.data(), 0xff, lse.bytes(), *stream_);
  const PartialState part{part_o.as<float>(), part_lse.as<float>()};
  merge_gpu(std::span<const PartialState>(&part, 1), s.rows(), s.head_dim, q.data(), s.dtype,
            nullptr, *stream_);
  DecodeArgs a = args_of(p, d, o, lse);
  a.q = q.data();
  a.kv_ready = true;
  decoder_->force_splits(0);
  decoder_->run(a, *stream_);
  return results(s, o, lse);
}

}  // namespace kvtier::attention::test
