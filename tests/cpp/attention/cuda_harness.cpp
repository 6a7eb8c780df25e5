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

GpuRun GpuHarness::run(const Problem& p, int forced_splits) {
  const DecodeShape& s = p.shape;
  Buffer pool = upload(p.pool.data(), p.pool.size());
  std::vector<const void*> dblocks;
  for (std::size_t off : p.offsets) dblocks.push_back(static_cast<const char*>(pool.data()) + off);
  if (dblocks.empty()) dblocks.push_back(pool.data());
  Buffer blocks = upload(dblocks.data(), dblocks.size() * sizeof(void*));
  Buffer begin = upload(p.block_begin.data(), p.block_begin.size() * sizeof(int));
  Buffer lens = upload(p.seq_lens.data(), p.seq_lens.size() * sizeof(int));
  Buffer q = upload(p.q.data(), p.q.size());
  Buffer o = backend_->allocate(MemoryKind::kDevice, s.q_elems() * 4);
  Buffer lse = backend_->allocate(MemoryKind::kDevice, s.rows() * 4);
  backend_->fill_async(o.data(), 0xff, o.bytes(), *stream_);  // NaN poison
  backend_->fill_async(lse.data(), 0xff, lse.bytes(), *stream_);

  DecodeArgs a;
  a.shape = s;
  a.q = q.data();
  a.tables.blocks = blocks.as<const void*>();
  a.tables.block_begin = begin.as<int>();
  a.tables.seq_lens = lens.as<int>();
  a.host_block_begin = p.block_begin;
  a.host_seq_lens = p.seq_lens;
  a.o = o.as<float>();
  a.lse = lse.as<float>();
  decoder_->force_splits(forced_splits);
  decoder_->run(a, *stream_);
  GpuRun r;
  r.splits = decoder_->last_splits();
  r.o.resize(s.q_elems());
  r.lse.resize(s.rows());
  download(r.o.data(), o.data(), o.bytes());
  download(r.lse.data(), lse.data(), lse.bytes());
  return r;
}

}  // namespace kvtier::attention::test
