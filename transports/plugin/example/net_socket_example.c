/*
 * An example Meridian network plug-in over TCP sockets, written against
 * <meridian/meridian_net.h> only. It shows the non-blocking contract:
 *
 *  - listen() binds a socket (IPv4; the interface chosen by
 *    MRD_SOCKET_IFNAME, loosely: the first up interface whose name starts
 *    with the value, else the first non-loopback one, else 127.0.0.1) and
 *    writes the address, a magic and a random nonce into the handle;
 *  - connect() starts a non-blocking connect (EINPROGRESS), checks its
 *    completion on later calls with poll() + SO_ERROR, then sends a hello
 *    (magic + nonce) so the acceptor can refuse strays; its state between
 *    calls lives in the handle (a pointer in the bytes after the address);
 *  - accept() accepts without blocking and reads the hello, possibly over
 *    several calls;
 *  - every message is a header (tag, size) then the payload; requests come
 *    from a fixed pool per comm (isend/irecv return a NULL request when it
 *    is full) and complete in posting order; test() advances the socket.
 *
 * Not tuned: one socket per comm, no threads, one copy through the kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <meridian/meridian_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EX_HANDLE_MAGIC 0x4d524e58u /* "MRNX" */
#define EX_HELLO_MAGIC 0x4d524e48u  /* "MRNH" */
#define EX_MAX_REQUESTS 32          /* per comm */

/* ---- process-wide state, written once by init() ---- */
static mrdNetLogger_t exLog = NULL;
static struct sockaddr_in exLocal; /* address to listen on (port 0) */
static char exIfname[IF_NAMESIZE + 1] = "lo";

