#include "kvtier/transfer/transfer_engine.h"

#include "kvtier/core/error.h"
#include "transfer/batch_plan.h"
#include "transfer/copier.h"
#include "transfer/hazards.h"

namespace kvtier {

using detail::BatchPlan;
using detail::PlanBuilder;

namespace {

void check_view(const PoolView& v, Tier tier, const Geometry& g) {
  const char* name = tier_name(tier);
  if (v.tier != tier)
    throw InvalidArgument(std::string("the ") + name + " view is of tier " + tier_name(v.tier));
  if (v.base == nullptr || v.slots == 0)
    throw InvalidArgument(std::string("the ") + name + " view has no memory");
  if (v.slot_bytes != g.slot_bytes()) {
    throw InvalidArgument(std::string("the ") + name + " view has slots of " +
                          std::to_string(v.slot_bytes) + " bytes; " + g.name + " needs " +
                          std::to_string(g.slot_bytes()));
  }
  const bool device = v.kind == MemoryKind::kDevice;
  if (device != (tier == Tier::kGpu)) {
    throw InvalidArgument(std::string("the ") + name + " view is of " + memory_kind_name(v.kind) +
                          " memory; expected " + (tier == Tier::kGpu ? "device" : "host") +
                          " memory");
  }
}

}  // namespace

TransferEngine::TransferEngine(Backend& backend, const Geometry& g, PoolView gpu, PoolView host,
                               TransferConfig config)
    : backend_(backend),
      geometry_(g),
      gpu_(std::move(gpu)),
      host_(std::move(host)),
      config_(config) {
  geometry_.validate();
  config_.validate();
  check_view(gpu_, Tier::kGpu, geometry_);
  check_view(host_, Tier::kHost, geometry_);
  if (host_.kind != MemoryKind::kPinnedHost &&
      (config_.h2d == CopyMethod::kKernel || config_.d2h == CopyMethod::kKernel)) {
    throw InvalidArgument(
        "the copy kernel reads and writes mapped pinned host memory; the host view is of " +
        std::string(memory_kind_name(host_.kind)) + " memory");
  }
  for (int i = 0; i < 2; ++i) {
    copiers_[i] = backend.kind() == BackendKind::kCuda
                      ? detail::make_cuda_copier(backend, config_)
                      : detail::make_cpu_copier(config_.cpu_threads);
    streams_[i] = backend.create_stream();
  }
  hazards_ = std::make_unique<detail::HazardTracker>(gpu_.slots, host_.slots);
}

TransferEngine::~TransferEngine() {
  for (auto& s : streams_) {
    try {
      if (s) s->synchronize();
    } catch (...) {  // destructors never throw; the error was the events' to report
    }
  }
}

CopyMethod TransferEngine::resolve(Direction d, std::size_t mean_segment_bytes) const {
  if (d == Direction::kDeviceToDevice || d == Direction::kHostToHost)
    return CopyMethod::kMemcpyRuns;
  const CopyMethod m = d == Direction::kHostToDevice ? config_.h2d : config_.d2h;
  if (m != CopyMethod::kAuto) return m;
  // Measured winners (docs/transfer.md); the kernel needs mapped pinned host memory.
  if (host_.kind != MemoryKind::kPinnedHost || d == Direction::kHostToDevice)
    return CopyMethod::kMemcpyBatch;
  // The kernel's writes to host memory stall host->device copies running beside them (0.60 of the
  // bidirectional ceiling against 0.88 with the copy engines both ways, 16-token slices): only
  // while no gather is in flight.
  if (last_h2d_ && !last_h2d_->query()) return CopyMethod::kMemcpyBatch;
  return mean_segment_bytes < config_.auto_d2h_kernel_below ? CopyMethod::kKernel
                                                            : CopyMethod::kMemcpyBatch;
}

TransferEvent TransferEngine::run(BatchPlan& plan) {
  try {
    PlanBuilder::check_conflicts(plan);
  } catch (...) {
    return TransferEvent::failed(std::current_exception());
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    return run_locked(plan);
  } catch (...) {
    return TransferEvent::failed(std::current_exception());
  }
}

TransferEvent TransferEngine::run_locked(BatchPlan& plan) {
  const std::uint64_t seq = next_seq_++;
  TransferEvent done;
  done.set_bytes(plan.bytes);
  for (int k = 0; k < 2; ++k) {
    detail::StreamPart& part = plan.parts[k];
    if (part.empty()) continue;
    Stream& stream = *streams_[k];
    if (const std::uint64_t other = hazards_->conflict(k, part.reads, part.writes)) {
      if (auto ev = hazards_->event_of(1 - k, other)) ev->wait(stream);
    }
    if (!part.cross.empty()) {
      const Direction d = k == 0 ? Direction::kHostToDevice : Direction::kDeviceToHost;
      auto merged = detail::merge_runs(part.cross);
      const std::size_t mean = detail::total_bytes(merged) / merged.size();
      copiers_[k]->enqueue(std::move(merged), d, resolve(d, mean), stream);
    }
    if (!part.local.empty()) {
      const Direction d = k == 0 ? Direction::kDeviceToDevice : Direction::kHostToHost;
      copiers_[k]->enqueue(detail::merge_runs(part.local), d, CopyMethod::kMemcpyRuns, stream);
    }
    std::shared_ptr<Event> ev = backend_.create_event();
    ev->record(stream);
    hazards_->note(k, seq, part.reads, part.writes, ev);
    if (k == 0 && !part.cross.empty()) last_h2d_ = ev;
    done.add(std::move(ev));
  }
  return done;
}

TransferEvent TransferEngine::submit(std::span<const SlotMove> moves) {
  BatchPlan plan;
  try {
    PlanBuilder b(geometry_, gpu_, host_);
    for (const SlotMove& m : moves) b.add_move(plan, m, -1);
  } catch (...) {
    return TransferEvent::failed(std::current_exception());
  }
  return run(plan);
}

TransferEvent TransferEngine::submit_layer(int layer, std::span<const SlotMove> moves) {
  BatchPlan plan;
  try {
    PlanBuilder b(geometry_, gpu_, host_);
    b.check_layer(layer);
    for (const SlotMove& m : moves) b.add_move(plan, m, layer);
  } catch (...) {
    return TransferEvent::failed(std::current_exception());
  }
  return run(plan);
}

TransferEvent TransferEngine::gather_layer(int layer, std::span<const SlotIndex> host_slots,
                                           void* dst, std::size_t dst_bytes) {
  BatchPlan plan;
  try {
    PlanBuilder(geometry_, gpu_, host_)
        .add_gather(plan, layer, host_slots, static_cast<std::byte*>(dst), dst_bytes);
  } catch (...) {
    return TransferEvent::failed(std::current_exception());
  }
  return run(plan);
}

TransferEvent TransferEngine::scatter_layer(int layer, const void* src, std::size_t src_bytes,
                                            std::span<const SlotIndex> host_slots) {
  BatchPlan plan;
  try {
    PlanBuilder(geometry_, gpu_, host_)
        .add_scatter(plan, layer, static_cast<const std::byte*>(src), src_bytes, host_slots);
  } catch (...) {
    return TransferEvent::failed(std::current_exception());
  }
  return run(plan);
}

TransferEngine::Staged TransferEngine::stage_layer(StagingRing& ring, int layer,
                                                   std::span<const SlotIndex> host_slots) {
  Staged out;
  if (ring.layer_bytes() != geometry_.layer_bytes()) {
    out.event = TransferEvent::failed(std::make_exception_ptr(InvalidArgument(
        "stage_layer: the ring's slices are of " + std::to_string(ring.layer_bytes()) +
        " bytes; expected " + std::to_string(geometry_.layer_bytes()))));
    return out;
  }
  if (host_slots.size() > ring.max_blocks()) {
    out.event = TransferEvent::failed(std::make_exception_ptr(
        InvalidArgument("stage_layer: " + std::to_string(host_slots.size()) +
                        " blocks; the ring's buffers hold " + std::to_string(ring.max_blocks()))));
    return out;
  }
  BatchPlan plan;
  try {
    PlanBuilder(geometry_, gpu_, host_)
        .add_gather(plan, layer, host_slots, static_cast<std::byte*>(ring.data(0)),
                    ring.buffer_bytes());
  } catch (...) {
    out.event = TransferEvent::failed(std::current_exception());
    return out;
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    out.buffer = ring.acquire(h2d_stream());
    auto* dst = static_cast<std::byte*>(ring.data(out.buffer));
    const std::size_t lb = geometry_.layer_bytes();
    for (std::size_t i = 0; i < plan.parts[0].cross.size(); ++i)
      plan.parts[0].cross[i].dst = dst + i * lb;
    out.event = run_locked(plan);
    ring.mark_full(out.buffer, h2d_stream());
  } catch (...) {
    out.event = TransferEvent::failed(std::current_exception());
    if (out.buffer >= 0) {
      try {
        ring.mark_full(out.buffer, h2d_stream());  // keeps the ring usable; the event has the error
      } catch (...) {
      }
    }
  }
  return out;
}

TransferEngine::Offload TransferEngine::offload(std::span<const SlotIndex> gpu_slots,
                                                SlotAllocator& host_slots) {
  Offload out;
  // An allocator cannot name its pool; one of another tier or size is surely not this engine's.
  if (host_slots.tier() != Tier::kHost || host_slots.capacity() != host_.slots) {
    out.event = TransferEvent::failed(std::make_exception_ptr(InvalidArgument(
        "offload: the slot allocator given (" + std::string(tier_name(host_slots.tier())) + ", " +
        std::to_string(host_slots.capacity()) + " slots) is not that of this engine's host view (" +
        std::to_string(host_.slots) + " host slots)")));
    return out;
  }
  try {
    out.host_slots = host_slots.allocate(gpu_slots.size());
  } catch (...) {
    out.event = TransferEvent::failed(std::current_exception());
    return out;
  }
  std::vector<SlotMove> moves(gpu_slots.size());
  for (std::size_t i = 0; i < moves.size(); ++i) {
    moves[i] = SlotMove{
        SlotMove::Kind::kMove, 0, {Tier::kGpu, gpu_slots[i]}, {Tier::kHost, out.host_slots[i]}, {}, 0};
  }
  out.event = submit(moves);
  if (out.event.rejected()) {
    for (SlotIndex s : out.host_slots) host_slots.free(s);
    out.host_slots.clear();
  }
  return out;
}

void TransferEngine::synchronize() {
  std::exception_ptr first;
  for (auto& s : streams_) {
    try {
      s->synchronize();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace kvtier
