#!/usr/bin/python3
"""compare.py: Meridian side by side with Open MPI, Gloo (and MPICH when it
is installed), per collective and size, on one host and across namespace
hosts, with the ratios of issue 5's targets.

Runs Meridian's *_perf benchmarks (mrdrun on one host; one process per rank
in network namespaces across hosts) and the same sizes through this
folder's peer drivers (mpi_coll_perf under mpirun, gloo_coll_perf under
this script's own launcher), all with the same -b/-e/-f, -n, -w and -c,
every run under `timeout`. Per size it prints Meridian's time and busbw,
each peer's, the best peer (the shortest time) and

    ratio = best peer's time / Meridian's time

(> 1: Meridian is faster; at one size the sizes and busbw factors are the
same, so it is also Meridian's busbw / the best peer's busbw), then a
summary against issue 5's targets. The raw tables, a JSON of the parsed
numbers and one PNG per setting and collective (matplotlib) go to -o DIR.
--report DIR reads saved raw tables again; --self-test checks the parsing
and the ratio and target logic on built-in samples (no MPI needed).

See benchmarks/README.md ("Comparing with the peers"). Run it with Debian's
/usr/bin/python3 (matplotlib is installed for that interpreter). Settings
across hosts need root (network namespaces, benchmarks/compare/netns_topo.sh).

This file is the command line; the work is in the modules beside it:
cmp_common.py (constants, sizes, formatting, Setting), cmp_tables.py (the
tables' parsing), cmp_targets.py (ratios, best peer, targets),
cmp_report.py (report text, results.json, plots), cmp_procs.py (child
processes), cmp_runner.py and cmp_netns.py (running the matrix; namespace
hosts, iperf3, rail checks), cmp_selftest.py (--self-test).
"""

import argparse
import os
import shutil
import signal
import sys
import time

# The cmp_*.py modules beside this file, whatever the current directory
# (and under python3 -I, which leaves the script's directory off sys.path);
# no __pycache__ written into the source tree.
sys.dont_write_bytecode = True
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path[:1] != [_HERE]:
    sys.path.insert(0, _HERE)

from cmp_common import (COLL_ALIASES, COLLS, DEFAULT_SETTINGS, MIB, PEERS, ROOT,  # noqa: E402
                        Setting, human, parse_size)
from cmp_report import report_dir  # noqa: E402
from cmp_runner import Runner  # noqa: E402
from cmp_selftest import self_test  # noqa: E402


# ---------------------------------------------------------------- main