#define EX_WARN(...)                                                     \
  do {                                                                   \
    if (exLog) exLog(MRD_NET_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define EX_INFO(...)                                                     \
  do {                                                                   \
    if (exLog) exLog(MRD_NET_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

/* ---- wire formats ---- */
typedef struct {
  uint32_t magic;
  uint32_t reserved;
  uint64_t nonce;
} exHello;

typedef struct {
  uint64_t tag;
  uint64_t size;
} exMsgHeader;

/* ---- the handle: what listen() publishes, plus connect()'s progress ---- */
struct exConnecting;
typedef struct {
  uint32_t magic;
  uint32_t reserved;
  uint64_t nonce;
  struct sockaddr_in addr;
  struct exConnecting* pending; /* NULL as published; set by connect() on this side */
} exHandle;

typedef char exHandleFits[sizeof(exHandle) <= MRD_NET_HANDLE_MAXSIZE ? 1 : -1];

struct exConnecting {
  int fd;
  int connected; /* the TCP connect completed */
  exHello hello;
  size_t helloSent;
};

typedef struct {
  int fd;
  uint64_t nonce;
  int pendingFd; /* accepted, hello not complete yet */
  exHello hello;
  size_t helloGot;
} exListenComm;

/* ---- comms and requests ---- */
enum { EX_FREE = 0, EX_POSTED, EX_COMPLETE };

struct exComm;
typedef struct {
  int state;
  struct exComm* comm;
  char* data;
  size_t size; /* send: bytes to send; recv: capacity */
  uint64_t tag;
  size_t got;      /* recv: bytes announced by the header */
  size_t done;     /* header + payload bytes moved so far */
  exMsgHeader hdr; /* send: outgoing header; recv: incoming header */
} exRequest;

typedef struct exRegion {
  struct exRegion* next;
  char* data;
  size_t size;
} exRegion;

typedef struct exComm {
  int fd;
  int isSend;
  int broken; /* an error happened: every later call fails */
  exRequest reqs[EX_MAX_REQUESTS];
  int head;  /* oldest slot in use */
  int count; /* slots in use (posted, complete or not yet released) */
  int cur;   /* oldest slot whose I/O is not finished */
  exRegion* regions;
} exComm;

static int exWouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

static void exTune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- init, devices ---- */
static int exIfnameMatches(const char* spec, const char* name) {
  /* Comma list of prefixes; a leading ^ excludes (loosely like Meridian). */
  int exclude = spec[0] == '^';
  const char* p = exclude ? spec + 1 : spec;
  int match = 0;
  while (*p) {
    const char* end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > 0 && strncmp(name, p, len) == 0) match = 1;
    p = end ? end + 1 : p + len;
  }
  return exclude ? !match : match;
}

static void exChooseAddress(void) {
  const char* spec = getenv("MRD_SOCKET_IFNAME");
  struct ifaddrs* list = NULL;
  memset(&exLocal, 0, sizeof exLocal);
  exLocal.sin_family = AF_INET;
  exLocal.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  strcpy(exIfname, "lo");
  if (getifaddrs(&list) != 0) return;
  /* Pass 0: interfaces matching MRD_SOCKET_IFNAME (when set), else
   * non-loopback ones; loopback stays the fallback. */
  for (struct ifaddrs* a = list; a != NULL; a = a->ifa_next) {
    if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET) continue;
    if (!(a->ifa_flags & IFF_UP)) continue;
    int ok = (spec != NULL && spec[0] != '\0') ? exIfnameMatches(spec, a->ifa_name)
                                               : !(a->ifa_flags & IFF_LOOPBACK);
    if (!ok) continue;
    memcpy(&exLocal, a->ifa_addr, sizeof exLocal);
    exLocal.sin_port = 0;
    strncpy(exIfname, a->ifa_name, IF_NAMESIZE);
    exIfname[IF_NAMESIZE] = '\0';
    break;
  }
  freeifaddrs(list);
}

static mrdResult_t exInit(mrdNetLogger_t logger) {
  exLog = logger;
  exChooseAddress();
  char buf[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &exLocal.sin_addr, buf, sizeof buf);
  EX_INFO("example net plug-in: using %s (%s)", exIfname, buf);
  return mrdSuccess;
}

static mrdResult_t exDevices(int* ndev) {
  if (ndev == NULL) return mrdInvalidArgument;
  *ndev = 1;
  return mrdSuccess;
}

static mrdResult_t exGetProperties(int dev, mrdNetProperties_v1_t* props) {
  if (dev != 0 || props == NULL) {
    EX_WARN("getProperties: no device %d", dev);
    return mrdInvalidArgument;
  }
  props->name = exIfname;
  props->speedMbps = 10000;
  props->latencyUs = 0.0f;
  props->maxComms = 65536;
  props->ptrSupport = MRD_PTR_HOST;
  props->maxRecvs = 1;
  return mrdSuccess;
}

/* ---- listen, connect, accept ---- */
static uint64_t exNonce(void) {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
        (uint64_t)(uintptr_t)&v;
  }
  return v;
}

static mrdResult_t exListen(int dev, void* handle, void** listenComm) {
  if (dev != 0 || handle == NULL || listenComm == NULL) {
    EX_WARN("listen: bad arguments (device %d)", dev);
    return mrdInvalidArgument;
  }
  *listenComm = NULL;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    EX_WARN("listen: socket: %s", strerror(errno));
    return mrdSystemError;
  }
  struct sockaddr_in addr = exLocal;
  socklen_t len = sizeof addr;
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(fd, 4) != 0 ||
      getsockname(fd, (struct sockaddr*)&addr, &len) != 0) {
    EX_WARN("listen on %s: %s", exIfname, strerror(errno));
    close(fd);
    return mrdSystemError;
  }
  exListenComm* lc = calloc(1, sizeof *lc);
  if (lc == NULL) {
    close(fd);
    return mrdSystemError;
  }
  lc->fd = fd;
  lc->nonce = exNonce();
  lc->pendingFd = -1;
  exHandle h;
  memset(&h, 0, sizeof h);
  h.magic = EX_HANDLE_MAGIC;
  h.nonce = lc->nonce;
  h.addr = addr;
  h.pending = NULL;
  memset(handle, 0, MRD_NET_HANDLE_MAXSIZE);
  memcpy(handle, &h, sizeof h);
  *listenComm = lc;
  return mrdSuccess;
}

static exComm* exNewComm(int fd, int isSend) {
  exComm* c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->fd = fd;
  c->isSend = isSend;
  exTune(fd);
  return c;
}

static void exFreeConnecting(exHandle* h) {
  if (h->pending == NULL) return;
  if (h->pending->fd >= 0) close(h->pending->fd);
  free(h->pending);
  h->pending = NULL;
}

