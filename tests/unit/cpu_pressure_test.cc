// Reading the machine's CPU pressure (link/cpu_pressure.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "link/cpu_pressure.h"

namespace mrd::link {
namespace {

TEST(CpuPressure, TheSomeLinesTotal) {
  uint64_t us = 0;
  EXPECT_TRUE(parseCpuWaitUs("some avg10=61.18 avg60=54.27 avg300=51.44 total=23871581023\n"
                             "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                             &us));
  EXPECT_EQ(us, 23871581023u);
  // The "some" line need not come first, and the last line needs no newline.
  EXPECT_TRUE(parseCpuWaitUs("full avg10=0.00 total=5\nsome avg10=1.00 total=77", &us));
  EXPECT_EQ(us, 77u);
  EXPECT_TRUE(parseCpuWaitUs("some avg10=1.00 total=78\r\n", &us));
  EXPECT_EQ(us, 78u);
}

TEST(CpuPressure, AnythingElseIsNotAReading) {
  uint64_t us = 42;
  EXPECT_FALSE(parseCpuWaitUs("", &us));
  EXPECT_FALSE(parseCpuWaitUs("full avg10=0.00 avg60=0.00 avg300=0.00 total=9\n", &us));
  EXPECT_FALSE(parseCpuWaitUs("some avg10=0.00 avg60=0.00 avg300=0.00\nfull total=9\n", &us));
  EXPECT_FALSE(parseCpuWaitUs("some avg10=0.00 total=\n", &us));
  EXPECT_FALSE(parseCpuWaitUs("some avg10=0.00 total=12x4\n", &us));
  EXPECT_FALSE(parseCpuWaitUs("awesome total=3\n", &us));
  EXPECT_FALSE(parseCpuWaitUs("some avg10=0.00 mytotal=3\n", &us));
  EXPECT_FALSE(parseCpuWaitUs("some avg10=0.00 total=99999999999999999999999\n", &us));  // > 2^64
  EXPECT_EQ(us, 42u);
  EXPECT_FALSE(readCpuWaitUs("", &us));
  EXPECT_FALSE(readCpuWaitUs("/nonexistent/pressure/cpu", &us));
}

TEST(CpuPressure, ReadsAFile) {
  char path[] = "/tmp/mrd-cpu-pressure-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  uint64_t us = 0;
  EXPECT_TRUE(readCpuWaitUs(path, &us));
  EXPECT_EQ(us, 1234u);
  unlink(path);
}

// Where the kernel has PSI (Linux 4.20+, on unless booted with psi=0),
// this process's reading (its cgroup's or the machine's) works, and its
// total never goes back.
TEST(CpuPressure, TheKernelsFileIfItHasOne) {
  uint64_t a = 0, b = 0;
  if (!readCpuWaitUs("/proc/pressure/cpu", &a)) GTEST_SKIP() << "no /proc/pressure/cpu here";
  ASSERT_TRUE(readCpuWaitUs(&a));
  usleep(2000);
  ASSERT_TRUE(readCpuWaitUs(&b));
  EXPECT_GE(b, a);
}

}  // namespace
}  // namespace mrd::link
