#include "floors.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "kvtier/attention/cpu.h"
#include "kvtier/attention/gpu.h"

namespace kvtier::bench {

nlohmann::json Floors::to_json() const {
  return {{"device_read_gbps", device_read / 1e9},
          {"h2d_gbps", h2d / 1e9},
          {"d2h_gbps", d2h / 1e9},
          {"host_read_gbps", host_read / 1e9}};
}

namespace {

// Best throughput of `reps` timed runs of `enqueue` on `stream` (events around each).
template <class F>
double best_rate(Backend& b, Stream& stream, std::size_t bytes, int reps, F enqueue) {
  auto e0 = b.create_event(), e1 = b.create_event();
  enqueue();  // warm-up
  stream.synchronize();
  double best = 0;
  for (int i = 0; i < reps; ++i) {
    e0->record(stream);
    enqueue();
    e1->record(stream);
    e1->synchronize();
    best = std::max(best, static_cast<double>(bytes) / (e1->elapsed_ms(*e0) * 1e-3));
  }
  return best;
}

}  // namespace

Floors measure_floors(Backend& b, ThreadPool& host_threads, std::size_t bytes, int reps) {
  bytes = bytes / 16 * 16;
  Floors f;
  auto s = b.create_stream();
  Buffer dev = b.allocate(MemoryKind::kDevice, bytes);
  Buffer pinned = b.allocate(MemoryKind::kPinnedHost, bytes);
  std::memset(pinned.data(), 0x5A, bytes);
  b.fill_async(dev.data(), 0x3C, bytes, *s);
  f.h2d = best_rate(b, *s, bytes, reps, [&] { b.copy_async(dev.data(), pinned.data(), bytes, *s); });
  f.d2h = best_rate(b, *s, bytes, reps, [&] { b.copy_async(pinned.data(), dev.data(), bytes, *s); });
  auto host_read = [&](const void* p) {
    double best = 0;
    for (int i = 0; i <= reps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      volatile unsigned long long sink = attention::cpu_read_probe(p, bytes, host_threads);
      (void)sink;
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (i > 0) best = std::max(best, static_cast<double>(bytes) / sec);
    }
    return best;
  };
  f.host_read = host_read(pinned.data());
  if (b.kind() == BackendKind::kCuda) {
    Buffer sink = b.allocate(MemoryKind::kDevice, 64);
    f.device_read = best_rate(b, *s, bytes, reps, [&] {
      attention::gpu_read_probe(dev.data(), bytes, sink.as<unsigned long long>(), *s);
    });
  } else {
    s->synchronize();
    f.device_read = host_read(dev.data());
  }
  s->synchronize();
  return f;
}

}  // namespace kvtier::bench