static mrdResult_t exConnect(int dev, void* handle, void** sendComm) {
  if (dev != 0 || handle == NULL || sendComm == NULL) {
    EX_WARN("connect: bad arguments (device %d)", dev);
    return mrdInvalidArgument;
  }
  *sendComm = NULL;
  exHandle h;
  memcpy(&h, handle, sizeof h);
  if (h.magic != EX_HANDLE_MAGIC || h.addr.sin_family != AF_INET) {
    EX_WARN("connect: the handle is not an example-plug-in handle (magic 0x%x)", h.magic);
    return mrdInvalidArgument;
  }
  char where[INET_ADDRSTRLEN + 8] = "?";
  inet_ntop(AF_INET, &h.addr.sin_addr, where, INET_ADDRSTRLEN);
  snprintf(where + strlen(where), 8, ":%u", (unsigned)ntohs(h.addr.sin_port));

  struct exConnecting* st = h.pending;
  if (st == NULL) { /* first call: start the connect */
    st = calloc(1, sizeof *st);
    if (st == NULL) return mrdSystemError;
    st->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->fd < 0) {
      EX_WARN("connect to %s: socket: %s", where, strerror(errno));
      free(st);
      return mrdSystemError;
    }
    st->hello.magic = EX_HELLO_MAGIC;
    st->hello.nonce = h.nonce;
    int rc = connect(st->fd, (const struct sockaddr*)&h.addr, sizeof h.addr);
    if (rc == 0) {
      st->connected = 1;
    } else if (errno != EINPROGRESS && errno != EINTR) {
      EX_WARN("connect to %s: %s", where, strerror(errno));
      close(st->fd);
      free(st);
      return mrdSystemError;
    }
    h.pending = st;
    memcpy(handle, &h, sizeof h);
    if (!st->connected) return mrdSuccess; /* in progress: call again */
  }
  if (!st->connected) {
    struct pollfd p = {st->fd, POLLOUT, 0};
    int n = poll(&p, 1, 0);
    if (n == 0) return mrdSuccess;
    if (n < 0) {
      if (errno == EINTR) return mrdSuccess;
      EX_WARN("connect to %s: poll: %s", where, strerror(errno));
      exFreeConnecting(&h);
      memcpy(handle, &h, sizeof h);
      return mrdSystemError;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      EX_WARN("connect to %s: %s", where, strerror(err));
      exFreeConnecting(&h);
      memcpy(handle, &h, sizeof h);
      return mrdSystemError;
    }
    st->connected = 1;
  }
  while (st->helloSent < sizeof st->hello) {
    ssize_t w = send(st->fd, (const char*)&st->hello + st->helloSent,
                     sizeof st->hello - st->helloSent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (exWouldBlock(errno)) return mrdSuccess;
      EX_WARN("connect to %s: sending hello: %s", where, strerror(errno));
      exFreeConnecting(&h);
      memcpy(handle, &h, sizeof h);
      return mrdSystemError;
    }
    st->helloSent += (size_t)w;
  }
  exComm* c = exNewComm(st->fd, 1);
  if (c == NULL) {
    exFreeConnecting(&h);
    memcpy(handle, &h, sizeof h);
    return mrdSystemError;
  }
  st->fd = -1; /* now owned by the comm */
  exFreeConnecting(&h);
  memcpy(handle, &h, sizeof h);
  *sendComm = c;
  return mrdSuccess;
}

static mrdResult_t exAccept(void* listenComm, void** recvComm) {
  if (listenComm == NULL || recvComm == NULL) return mrdInvalidArgument;
  *recvComm = NULL;
  exListenComm* lc = listenComm;
  for (;;) {
    if (lc->pendingFd < 0) {
      int fd = accept4(lc->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (exWouldBlock(errno) || errno == ECONNABORTED) return mrdSuccess;
        EX_WARN("accept: %s", strerror(errno));
        return mrdSystemError;
      }
      lc->pendingFd = fd;
      lc->helloGot = 0;
    }
    while (lc->helloGot < sizeof lc->hello) {
      ssize_t r = recv(lc->pendingFd, (char*)&lc->hello + lc->helloGot,
                       sizeof lc->hello - lc->helloGot, MSG_DONTWAIT);
      if (r < 0 && exWouldBlock(errno)) return mrdSuccess;
      if (r <= 0) break; /* closed or failed before saying hello: drop it */
      lc->helloGot += (size_t)r;
    }
    if (lc->helloGot == sizeof lc->hello && lc->hello.magic == EX_HELLO_MAGIC &&
        lc->hello.nonce == lc->nonce) {
      exComm* c = exNewComm(lc->pendingFd, 0);
      if (c == NULL) return mrdSystemError;
      lc->pendingFd = -1;
      *recvComm = c;
      return mrdSuccess;
    }
    EX_WARN("accept: refused a connection without a valid hello");
    close(lc->pendingFd);
    lc->pendingFd = -1;
  }
}

