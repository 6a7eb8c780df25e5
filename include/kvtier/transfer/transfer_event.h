// The completion of one transfer batch. A batch may use the host->device stream, the
// device->host stream or both; its TransferEvent covers all of them. Errors travel with it: a
// batch rejected at submission (bad slot, slot not owned, exhausted pool) carries that error and
// moved nothing; a device error surfaces from synchronize().
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <vector>

#include "kvtier/backend/backend.h"

namespace kvtier {

class TransferEvent {
 public:
  // A complete batch without error (and without work).
  TransferEvent() = default;
  // A batch rejected at submission: query() is true and synchronize() throws `error`.
  static TransferEvent failed(std::exception_ptr error);

  // Adds the completion of the work enqueued so far on one stream (the engine's use).
  void add(std::shared_ptr<Event> event) { events_.push_back(std::move(event)); }
  void set_bytes(std::size_t bytes) { bytes_ = bytes; }

  // True once every part is done, also when it failed (synchronize() then throws).
  bool query() const;
  // Blocks until the batch is done; throws its error (submission error first).
  void synchronize() const;
  // Work enqueued on `stream` after this call starts only once the batch is done. Throws the
  // submission error at once: a rejected batch has nothing to wait for, and nothing to read.
  void wait(Stream& stream) const;

  // Submission error, or nullptr (device errors show only through synchronize()).
  std::exception_ptr submit_error() const { return error_; }
  bool rejected() const { return error_ != nullptr; }
  // Bytes the batch moves (0 for a rejected batch).
  std::size_t bytes() const { return bytes_; }
  // The per-stream events (1 or 2; none for a rejected or empty batch).
  const std::vector<std::shared_ptr<Event>>& events() const { return events_; }

 private:
  std::vector<std::shared_ptr<Event>> events_;
  std::exception_ptr error_;
  std::size_t bytes_ = 0;
};

}  // namespace kvtier
