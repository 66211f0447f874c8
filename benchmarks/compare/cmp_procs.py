"""compare.py: the child processes (each in its own process group), ended
on exit or signal, and waiting for a run's processes until a deadline."""

import os
import select
import signal
import subprocess
import time

class Children:
    """Process groups this script started, ended on exit or signal."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def kill(self, p, sig=signal.SIGKILL):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass

    def finish(self, p, grace=5.0):
        """TERM the group, KILL after grace seconds; always reaps."""
        if p.poll() is None:
            self.kill(p, signal.SIGTERM)
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill(p)
                p.wait(timeout=10)
        if p in self.procs:
            self.procs.remove(p)

    def finish_all(self):
        for p in list(self.procs):
            self.finish(p, grace=2.0)


CHILDREN = Children()


def wait_all(procs, deadline):
    """Waits for every process, until the first non-zero exit (the others
    are then ended) or the deadline. Returns the first failing status,
    124 at the deadline, else 0. Sleeps in select() on the processes'
    pidfds (readable when they end): no polling while the ranks run."""
    status = 0
    pending = list(procs)
    fds = {}
    for p in pending:
        try:
            fds[p] = os.pidfd_open(p.pid)
        except (AttributeError, OSError):  # Python < 3.9 or an old kernel
            pass
    try:
        while pending:
            for p in list(pending):
                rc = p.poll()
                if rc is not None:
                    pending.remove(p)
                    if rc != 0 and status == 0:
                        status = rc
            if status != 0 or not pending:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                status = 124
                break
            if all(p in fds for p in pending):
                select.select([fds[p] for p in pending], [], [], min(left, 60.0))
            else:
                time.sleep(min(left, 0.2))
    finally:
        for fd in fds.values():
            os.close(fd)
        for p in procs:
            CHILDREN.finish(p)
    return status