/* ---- memory registration ---- */
static mrdResult_t exRegMr(void* comm, void* data, size_t size, int type, void** mhandle) {
  if (comm == NULL || mhandle == NULL) return mrdInvalidArgument;
  *mhandle = NULL;
  if (type != MRD_PTR_HOST) {
    EX_WARN("regMr: memory type %d is not supported (host memory only)", type);
    return mrdInvalidArgument;
  }
  exComm* c = comm;
  exRegion* r = malloc(sizeof *r);
  if (r == NULL) return mrdSystemError;
  r->data = data;
  r->size = size;
  r->next = c->regions;
  c->regions = r;
  *mhandle = r;
  return mrdSuccess;
}

static mrdResult_t exDeregMr(void* comm, void* mhandle) {
  if (comm == NULL) return mrdInvalidArgument;
  if (mhandle == NULL) return mrdSuccess;
  exComm* c = comm;
  for (exRegion** p = &c->regions; *p != NULL; p = &(*p)->next) {
    if (*p == mhandle) {
      *p = ((exRegion*)mhandle)->next;
      free(mhandle);
      return mrdSuccess;
    }
  }
  EX_WARN("deregMr: unknown memory handle");
  return mrdInvalidArgument;
}

/* ---- data path ---- */
static mrdResult_t exPost(exComm* c, int isSend, void* data, size_t size, uint64_t tag,
                          void* mhandle, void** request) {
  if (c == NULL || request == NULL || (data == NULL && size > 0)) {
    EX_WARN("%s: bad arguments", isSend ? "isend" : "irecv");
    return mrdInvalidArgument;
  }
  *request = NULL;
  if (c->isSend != isSend) {
    EX_WARN("%s on a %s comm", isSend ? "isend" : "irecv", c->isSend ? "send" : "receive");
    return mrdInvalidUsage;
  }
  if (c->broken) return mrdRemoteError;
  if (mhandle != NULL) {
    const exRegion* r = mhandle;
    if ((char*)data < r->data || (size_t)((char*)data - r->data) + size > r->size) {
      EX_WARN("%s: buffer outside its memory registration", isSend ? "isend" : "irecv");
      return mrdInvalidArgument;
    }
  }
  if (c->count == EX_MAX_REQUESTS) return mrdSuccess; /* full: the caller retries */
  int slot = (c->head + c->count) % EX_MAX_REQUESTS;
  exRequest* q = &c->reqs[slot];
  memset(q, 0, sizeof *q);
  q->state = EX_POSTED;
  q->comm = c;
  q->data = data;
  q->size = size;
  q->tag = tag;
  q->hdr.tag = tag;
  q->hdr.size = size;
  if (c->count == 0) c->cur = slot;
  c->count++;
  *request = q;
  return mrdSuccess;
}

static mrdResult_t exIsend(void* sendComm, void* data, size_t size, uint64_t tag, void* mhandle,
                           void** request) {
  return exPost(sendComm, 1, data, size, tag, mhandle, request);
}

static mrdResult_t exIrecv(void* recvComm, void* data, size_t size, uint64_t tag, void* mhandle,
                           void** request) {
  return exPost(recvComm, 0, data, size, tag, mhandle, request);
}

/* Index of the first slot after `cur` still in use, or -1. */
static int exNextPosted(const exComm* c) {
  int used = (c->cur - c->head + EX_MAX_REQUESTS) % EX_MAX_REQUESTS;
  return used + 1 < c->count ? (c->cur + 1) % EX_MAX_REQUESTS : -1;
}

static mrdResult_t exBroken(exComm* c, mrdResult_t rc) {
  c->broken = 1;
  return rc;
}

/* Moves bytes for the posted requests, oldest first, until the socket
 * would block or nothing is posted. */
