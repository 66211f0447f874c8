#include "shm_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "log/log.h"
#include "topo/host_topology.h"

namespace mrd::transport::shm {

std::string segmentName(int ownerPid, const std::string& commTag, int rank) {
  return "/mrd-" + std::to_string(ownerPid) + "-" + commTag + "-r" + std::to_string(rank);
}

Segment::~Segment() {
  unlink();
  if (base_ != nullptr) munmap(base_, bytes_);
}

Status Segment::create(const std::string& name, size_t bytes) {
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return systemError(errnoText("shm_open(create " + name + ")", errno));
  name_ = name;
  owned_ = true;
  // tmpfs takes a size beyond its room and then kills the first writer past
  // it with SIGBUS: the room is checked first. (Not by allocating the
  // pages now: they must come on the owner's NUMA node, below.)
  struct statvfs fs {};
  if (fstatvfs(fd, &fs) == 0 && fs.f_blocks > 0 &&
      static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize < bytes) {
    close(fd);
    return systemError("/dev/shm has " + std::to_string(static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize) +
                       " bytes free, too few for the shared-memory segment " + name + " (" + std::to_string(bytes) +
                       " bytes): free some (leftover /dev/shm/mrd-* of dead jobs?), make /dev/shm larger, or set "
                       "MRD_SHM_DISABLE=1 (or a smaller MRD_SHM_RING_BYTES)");
  }
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int e = errno;
    close(fd);
    return systemError(errnoText("ftruncate(" + name + ", " + std::to_string(bytes) + ")", e));
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return systemError(errnoText("mmap(" + name + ")", errno));
  base_ = static_cast<char*>(p);
  bytes_ = bytes;
  // Peers write into this segment and its owner reads it: its pages belong
  // on the owner's NUMA node (before anything touches them).
  Status placed = topo::bindToNumaNode(base_, bytes_, topo::currentNumaNode());
  if (!placed.isOk()) MRD_LOG_INFO(kShm, "{}: left unplaced: {}", name, placed.message());
  return Status::ok();
}

Status Segment::open(const std::string& name, size_t bytes) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return systemError(errnoText("shm_open(" + name + ")", errno));
  struct stat st{};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < bytes) {
    close(fd);
    return systemError("shm segment " + name + " is smaller than expected (" +
                       std::to_string(st.st_size) + " < " + std::to_string(bytes) + ")");
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return systemError(errnoText("mmap(" + name + ")", errno));
  base_ = static_cast<char*>(p);
  bytes_ = bytes;
  return Status::ok();
}

std::string abortReason(const SegmentHeader* h) {
  const size_t len = h->abortWhyLen < sizeof h->abortWhy ? h->abortWhyLen : sizeof h->abortWhy;
  return std::string(h->abortWhy, len);
}

void Segment::unlink() {
  if (owned_) shm_unlink(name_.c_str());
  owned_ = false;
}

void removeStaleSegments() {
  DIR* d = opendir("/dev/shm");
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    if (std::strncmp(e->d_name, "mrd-", 4) != 0) continue;
    long pid = std::strtol(e->d_name + 4, nullptr, 10);
    if (pid <= 0) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (shm_unlink((std::string("/") + e->d_name).c_str()) == 0) {
      MRD_LOG_INFO(kShm, "removed stale shared memory segment {} (pid {} is gone)", e->d_name,
                   pid);
    }
  }
  closedir(d);
}

}  // namespace mrd::transport::shm
