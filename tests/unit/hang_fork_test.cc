// A child forked after the library took SIGUSR1 for hang reports gets the
// signal's default action back: the inherited handler wrote to the
// parent's pipe, so the parent reported and the child's signal vanished.
// The child's own first communicator takes the signal again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "meridian/meridian.h"

namespace {

bool usr1IsDefault() {
  struct sigaction now {};
  return sigaction(SIGUSR1, nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) == 0 && now.sa_handler == SIG_DFL;
}

bool usr1IsHandled() {
  struct sigaction now {};
  return sigaction(SIGUSR1, nullptr, &now) == 0 && now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN;
}

TEST(HangFork, AForkedChildGetsTheDefaultActionBackAndItsOwnHandlerWithItsFirstCommunicator) {
  mrdComm_t comm = nullptr;
  ASSERT_EQ(mrdCommInitAll(&comm, 1, nullptr), mrdSuccess);
  ASSERT_TRUE(usr1IsHandled());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Exit statuses: 0 ok; 1 the handler was inherited; 2 no communicator;
    // 3 the child's communicator did not take the signal.
    if (!usr1IsDefault()) _exit(1);
    mrdComm_t own = nullptr;
    if (mrdCommInitAll(&own, 1, nullptr) != mrdSuccess) _exit(2);
    const bool handled = usr1IsHandled();
    mrdCommDestroy(own);
    _exit(handled ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(usr1IsHandled());  // the parent's is untouched
  EXPECT_EQ(mrdCommDestroy(comm), mrdSuccess);
}

}  // namespace
