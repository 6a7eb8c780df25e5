// Reads of a group of consecutive layers of one slot, for a decode step that works layer by layer
// (DESIGN.md): one O_DIRECT read of the layers' contiguous byte range, verified against the layer
// checksums the in-memory index keeps for every published slot, so no header is read. Built for
// high rates (hundreds of KiB a request, dozens in flight): one allocation for the request state,
// posted from the caller's thread (queued in the engine when it is full, so the call never waits
// on the disk), one worker hop to verify.
#include <cstring>

#include "kvtier/core/log.h"
#include "transfer/disk/checksum.h"
#include "transfer/disk/store_impl.h"

namespace kvtier {

// One request in flight; owned by the I/O path from submission to finish_layer_read().
struct DiskStore::Impl::LayerRead {
  DiskFuture future;
  Hash128 expected;
  SlotIndex slot = kNoSlot;
  std::uint32_t first = 0, layers = 0;
  void* dst = nullptr;
  unsigned char* into = nullptr;  // where the read lands: dst, or the bounce buffer
  std::size_t skip = 0;           // bytes before the first layer in `into` (unaligned layers)
  std::uint64_t want = 0;         // bytes the read asks for
  std::int64_t result = 0;
  disk::AlignedBuffer bounce;
};

DiskFuture DiskStore::Impl::read_layers(SlotIndex s, const Hash128& expected, int first_layer,
                                        int layers, void* dst, DiskCallback callback) {
  const int total = static_cast<int>(layers_);
  if (first_layer < 0 || layers < 1 || first_layer > total - layers) {
    throw InvalidArgument(
        "disk layer read of block " + expected.hex() + ": layers [" + std::to_string(first_layer) +
        ", " + std::to_string(static_cast<long long>(first_layer) + layers) +
        "); expected a non-empty range within the geometry's " + std::to_string(total) + " layers");
  }
  if (dst == nullptr) {
    throw InvalidArgument("disk layer read of block " + expected.hex() +
                          ": destination is null; expected " +
                          std::to_string(layers * layer_bytes_) + " bytes");
  }
  DiskFuture future = DiskFuture::make_pending(s, std::move(callback));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (s >= layout_.total_slots || slots_[s].state != SlotState::kValid ||
        slots_[s].hash != expected) {
      throw InvalidArgument("disk layer read of block " + expected.hex() + " from slot " +
                            std::to_string(s) +
                            ": that slot does not hold it; expected a published (hash, slot) "
                            "pair");
    }
    ++slots_[s].readers;  // keeps writes off the slot (and its layer checksums fixed)
    ++pending_;
  }
  try {
    auto op = std::make_unique<LayerRead>();
    op->future = future;
    op->expected = expected;
    op->slot = s;
    op->first = static_cast<std::uint32_t>(first_layer);
    op->layers = static_cast<std::uint32_t>(layers);
    op->dst = dst;
    // The layers' bytes within the payload, widened to 4 KiB for O_DIRECT when layer_bytes is
    // not a multiple of it (the padded payload always covers the widened end).
    const std::uint64_t begin = op->first * layer_bytes_;
    const std::uint64_t end = begin + op->layers * layer_bytes_;
    const std::uint64_t aligned_begin = begin / disk::kDirectAlign * disk::kDirectAlign;
    op->want = disk::align_up(end) - aligned_begin;
    op->skip = begin - aligned_begin;
    if (op->skip == 0 && op->want == end - begin && disk::is_aligned(dst)) {
      op->into = static_cast<unsigned char*>(dst);
    } else {
      op->bounce = disk::AlignedBuffer(op->want);
      op->into = op->bounce.data();
    }
    disk::IoRequest r;
    r.fd = fd_of(s);
    r.offset = layout_.offset_of(s) + disk::kHeaderBytes + aligned_begin;
    r.iov[0] = {op->into, op->want};
    // Two pointers: std::function keeps them inline, no allocation per request.
    r.done = [this, raw = op.get()](std::int64_t res) {
      raw->result = res;
      cpu_->push([this, raw] { finish_layer_read(raw); });
    };
    engine_->post(std::move(r));
    op.release();  // posted: finish_layer_read() owns it (and may already have freed it)
  } catch (...) {  // an allocation failed before the request was submitted
    end_read(s, expected, false, 0, false, std::current_exception(), future);
  }
  return future;
}

void DiskStore::Impl::finish_layer_read(LayerRead* raw) {
  std::unique_ptr<LayerRead> op(raw);
  std::exception_ptr error;
  bool drop = false;
  const std::uint64_t bytes = op->layers * layer_bytes_;
  try {
    std::string reason;
    if (op->result < 0) {
      error = std::make_exception_ptr(
          IoError("disk tier: block " + op->expected.hex() + " at " + slot_location(op->slot) +
                  ": read of layers [" + std::to_string(op->first) + ", " +
                  std::to_string(op->first + op->layers) +
                  ") failed: " + std::strerror(static_cast<int>(-op->result))));
    } else if (static_cast<std::uint64_t>(op->result) != op->want) {
      reason = "short read of layers [" + std::to_string(op->first) + ", " +
               std::to_string(op->first + op->layers) + "), " + std::to_string(op->result) +
               " of " + std::to_string(op->want) + " bytes (file truncated?)";
    } else {
      const unsigned char* p = op->into + op->skip;
      const std::uint32_t* crcs = layer_crcs_.data() + std::size_t{op->slot} * layers_;
      for (std::uint32_t i = 0; i < op->layers; ++i) {
        const std::uint32_t l = op->first + i;
        if (disk::layer_checksum(p + i * layer_bytes_, layer_bytes_) != crcs[l]) {
          reason = "payload checksum mismatch in layer " + std::to_string(l);
          break;
        }
      }
      if (reason.empty() && op->into != op->dst) std::memcpy(op->dst, p, bytes);
    }
    if (!reason.empty()) {
      drop = true;
      error = corruption(op->slot, op->expected, reason);
    }
  } catch (...) {
    error = std::current_exception();
  }
  end_read(op->slot, op->expected, false, bytes, drop, error, op->future);
}

}  // namespace kvtier