def split_list(text, known, aliases=None, what="item"):
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        item = (aliases or {}).get(item, item)
        if known is not None and item not in known:
            raise SystemExit("compare.py: unknown %s %r (known: %s)" % (what, item, ", ".join(known)))
        out.append(item)
    return out


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: ends the run like Ctrl-C (clean-up, then the report)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def raise_interrupted(signum, frame):
    raise Interrupted(signum)


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Meridian against Open MPI, Gloo (and MPICH) per collective and size; "
                    "ratio = best peer's time / Meridian's time (> 1: Meridian faster).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: compare.py --settings local:2 --colls allreduce -e 64K")
    p.add_argument("--settings", default=",".join(DEFAULT_SETTINGS),
                   help="comma list of local:N, netns:HxP (one rail), netns2:HxP (both rails) "
                        "(default %(default)s)")
    p.add_argument("--colls", default=",".join(COLLS), help="comma list (default: all five)")
    p.add_argument("--peers", default=None,
                   help="comma list of openmpi, mpich, gloo (default: those built and installed)")
    p.add_argument("-b", "--minbytes", type=parse_size, default=8)
    p.add_argument("-e", "--maxbytes", type=parse_size, default=64 * MIB)
    p.add_argument("-f", "--stepfactor", type=int, default=4,
                   help="size factor (default 4); the largest size -e always runs")
    p.add_argument("-n", "--iters", type=int, default=200, help="timed calls per size, at most (default 200)")
    p.add_argument("--min-iters", type=int, default=5, help="timed calls per size, at least (default 5)")
    p.add_argument("-w", "--warmup", type=int, default=13,
                   help="warm-up calls per size (default 13, Meridian's: its tuner's trials run there)")
    p.add_argument("-B", "--budget-ms", type=float, default=250.0,
                   help="time budget per size and library (ms): sets the calls per size band "
                        "(at 1 GB/s + 20 us per call) and caps the peers' calls by their measured "
                        "time; 0: always -n (default 250)")
    p.add_argument("-c", "--check", type=int, default=1, help="checks per size (default 1)")
    p.add_argument("--timeout", type=int, default=300, help="seconds per benchmark run (default 300)")
    p.add_argument("--iperf-seconds", type=int, default=3,
                   help="iperf3 seconds per measurement between the namespace hosts (0: skip)")
    p.add_argument("--build", default=os.environ.get("MERIDIAN_BUILD", os.path.join(ROOT, "build")),
                   help="Meridian's build directory (default $MERIDIAN_BUILD or build/); the peer "
                        "drivers are in BUILD/compare")
    p.add_argument("-o", "--out", default=None, help="results directory (default BUILD/compare-results/<time>)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--meridian-stream", action="store_true",
                   help="time Meridian's calls on a stream (nccl-tests' default) rather than blocking (-y 1), "
                        "as the peers' calls are")
    p.add_argument("-q", "--quiet", action="store_true", help="only failures and the final report")
    p.add_argument("--dry-run", action="store_true", help="print the size bands and exit")
    p.add_argument("--report", "--replot", metavar="DIR", dest="report",
                   help="read DIR's raw tables again: tables, summary, results.json, plots")
    p.add_argument("--self-test", action="store_true", help="check parsing and the ratio/target logic")
    args = p.parse_args(argv)

    if args.self_test or args.report:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # e.g. | head
    if args.self_test:
        return self_test()
    if args.report:
        if not os.path.isdir(os.path.join(args.report, "raw")):
            raise SystemExit("compare.py: %s has no raw/ tables" % args.report)
        report_dir(args.report, plots=not args.no_plots)
        return 0

    try:
        settings = [Setting(t) for t in split_list(args.settings, None, what="setting")]
    except ValueError as exc:
        raise SystemExit("compare.py: %s" % exc)
    colls = split_list(args.colls, COLLS, COLL_ALIASES, "collective")
    if args.minbytes < 1 or args.minbytes > args.maxbytes or args.iters < 1 or args.min_iters < 1:
        raise SystemExit("compare.py: need 1 <= -b <= -e, -n >= 1, --min-iters >= 1")
    out = args.out or os.path.join(os.path.abspath(args.build), "compare-results",
                                   time.strftime("%Y%m%d-%H%M%S"))
    runner = Runner(args, out)
    if args.dry_run:
        for b, e, f, n in runner.plan_bands():
            print("band %s-%s x%d: -n %d" % (human(b), human(e), f, n))
        shutil.rmtree(runner.tmp, ignore_errors=True)
        return 0

    missing = [runner.meridian_bin(c) for c in colls if not os.access(runner.meridian_bin(c), os.X_OK)]
    if missing:
        raise SystemExit("compare.py: Meridian is not built: %s (make build)" % ", ".join(missing))
    if args.peers is None:
        peers = [pe for pe in PEERS if runner.peer_available(pe) is None]
        skipped = [(pe, runner.peer_available(pe)) for pe in PEERS if pe not in peers]
    else:
        peers = split_list(args.peers, PEERS, what="peer")
        skipped = []
        for pe in peers:
            why = runner.peer_available(pe)
            if why:
                raise SystemExit("compare.py: peer %s: %s" % (pe, why))
    for pe, why in skipped:
        print("# peer %s skipped: %s" % (pe, why))
    if not peers:
        raise SystemExit("compare.py: no peer to compare with (make bench-compare builds them)")

    os.makedirs(out, exist_ok=True)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, raise_interrupted)
    started = time.monotonic()
    failures, status = 0, None
    try:
        failures = runner.run(settings, colls, peers)
    except (KeyboardInterrupt, Interrupted) as exc:
        status = 128 + getattr(exc, "signum", signal.SIGINT)
        print("# interrupted: cleaning up; the report covers what ran", file=sys.stderr)
        failures = -1
    except RuntimeError as exc:
        print("compare.py: %s" % exc, file=sys.stderr)
        failures = -1
    finally:
        # No second signal in the middle of the clean-up.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        runner.cleanup()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    print("\n######## REPORT (%s, %.0f s)%s\n" % (out, time.monotonic() - started,
                                              "" if args.quiet else ": the summaries (tables above)"))
    report_dir(out, plots=not args.no_plots, show="all" if args.quiet else "summary")
    print("# raw tables, results.json, report.txt in %s" % out)
    if failures:
        print("# %s" % ("some runs failed (see meta.json 'runs' and the .err files)" if failures > 0
                        else "incomplete run"))
    if status is not None:
        return status
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
