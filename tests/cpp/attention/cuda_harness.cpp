#include "attention/cuda_harness.h"

#include <cstring>

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

}  // namespace

GpuRun GpuHarness::run(const Problem& p, int forced_splits) {
  return run_after(p, -1, p, forced_splits);
}

GpuRun GpuHarness::run_after(const Problem& first, int first_splits, const Problem& p,
                             int forced_splits) {
  const DecodeShape& s = p.shape;
  auto to_device = [&](const Problem& x) {
    DeviceProblem d;
    d.pool = upload(x.pool.data(), x.pool.size());
    std::vector<const void*> dblocks;
    for (std::size_t off : x.offsets)
      dblocks.push_back(static_cast<const char*>(d.pool.data()) + off);
    if (dblocks.empty()) dblocks.push_back(d.pool.data());
    d.blocks = upload(dblocks.data(), dblocks.size() * sizeof(void*));
    d.begin = upload(x.block_begin.data(), x.block_begin.size() * sizeof(int));
    d.lens = upload(x.seq_lens.data(), x.seq_lens.size() * sizeof(int));
    d.q = upload(x.q.data(), x.q.size());
    return d;
  };
  Buffer o = backend_->allocate(MemoryKind::kDevice, s.q_elems() * 4);
  Buffer lse = backend_->allocate(MemoryKind::kDevice, s.rows() * 4);
  auto args = [&](const Problem& x, const DeviceProblem& d) {
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
  };
  DeviceProblem d0;
  if (first_splits >= 0) d0 = to_device(first);
  const DeviceProblem d = to_device(p);
  backend_->fill_async(o.data(), 0xff, o.bytes(), *stream_);  // NaN poison
  backend_->fill_async(lse.data(), 0xff, lse.bytes(), *stream_);
  if (first_splits >= 0) {
    decoder_->force_splits(first_splits);
    decoder_->run(args(first, d0), *stream_);
  }
  decoder_->force_splits(forced_splits);
  decoder_->run(args(p, d), *stream_);
  GpuRun r;
  r.splits = decoder_->last_splits();
  r.o.resize(s.q_elems());
  r.lse.resize(s.rows());
  download(r.o.data(), o.data(), o.bytes());
  download(r.lse.data(), lse.data(), lse.bytes());
  return r;
}

}  // namespace kvtier::attention::test
