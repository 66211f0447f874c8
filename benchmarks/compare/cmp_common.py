"""compare.py's shared pieces: the collectives, libraries, settings and
issue 5's target constants, size parsing and formatting, and Setting (what
one local:N, netns:HxP or netns2:HxP setting means)."""

import argparse
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

COLLS = ["allreduce", "allgather", "reduce_scatter", "broadcast", "alltoall"]
COLL_ALIASES = {"all_reduce": "allreduce", "all_gather": "allgather",
                "reducescatter": "reduce_scatter", "bcast": "broadcast"}
MERIDIAN_BIN = {"allreduce": "all_reduce_perf", "allgather": "all_gather_perf",
                "reduce_scatter": "reduce_scatter_perf", "broadcast": "broadcast_perf",
                "alltoall": "alltoall_perf"}
PEERS = ["openmpi", "mpich", "gloo"]
LIBS = ["meridian"] + PEERS
DEFAULT_SETTINGS = ["local:2", "local:4", "netns:2x1", "netns:2x2", "netns2:2x1", "netns2:2x2"]

MIB = 1 << 20
SMALL_MAX = 4096          # "8 B to 4 KiB"
LARGE_MIN = MIB           # "1 MiB and up"
FLOOR = 1 / 1.1           # "no size where Meridian is more than 10% behind"
IPERF_SIZE = 64 * MIB     # the two-rail target's size
IPERF_SHARE = 0.8         # ... at least 80% of iperf3's two-rail throughput
EPS = 1e-9                # a ratio exactly at a target meets it

NS_ADDR = "10.203.{rail}.{host1}"  # netns_topo.sh's addresses


# ---------------------------------------------------------------- helpers

def parse_size(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgG]?)", str(text))
    if not m:
        raise argparse.ArgumentTypeError("bad size %r" % text)
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(float(m.group(1)) * unit)


def human(n):
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, unit)
    return str(n)


def bus_factor(coll, n):
    if coll == "allreduce":
        return 2.0 * (n - 1) / n
    if coll == "broadcast":
        return 1.0
    return (n - 1) / n


def fmt_us(t):
    if t is None:
        return "-"
    if t < 10:
        return "%.2f" % t
    if t < 1000:
        return "%.1f" % t
    return "%.0f" % t


def fmt_bw(b):
    return "-" if b is None else ("%.3f" % b if b < 100 else "%.1f" % b)


def fmt_ratio(r):
    return "-" if r is None else ("%.2f" % r if r < 100 else "%.0f" % r)


class Setting:
    """local:N (N ranks on this host), netns:HxP (H namespace hosts x P ranks,
    rail 0 only), netns2:HxP (the same over both rails)."""

    def __init__(self, token):
        self.token = token
        m = re.fullmatch(r"local:(\d+)", token)
        if m:
            self.kind, self.hosts, self.per_host, self.rails = "local", 1, int(m.group(1)), 0
        else:
            m = re.fullmatch(r"(netns2?):(\d+)x(\d+)", token)
            if not m:
                raise ValueError("bad setting %r (local:N, netns:HxP, netns2:HxP)" % token)
            self.kind = "netns"
            self.rails = 2 if m.group(1) == "netns2" else 1
            self.hosts, self.per_host = int(m.group(2)), int(m.group(3))
            if not 2 <= self.hosts <= 9:
                raise ValueError("%s: 2 to 9 hosts" % token)
        if self.per_host < 1 or (self.kind == "local" and self.per_host < 2):
            raise ValueError("%s: too few ranks" % token)
        self.nranks = self.hosts * self.per_host

    @property
    def dirname(self):
        return self.token.replace(":", "-")

    @property
    def label(self):
        if self.kind == "local":
            return "one host, %d ranks" % self.nranks
        return "%d hosts x %d rank%s, %s" % (self.hosts, self.per_host, "s" if self.per_host > 1 else "",
                                            "one rail" if self.rails == 1 else "both rails")

    def large_target(self):
        """The ratio sizes >= 1 MiB must reach, or None (two rails: the iperf3 target)."""
        if self.kind == "local":
            return 1.5
        return 1.3 if self.rails == 1 else None

    def small_targets(self):
        targets = [1.0]
        if self.kind == "local" and self.nranks == 4:
            targets.append(2.0)
        return targets
