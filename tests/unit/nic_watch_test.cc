// The NIC watch: route netlink link messages parsed (and bad ones refused
// without reading past the datagram), and the watch's view of the NICs it
// was asked about. A live check against the kernel runs when this process
// may create a dummy interface (root in its own network namespace).
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "link/nic_watch.h"

namespace mrd::link {
namespace {

// Appends one link message (type, flags, optional name) to buf.
void addLinkMsg(std::vector<char>* buf, uint16_t type, unsigned flags, const std::string& name, int index) {
  const size_t attrLen = name.empty() ? 0 : RTA_LENGTH(name.size() + 1);
  const size_t len = NLMSG_LENGTH(sizeof(ifinfomsg)) + RTA_ALIGN(attrLen);
  const size_t at = buf->size();
  buf->resize(at + NLMSG_ALIGN(len), 0);
  char* p = buf->data() + at;
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(len);
  h.nlmsg_type = type;
  std::memcpy(p, &h, sizeof h);
  ifinfomsg ifi{};
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  std::memcpy(p + NLMSG_HDRLEN, &ifi, sizeof ifi);
  if (!name.empty()) {
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(attrLen);
    a.rta_type = IFLA_IFNAME;
    char* ap = p + NLMSG_LENGTH(sizeof(ifinfomsg));
    std::memcpy(ap, &a, sizeof a);
    std::memcpy(ap + RTA_LENGTH(0), name.c_str(), name.size() + 1);
  }
}

TEST(NicWatch, ParsesLinkMessagesAndSkipsOthers) {
  std::vector<char> buf;
  addLinkMsg(&buf, RTM_NEWLINK, IFF_UP | IFF_RUNNING, "rail0", 4);
  addLinkMsg(&buf, RTM_NEWLINK, IFF_UP, "rail1", 5);  // no carrier
  addLinkMsg(&buf, RTM_NEWADDR, 0, "", 6);            // not a link message
  addLinkMsg(&buf, RTM_NEWLINK, 0, "rail2", 7);       // administratively down
  addLinkMsg(&buf, RTM_DELLINK, IFF_UP | IFF_RUNNING, "rail3", 8);
  std::vector<NicEvent> ev = parseNicEvents(buf.data(), buf.size());
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].name, "rail0");
  EXPECT_EQ(ev[0].ifindex, 4);
  EXPECT_TRUE(ev[0].usable);
  EXPECT_EQ(ev[1].name, "rail1");
  EXPECT_FALSE(ev[1].usable);
  EXPECT_EQ(ev[2].name, "rail2");
  EXPECT_FALSE(ev[2].usable);
  EXPECT_EQ(ev[3].name, "rail3");
  EXPECT_TRUE(ev[3].gone);
  EXPECT_FALSE(ev[3].usable);
}

TEST(NicWatch, TruncatedOrOversizedMessagesEndTheParse) {
  std::vector<char> buf;
  addLinkMsg(&buf, RTM_NEWLINK, IFF_UP | IFF_RUNNING, "rail0", 4);
  const size_t first = buf.size();
  addLinkMsg(&buf, RTM_NEWLINK, 0, "rail1", 5);
  // Cut inside the second message: the first is kept, the second refused.
  EXPECT_EQ(parseNicEvents(buf.data(), first + 20).size(), 1u);
  // A header claiming more than the datagram holds.
  std::vector<char> bad = buf;
  nlmsghdr h;
  std::memcpy(&h, bad.data() + first, sizeof h);
  h.nlmsg_len = 1 << 20;
  std::memcpy(bad.data() + first, &h, sizeof h);
  EXPECT_EQ(parseNicEvents(bad.data(), bad.size()).size(), 1u);
  // A header claiming less than itself.
  h.nlmsg_len = 4;
  std::memcpy(bad.data() + first, &h, sizeof h);
  EXPECT_EQ(parseNicEvents(bad.data(), bad.size()).size(), 1u);
  // An attribute running past its message: the event has no name.
  std::vector<char> attr;
  addLinkMsg(&attr, RTM_NEWLINK, 0, "rail9", 9);
  rtattr a;
  char* ap = attr.data() + NLMSG_LENGTH(sizeof(ifinfomsg));
  std::memcpy(&a, ap, sizeof a);
  a.rta_len = 200;
  std::memcpy(ap, &a, sizeof a);
  std::vector<NicEvent> ev = parseNicEvents(attr.data(), attr.size());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].name.empty());
  // Nothing at all, and less than a header.
  EXPECT_TRUE(parseNicEvents(buf.data(), 0).empty());
  EXPECT_TRUE(parseNicEvents(buf.data(), 8).empty());
  // A name without its terminating NUL stays within its attribute.
  std::vector<char> noNul;
  addLinkMsg(&noNul, RTM_NEWLINK, 0, "abcdefg", 3);  // 8 bytes with the NUL: attr fills 4-byte units exactly
  char* np = noNul.data() + NLMSG_LENGTH(sizeof(ifinfomsg)) + RTA_LENGTH(0);
  np[7] = 'h';
  ev = parseNicEvents(noNul.data(), noNul.size());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].name, "abcdefgh");
}

