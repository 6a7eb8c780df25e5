// Roles of the test binary run as a child process (see disk_test_main.cpp). Each prints its
// findings on stdout, one line at a time (flushed), for the parent test to check.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "disk_test_util.h"

namespace kvtier::disk_test {
namespace {

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::uint64_t num(const std::vector<std::string>& args, std::size_t i) {
  return std::stoull(args.at(i));
}

// writer DIR SLOTS SLOTS_PER_FILE FIRST N: stores blocks [FIRST, FIRST + N) and exits.
int writer(const std::vector<std::string>& a) {
  auto store = DiskStore::open(tiny(), options(a.at(0), num(a, 1), num(a, 2)));
  write_blocks(*store, num(a, 3), num(a, 4));
  say("stored " + a.at(4));
  return 0;
}

// writer-forever DIR SLOTS: writes blocks 0, 1, ... with 8 in flight and prints "durable I" as
// each one completes, until killed (stops writing when the store is full).
int writer_forever(const std::vector<std::string>& a) {
  auto store = DiskStore::open(tiny(), options(a.at(0), num(a, 1), 16));
  const std::size_t bytes = store->slot_bytes();
  const std::uint64_t capacity = store->capacity_slots();
  struct InFlight {
    std::uint64_t i;
    DiskFuture f;
    std::unique_ptr<Aligned> buf;
  };
  std::deque<InFlight> window;
  for (std::uint64_t i = 0; i < capacity; ++i) {
    auto buf = std::make_unique<Aligned>(bytes);
    fill_block(block_hash(i), buf->data, bytes);
    window.push_back({i, store->write_async(block_hash(i), buf->data, 16), std::move(buf)});
    if (window.size() >= 8) {
      window.front().f.wait();
      say("durable " + std::to_string(window.front().i));
      window.pop_front();
    }
  }
  for (;;) ::pause();
}

// fsize DIR SLOTS LIMIT N: under RLIMIT_FSIZE = LIMIT (SIGXFSZ ignored) and without
// preallocation, writes blocks 0..N-1 one at a time, block i into slot i of the one slot file.
// Blocks that end past LIMIT must fail with IoError (EFBIG) and stay unpublished; the others
// must be stored and read back exactly.
int fsize(const std::vector<std::string>& a) {
  const std::uint64_t limit = num(a, 2), n = num(a, 3);
  rlimit rl{limit, limit};
  if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) {
    say("BAD setrlimit failed");
    return 1;
  }
  ::signal(SIGXFSZ, SIG_IGN);
  DiskStoreOptions o = options(a.at(0), num(a, 1), num(a, 1));
  o.preallocate = false;
  auto store = DiskStore::open(tiny(), o);
  const std::uint64_t stride = store->stats().slot_stride;
  Aligned buf(store->slot_bytes());
  int bad = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    fill_block(block_hash(i), buf.data, buf.bytes);
    const bool fits = (i + 1) * stride <= limit;
    std::string error;
    DiskFuture f = store->write_async(static_cast<SlotIndex>(i), block_hash(i), buf.data, 16);
    try {
      f.wait();
    } catch (const IoError& e) {
      error = e.what();
    }
    if (f.slot() != i) {
      ++bad;
      say("BAD block " + std::to_string(i) + " went to slot " + std::to_string(f.slot()));
    }
    if (fits && error.empty()) {
      say("stored " + std::to_string(i));
    } else if (!fits && error.find("File too large") != std::string::npos &&
               !store->find(block_hash(i))) {
      say("failed " + std::to_string(i) + ": " + error);
    } else {
      ++bad;
      say("BAD block " + std::to_string(i) + (fits ? " should fit" : " should fail") +
          ", error: '" + error + "'");
    }
  }
  for (const DiskEntry& e : store->entries()) {
    const std::string r = read_check(*store, e.hash);
    if (!r.empty()) {
      ++bad;
      say("BAD read of slot " + std::to_string(e.slot) + ": " + r);
    }
  }
  say("write_errors " + std::to_string(store->stats().write_errors));
  return bad == 0 ? 0 : 1;
}

// open DIR SLOTS: opens a store that another process holds; prints what happened.
int open_held(const std::vector<std::string>& a) {
  try {
    auto store = DiskStore::open(tiny(), options(a.at(0), num(a, 1)));
    say("opened");
    return 1;
  } catch (const DirectoryLocked& e) {
    say(std::string("locked: ") + e.what());
    return 0;
  } catch (const std::exception& e) {
    say(std::string("error: ") + e.what());
    return 2;
  }
}

}  // namespace

int run_child_role(const std::string& role, const std::vector<std::string>& args) {
  try {
    if (role == "writer") return writer(args);
    if (role == "writer-forever") return writer_forever(args);
    if (role == "fsize") return fsize(args);
    if (role == "open") return open_held(args);
    say("BAD unknown role " + role);
  } catch (const std::exception& e) {
    say(std::string("BAD exception: ") + e.what());
  }
  return 3;
}

}  // namespace kvtier::disk_test
