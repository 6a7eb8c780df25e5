// The hardware floors a decode step is measured against (DESIGN.md, "Speed: the floors"),
// measured in the same run: device memory read bandwidth (a plain read kernel; on the CPU backend,
// all host threads reading the "GPU" pool's kind of memory), host->device and device->host
// bandwidth (one large pinned copy each way) and host memory read bandwidth (all host threads).
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "kvtier/backend/backend.h"
#include "kvtier/backend/thread_pool.h"

namespace kvtier::bench {

struct Floors {
  double device_read = 0;  // bytes per second
  double h2d = 0, d2h = 0;
  double host_read = 0;
  nlohmann::json to_json() const;
};

// Each figure is the best of `reps` runs over `bytes` bytes (rounded down to 16).
Floors measure_floors(Backend& backend, ThreadPool& host_threads, std::size_t bytes, int reps = 5);

}  // namespace kvtier::bench
