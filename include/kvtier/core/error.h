// Error types of kvtier. Every public API reports bad input and failures by throwing one of these;
// each message says what was wrong and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace kvtier {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed a value outside the accepted range or of the wrong form.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A pool, budget or allocation could not supply the memory asked for.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

// A system call on a file or device failed.
class IoError : public Error {
 public:
  using Error::Error;
};

// A CUDA runtime call or kernel launch failed, or CUDA was asked for where there is none.
class CudaError : public Error {
 public:
  using Error::Error;
};

// Stored data failed a check (checksum, header, geometry fingerprint).
class Corruption : public Error {
 public:
  using Error::Error;
};

// An internal invariant did not hold: a bug in kvtier, never the caller's fault.
class InternalError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void throw_check_failure(const char* expr, const char* file, int line,
                                      const std::string& msg);

}  // namespace kvtier

// Internal invariant, always on (also in release builds).
#define KVT_CHECK(cond, ...)                                                     \
  do {                                                                           \
    if (!(cond)) [[unlikely]] {                                                  \
      ::kvtier::throw_check_failure(#cond, __FILE__, __LINE__, std::string{__VA_ARGS__}); \
    }                                                                            \
  } while (0)