static mrdResult_t exAdvance(exComm* c) {
  const size_t kHdr = sizeof(exMsgHeader);
  while (c->count > 0 && c->cur >= 0 && c->reqs[c->cur].state == EX_POSTED) {
    exRequest* q = &c->reqs[c->cur];
    if (c->isSend) {
      struct iovec iov[2];
      int n = 0;
      if (q->done < kHdr) {
        iov[n].iov_base = (char*)&q->hdr + q->done;
        iov[n].iov_len = kHdr - q->done;
        n++;
      }
      size_t payloadDone = q->done > kHdr ? q->done - kHdr : 0;
      if (q->size > payloadDone) {
        iov[n].iov_base = q->data + payloadDone;
        iov[n].iov_len = q->size - payloadDone;
        n++;
      }
      struct msghdr msg;
      memset(&msg, 0, sizeof msg);
      msg.msg_iov = iov;
      msg.msg_iovlen = (size_t)n;
      ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (exWouldBlock(errno)) return mrdSuccess;
        EX_WARN("send (tag %llu, %zu bytes): %s", (unsigned long long)q->tag, q->size,
                strerror(errno));
        return exBroken(c, errno == EPIPE || errno == ECONNRESET ? mrdRemoteError : mrdSystemError);
      }
      q->done += (size_t)w;
      if (q->done < kHdr + q->size) continue;
    } else {
      while (q->done < kHdr) {
        ssize_t r = recv(c->fd, (char*)&q->hdr + q->done, kHdr - q->done, MSG_DONTWAIT);
        if (r < 0 && exWouldBlock(errno)) return mrdSuccess;
        if (r <= 0) {
          if (r == 0)
            EX_WARN("receive (tag %llu): connection closed by the peer",
                    (unsigned long long)q->tag);
          else
            EX_WARN("receive (tag %llu): %s", (unsigned long long)q->tag, strerror(errno));
          return exBroken(c, r == 0 || errno == ECONNRESET ? mrdRemoteError : mrdSystemError);
        }
        q->done += (size_t)r;
        if (q->done == kHdr) {
          if (q->hdr.tag != q->tag || q->hdr.size > q->size) {
            EX_WARN(
                "message mismatch: receive posted for tag %llu of at most %zu bytes, "
                "got tag %llu of %llu bytes",
                (unsigned long long)q->tag, q->size, (unsigned long long)q->hdr.tag,
                (unsigned long long)q->hdr.size);
            return exBroken(c, mrdRemoteError);
          }
          q->got = (size_t)q->hdr.size;
        }
      }
      while (q->done < kHdr + q->got) {
        size_t off = q->done - kHdr;
        ssize_t r = recv(c->fd, q->data + off, q->got - off, MSG_DONTWAIT);
        if (r < 0 && exWouldBlock(errno)) return mrdSuccess;
        if (r <= 0) {
          if (r == 0)
            EX_WARN("receive (tag %llu): connection closed by the peer",
                    (unsigned long long)q->tag);
          else
            EX_WARN("receive (tag %llu): %s", (unsigned long long)q->tag, strerror(errno));
          return exBroken(c, r == 0 || errno == ECONNRESET ? mrdRemoteError : mrdSystemError);
        }
        q->done += (size_t)r;
      }
    }
    q->state = EX_COMPLETE;
    int next = exNextPosted(c);
    if (next < 0) {
      c->cur = (c->cur + 1) % EX_MAX_REQUESTS;
      break;
    }
    c->cur = next;
  }
  return mrdSuccess;
}

static mrdResult_t exTest(void* request, int* done, size_t* size) {
  if (request == NULL || done == NULL) return mrdInvalidArgument;
  exRequest* q = request;
  exComm* c = q->comm;
  *done = 0;
  if (q->state == EX_FREE || c == NULL) {
    EX_WARN("test: the request is not in use");
    return mrdInvalidUsage;
  }
  if (q->state == EX_POSTED) {
    if (c->broken) return mrdRemoteError;
    mrdResult_t rc = exAdvance(c);
    if (rc != mrdSuccess) return rc;
  }
  if (q->state != EX_COMPLETE) return mrdSuccess;
  *done = 1;
  if (size != NULL) *size = c->isSend ? q->size : q->got;
  q->state = EX_FREE;
  /* Release the finished slots at the head of the ring. */
  while (c->count > 0 && c->reqs[c->head].state == EX_FREE) {
    c->head = (c->head + 1) % EX_MAX_REQUESTS;
    c->count--;
  }
  return mrdSuccess;
}

/* ---- close ---- */
static mrdResult_t exCloseComm(void* comm) {
  if (comm == NULL) return mrdSuccess;
  exComm* c = comm;
  if (c->fd >= 0) {
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
  }
  while (c->regions != NULL) {
    exRegion* next = c->regions->next;
    free(c->regions);
    c->regions = next;
  }
  free(c);
  return mrdSuccess;
}

static mrdResult_t exCloseListen(void* listenComm) {
  if (listenComm == NULL) return mrdSuccess;
  exListenComm* lc = listenComm;
  if (lc->pendingFd >= 0) close(lc->pendingFd);
  close(lc->fd);
  free(lc);
  return mrdSuccess;
}

__attribute__((visibility("default"))) const mrdNet_v1_t mrdNetPlugin_v1 = {
    "example", exInit,   exDevices,   exGetProperties, exListen,
    exConnect, exAccept, exRegMr,     exDeregMr,       exIsend,
    exIrecv,   exTest,   exCloseComm, exCloseComm,     exCloseListen,
};
