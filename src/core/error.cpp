#include "kvtier/core/error.h"

namespace kvtier {

void throw_check_failure(const char* expr, const char* file, int line, const std::string& msg) {
  std::string what = std::string("internal check failed: ") + expr + " at " + file + ":" +
                     std::to_string(line);
  if (!msg.empty()) what += ": " + msg;
  throw InternalError(what);
}

}  // namespace kvtier
