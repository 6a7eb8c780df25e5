#include "kvtier/transfer/staging_ring.h"

#include "kvtier/core/error.h"

namespace kvtier {

std::size_t StagingRing::buffer_bytes(const Geometry& g, std::size_t max_blocks) {
  return g.layer_bytes() * max_blocks;
}

StagingRing::StagingRing(Backend& backend, const Geometry& g, std::size_t max_blocks, int depth)
    : layer_bytes_(g.layer_bytes()),
      max_blocks_(max_blocks),
      buffer_bytes_(buffer_bytes(g, max_blocks)) {
  if (depth < 1)
    throw InvalidArgument("staging ring depth " + std::to_string(depth) + "; expected >= 1");
  if (max_blocks == 0) throw InvalidArgument("staging ring: max_blocks must be at least 1");
  buffers_.resize(static_cast<std::size_t>(depth));
  for (Slot& s : buffers_) {
    s.buffer = backend.allocate(MemoryKind::kDevice, buffer_bytes_);
    s.full = backend.create_event();
    s.free = backend.create_event();
  }
}

StagingRing::~StagingRing() { reset(); }

void StagingRing::reset() noexcept {
  for (Slot& s : buffers_) {
    for (Event* e : {s.full.get(), s.free.get()}) {
      try {
        if (e != nullptr) e->synchronize();  // never recorded: returns at once
      } catch (...) {
      }
    }
    s.state = State::kFree;
  }
  next_ = 0;
}

StagingRing::Slot& StagingRing::at(int index, const char* what) {
  if (index < 0 || index >= depth()) {
    throw InvalidArgument(std::string("staging ring ") + what + ": buffer " +
                          std::to_string(index) + " out of range; the ring has " +
                          std::to_string(depth()) + " buffers");
  }
  return buffers_[static_cast<std::size_t>(index)];
}

void* StagingRing::data(int index) const {
  return const_cast<StagingRing*>(this)->at(index, "data").buffer.data();
}

int StagingRing::acquire(Stream& copy_stream) {
  const int index = next_;
  Slot& s = buffers_[static_cast<std::size_t>(index)];
  if (s.state != State::kFree) {
    throw InvalidArgument("staging ring: buffer " + std::to_string(index) +
                          " is still in use (acquired and not released); release it on the compute "
                          "stream before acquiring more than " +
                          std::to_string(depth()) + " buffers");
  }
  s.free->wait(copy_stream);  // never recorded: no wait
  s.state = State::kFilling;
  next_ = (next_ + 1) % depth();
  return index;
}

void StagingRing::mark_full(int index, Stream& copy_stream) {
  Slot& s = at(index, "mark_full");
  if (s.state != State::kFilling) {
    throw InvalidArgument("staging ring: mark_full of buffer " + std::to_string(index) +
                          ", which was not acquired");
  }
  s.full->record(copy_stream);
  s.state = State::kFull;
}

void StagingRing::wait_full(int index, Stream& compute_stream) {
  Slot& s = at(index, "wait_full");
  if (s.state != State::kFull) {
    throw InvalidArgument("staging ring: wait_full of buffer " + std::to_string(index) +
                          ", which is not marked full");
  }
  s.full->wait(compute_stream);
}

void StagingRing::release(int index, Stream& compute_stream) {
  Slot& s = at(index, "release");
  if (s.state != State::kFull) {
    throw InvalidArgument("staging ring: release of buffer " + std::to_string(index) +
                          ", which is not full");
  }
  s.free->record(compute_stream);
  s.state = State::kFree;
}

}  // namespace kvtier
