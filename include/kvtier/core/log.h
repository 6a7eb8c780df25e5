// Minimal leveled logging to stderr. Level from KVTIER_LOG (error|warn|info|debug), default warn.
#pragma once

#include <sstream>
#include <string>

namespace kvtier {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

LogLevel log_level();
void set_log_level(LogLevel level);
void log_message(LogLevel level, const std::string& msg);

}  // namespace kvtier

#define KVT_LOG(level, expr)                                                        \
  do {                                                                              \
    if (::kvtier::LogLevel::level <= ::kvtier::log_level()) {                       \
      std::ostringstream kvt_log_os_;                                               \
      kvt_log_os_ << expr;                                                          \
      ::kvtier::log_message(::kvtier::LogLevel::level, kvt_log_os_.str());          \
    }                                                                               \
  } while (0)
