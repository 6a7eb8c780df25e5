// The CPU backend's copier: each copy list runs as one host task on the engine's stream (so it is
// ordered like device work), its segments spread over a small pool of worker threads.
#include <cstring>

#include "kvtier/backend/thread_pool.h"
#include "transfer/copier.h"

namespace kvtier::detail {
namespace {

class CpuCopier final : public Copier {
 public:
  explicit CpuCopier(int threads) : pool_(std::make_shared<ThreadPool>(threads)) {}

  void enqueue(std::vector<Segment> segs, Direction, CopyMethod, Stream& stream) override {
    if (segs.empty()) return;
    // Pieces of at most 1 MiB, so that a few whole slots still spread over the threads.
    auto pieces = std::make_shared<std::vector<Segment>>(split_pieces(segs, std::size_t{1} << 20));
    stream.host_task([pool = pool_, pieces] {
      pool->parallel_for(pieces->size(), [&](std::size_t i) {
        const Segment& s = (*pieces)[i];
        std::memcpy(s.dst, s.src, s.bytes);
      });
    });
  }

 private:
  std::shared_ptr<ThreadPool> pool_;
};

}  // namespace

std::unique_ptr<Copier> make_cpu_copier(int threads) {
  return std::make_unique<CpuCopier>(threads);
}

}  // namespace kvtier::detail
