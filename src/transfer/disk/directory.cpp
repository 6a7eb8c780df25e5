#include "transfer/disk/directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "kvtier/core/log.h"
#include "kvtier/transfer/disk_store.h"
#include "transfer/disk/layout.h"

namespace kvtier::disk {
namespace fs = std::filesystem;

std::string errno_text(const std::string& what, const fs::path& path, int err) {
  return what + " of '" + path.string() + "' failed: " + std::strerror(err);
}

namespace {

void make_directory_0700(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      throw InvalidArgument("disk tier path '" + dir.string() +
                            "' exists and is not a directory; expected a directory");
    }
    return;
  }
  if (errno != ENOENT) throw IoError(errno_text("stat", dir, errno));
  const fs::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir) make_directory_0700(parent);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw IoError(errno_text("mkdir", dir, errno));
  }
}

bool allowed_name(const std::string& name, bool regular) {
  if (name == kLockName || name == kMetaName || name == kMetaTmpName) return regular;
  if (parse_slot_file_name(name)) return regular;
  if (name.rfind(kCeilingPrefix, 0) == 0) return regular;
  return false;
}

Hash128 parse_hex128(const std::string& s, bool* ok) {
  *ok = s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!*ok) return {};
  return {std::stoull(s.substr(16), nullptr, 16), std::stoull(s.substr(0, 16), nullptr, 16)};
}

}  // namespace

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw IoError(errno_text("open", dir, errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw IoError(errno_text("fsync", dir, err));
}

DirLock::DirLock(const fs::path& dir) {
  const fs::path path = dir / kLockName;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) throw IoError(errno_text("open", path, errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    char buf[32] = {};
    if (::pread(fd_, buf, sizeof buf - 1, 0) > 0) {
      holder = std::string(buf);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    }
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) throw IoError(errno_text("flock", path, err));
    throw DirectoryLocked("disk tier directory '" + dir.string() + "' is in use by " +
                          (holder.empty() ? std::string("another process") : "process " + holder) +
                          " (lock " + path.string() +
                          "); expected one process per directory: stop that process or give "
                          "this one another directory");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    KVT_LOG(kWarn, "disk tier: could not record the PID in " << path.string() << ": "
                                                             << std::strerror(errno));
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

MetaRead read_meta(const fs::path& dir) {
  MetaRead r;
  const fs::path path = dir / kMetaName;
  std::ifstream f(path);
  if (!f) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
      r.state = MetaState::kDamaged;
      r.problem = "cannot be read";
    }
    return r;
  }
  r.state = MetaState::kDamaged;
  std::string line;
  if (!std::getline(f, line) || line != "kvtier disk tier") {
    r.problem = "first line is not 'kvtier disk tier'";
    return r;
  }
  int seen = 0;
  bool hex_ok = true;
  while (std::getline(f, line)) {
    const auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    const std::string key = line.substr(0, sp), value = line.substr(sp + 1);
    try {
      if (key == "format_version") r.meta.format_version = std::stoul(value), seen |= 1;
      if (key == "fingerprint") r.meta.fingerprint = parse_hex128(value, &hex_ok), seen |= 2;
      if (key == "geometry") r.meta.geometry = value, seen |= 4;
      if (key == "payload_bytes") r.meta.payload_bytes = std::stoull(value), seen |= 8;
      if (key == "slot_stride") r.meta.stride = std::stoull(value), seen |= 16;
      if (key == "slots_per_file") r.meta.slots_per_file = std::stoul(value), seen |= 32;
    } catch (const std::exception&) {
      r.problem = "bad value in line '" + line + "'";
      return r;
    }
  }
  if (seen != 63 || !hex_ok || r.meta.slots_per_file == 0) {
    r.problem = "missing or malformed fields";
    return r;
  }
  r.state = MetaState::kValid;
  return r;
}

void write_meta(const fs::path& dir, const DiskMeta& m) {
  std::ostringstream os;
  os << "kvtier disk tier\n"
     << "format_version " << m.format_version << "\n"
     << "fingerprint " << m.fingerprint.hex() << "\n"
     << "geometry " << m.geometry << "\n"
     << "payload_bytes " << m.payload_bytes << "\n"
     << "slot_stride " << m.stride << "\n"
     << "slots_per_file " << m.slots_per_file << "\n";
  const std::string text = os.str();
  const fs::path tmp = dir / kMetaTmpName, path = dir / kMetaName;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw IoError(errno_text("open", tmp, errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) throw IoError(errno_text("write", tmp, err));
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw IoError(errno_text("rename", tmp, errno));
  sync_directory(dir);
}

}  // namespace kvtier::disk

namespace kvtier {

void prepare_disk_directory(const std::filesystem::path& dir) {
  if (dir.empty()) throw InvalidArgument("disk tier directory is empty; expected a path");
  disk::make_directory_0700(dir);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    KVT_LOG(kWarn, "disk tier directory " << dir.string() << " is open to group/others (mode 0"
                                          << std::oct << (st.st_mode & 0777) << std::dec
                                          << "); kvtier creates its directories 0700");
  }
  std::vector<std::string> foreign;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    std::error_code sec;
    const bool regular = e.symlink_status(sec).type() == std::filesystem::file_type::regular;
    if (!disk::allowed_name(name, regular)) foreign.push_back(name);
  }
  if (ec)
    throw IoError("listing disk tier directory '" + dir.string() + "' failed: " + ec.message());
  if (!foreign.empty()) {
    throw InvalidArgument(
        "disk tier directory '" + dir.string() + "' holds '" + foreign.front() + "'" +
        (foreign.size() > 1 ? " and " + std::to_string(foreign.size() - 1) + " more entries" : "") +
        " not made by kvtier; expected an empty directory or a kvtier disk tier "
        "(slots-NNNNN.kvt, " +
        std::string(disk::kMetaName) + ", " + std::string(disk::kLockName) +
        "): give another directory");
  }
}

}  // namespace kvtier