TEST(NicWatch, TracksOnlyTheNicsItWasAskedAbout) {
  auto w = NicWatch::detached();
  EXPECT_EQ(w->fd(), -1);
  EXPECT_TRUE(w->usable("railA"));  // now watched (a detached watch assumes it works)
  EXPECT_EQ(w->changedAtNs("railA"), 0u);
  const uint64_t g = w->generation();
  NicEvent e;
  e.name = "railB";  // never asked about: ignored
  e.usable = false;
  w->apply({e}, 10);
  EXPECT_EQ(w->generation(), g);
  e.name = "railA";
  w->apply({e}, 20);
  EXPECT_EQ(w->generation(), g + 1);
  EXPECT_FALSE(w->usable("railA"));
  EXPECT_EQ(w->changedAtNs("railA"), 20u);
  w->apply({e}, 30);  // the same state again: no change
  EXPECT_EQ(w->generation(), g + 1);
  e.usable = true;
  w->apply({e}, 40);
  EXPECT_TRUE(w->usable("railA"));
  EXPECT_EQ(w->generation(), g + 2);
}

TEST(NicWatch, OpensOnThisKernelAndSeesLoopbackUp) {
  auto w = NicWatch::open();
  ASSERT_NE(w, nullptr) << "route netlink refused";
  EXPECT_GE(w->fd(), 0);
  EXPECT_TRUE(w->usable("lo"));
  EXPECT_FALSE(w->usable("no-such-nic0")) << "a NIC that does not exist is not usable";
  w->poll(1, true);  // nothing to read is no error
}

// The real thing: in a network namespace of its own (a child process, so
// the test process keeps its own), a veth pair whose far end goes down:
// the near end loses its carrier, and the watch hears it from the kernel.
TEST(NicWatch, HearsAVethLoseItsCarrier) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a network namespace of its own)";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Exit codes: 0 passed, 77 cannot set up here, others: which check failed.
    if (unshare(CLONE_NEWNET) != 0) _exit(77);
    if (std::system("ip link add mrdw0 type veth peer name mrdw1 2>/dev/null && "
                    "ip link set mrdw0 up && ip link set mrdw1 up") != 0) {
      _exit(77);
    }
    auto w = NicWatch::open();
    if (w == nullptr) _exit(2);
    // The carrier comes a moment after both ends are up.
    for (int i = 0; i < 200 && !w->usable("mrdw0"); ++i) {
      usleep(10000);
      pollfd pfd{w->fd(), POLLIN, 0};
      ::poll(&pfd, 1, 0);
      w->poll(static_cast<uint64_t>(i + 1) * 1000000, true);
    }
    if (!w->usable("mrdw0")) _exit(3);
    const uint64_t gen = w->generation();
    if (std::system("ip link set mrdw1 down") != 0) _exit(77);
    // The kernel wakes a sleeping progress loop. (mrdw1's own change may
    // come first: the carrier of mrdw0 follows from a kernel worker.)
    uint64_t readAt = 5'000'000'000ull;
    for (int i = 0; i < 200 && w->usable("mrdw0"); ++i, readAt += 1000) {
      pollfd pfd{w->fd(), POLLIN, 0};
      if (::poll(&pfd, 1, 10) < 0) _exit(4);
      w->poll(readAt, true);
    }
    if (w->usable("mrdw0") || w->generation() == gen) _exit(5);
    // (Stamped with the time of the read that saw it.)
    if (w->changedAtNs("mrdw0") < 5'000'000'000ull || w->changedAtNs("mrdw0") >= readAt) _exit(6);
    if (w->usable("mrdw0:1") != w->usable("mrdw0")) _exit(7);  // a label is its interface
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "no veth pair in a new network namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed check (see the child's exit codes in the test)";
}

}  // namespace
}  // namespace mrd::link
