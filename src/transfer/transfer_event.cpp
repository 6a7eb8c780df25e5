#include "kvtier/transfer/transfer_event.h"

namespace kvtier {

TransferEvent TransferEvent::failed(std::exception_ptr error) {
  TransferEvent e;
  e.error_ = std::move(error);
  return e;
}

bool TransferEvent::query() const {
  for (const auto& e : events_) {
    if (!e->query()) return false;
  }
  return true;
}

void TransferEvent::synchronize() const {
  if (error_) std::rethrow_exception(error_);
  std::exception_ptr first;
  for (const auto& e : events_) {
    try {
      e->synchronize();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

void TransferEvent::wait(Stream& stream) const {
  if (error_) std::rethrow_exception(error_);
  for (const auto& e : events_) e->wait(stream);
}

}  // namespace kvtier
