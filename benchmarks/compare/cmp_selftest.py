"""compare.py --self-test: the parsing, the ratio and target logic and the
report path, on built-in sample tables (no MPI, no Gloo needed)."""

import json
import os
import shutil
import tempfile

from cmp_common import IPERF_SIZE, MIB, Setting, human, parse_size
from cmp_report import report_dir
from cmp_tables import merge_parts, parse_table
from cmp_targets import compare_rows, evaluate_targets

SAMPLE_MERIDIAN = """\
# nThread 1 nGpus 1 minBytes 8 maxBytes 2097152 step: 4(factor) warmup iters: 13 iters: 20 agg iters: 1 validation: 1 graph: 0
# Algorithm: tuned
#
# Using devices
#  Rank  0 Group  0 Pid  23899 on         vm device  0 [host] CPU
#  Rank  1 Group  0 Pid  23900 on         vm device  1 [host] CPU
#  Rank  2 Group  0 Pid  23901 on         vm device  2 [host] CPU
#  Rank  3 Group  0 Pid  23902 on         vm device  3 [host] CPU
#
#                                                              out-of-place                       in-place
#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s)
           8             2     float     sum      -1    10.00    0.00    0.00       0    12.33    0.00    0.00       0
        2048           512     float     sum      -1    20.00    0.10    0.15       0    15.04    0.14    0.14       0
     1048576        262144     float     sum      -1   500.00    2.10    3.15       0    91.32    5.74    5.74       0
     4194304       1048576     float     sum      -1  2.0e+03    2.10    3.15       0  1.9e+03    5.74    5.74       0
    16777216       4194304     float     sum      -1  10000.0    1.68    2.52       3  9000.00    1.86    2.80       0
# Out of bounds values : 3 FAILED
# Avg bus bandwidth    : 0.925731
#
"""

SAMPLE_MPI = """\
# mpi_coll_perf: allreduce  library Open MPI v4.1.4  nranks 4
# minBytes 8 maxBytes 16777216 step: 4(factor) warmup iters: 13 iters: 20 validation: 1 time: mean over ranks budget: 250 ms per size
#
#                                                              out-of-place
#       size         count      type   redop    root     time   algbw   busbw  #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)
           8             2     float     sum      -1    20.00    0.00    0.00       0
        2048           512     float     sum      -1    18.00    0.11    0.17       0
     1048576        262144     float     sum      -1   800.00    1.31    1.97       0
     4194304       1048576     float     sum      -1  2800.00    1.50    2.25       0
    16777216       4194304     float     sum      -1  12000.0    1.40    2.10       0
# Out of bounds values : 0 OK
# Avg bus bandwidth    : 1.3
# Iterations: 8:20 2048:20 1048576:20 4194304:12 16777216:3
#
"""

SAMPLE_GLOO = """\
# gloo_coll_perf: allreduce  library Gloo 0.5.0 tcp addr=127.0.0.1  nranks 4
# minBytes 8 maxBytes 16777216 step: 4(factor) warmup iters: 13 iters: 20 validation: 1 time: mean over ranks
#
# size 2: no element per rank, skipped
           8             2     float     sum      -1    15.00    0.00    0.00       0
        2048           512     float     sum      -1     1.00    2.05    3.07      12
     1048576        262144     float     sum      -1   700.00    1.50    2.25       0
     4194304       1048576     float     sum      -1  4000.00    1.05    1.57       0
# Out of bounds values : 12 FAILED
# Avg bus bandwidth    : 1.0
#
"""


def self_test():
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    def close(a, b, tol=1e-9):
        return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))

    # Parsing: both formats, e-notation, N/A-free rows, skipped sizes, footers.
    m = parse_table(SAMPLE_MERIDIAN)
    o = parse_table(SAMPLE_MPI)
    g = parse_table(SAMPLE_GLOO)
    expect(m["format"] == "meridian" and m["nranks"] == 4 and m["library"] == "Meridian (tuned)",
           "Meridian header: %r" % {k: m[k] for k in ("format", "nranks", "library")})
    expect(len(m["rows"]) == 5 and m["rows"][3]["time_us"] == 2000.0 and m["rows"][4]["wrong"] == 3,
           "Meridian rows (out-of-place columns, e-notation): %r" % m["rows"])
    expect(o["library"] == "Open MPI v4.1.4" and o["nranks"] == 4 and o["complete"],
           "MPI driver header: %r" % o)
    expect(o["iterations"] == {8: 20, 2048: 20, 1048576: 20, 4194304: 12, 16777216: 3},
           "iterations footer: %r" % o["iterations"])
    expect(len(g["rows"]) == 4 and g["rows"][1]["wrong"] == 12, "Gloo rows: %r" % g["rows"])
    expect(parse_size("64K") == 65536 and parse_size("64M") == 64 * MIB and human(4096) == "4K",
           "size parsing")

    # Ratios: best peer = shortest time among rows without wrong elements;
    # ratio = best peer time / Meridian time (> 1: Meridian faster).
    lib_rows = {"meridian": merge_parts([m])[1], "openmpi": merge_parts([o])[1],
                "gloo": merge_parts([g])[1]}
    entries = {e["size"]: e for e in compare_rows("allreduce", 4, lib_rows)}
    e8 = entries[8]
    expect(e8["best_peer"] == "gloo" and close(e8["ratio"], 1.5),
           "8 B: Meridian 10 us, best peer gloo 15 us -> ratio 1.5, got %s %s" % (e8["best_peer"], e8["ratio"]))
    e2k = entries[2048]
    expect(e2k["best_peer"] == "openmpi" and close(e2k["ratio"], 0.9),
           "2 KiB: gloo's wrong row must not count; openmpi 18 us / Meridian 20 us = 0.9, got %s %s"
           % (e2k["best_peer"], e2k["ratio"]))
    e1m = entries[1048576]
    expect(close(e1m["ratio"], 700.0 / 500.0), "1 MiB ratio 1.4, got %s" % e1m["ratio"])
    # The ratio equals the busbw ratio (same size, same factor).
    bw_ratio = e1m["libs"]["meridian"]["busbw"] / e1m["libs"]["gloo"]["busbw"]
    expect(close(e1m["ratio"], bw_ratio), "ratio %s != busbw ratio %s" % (e1m["ratio"], bw_ratio))
    expect(close(e1m["libs"]["meridian"]["busbw"], 1048576 / 500e-6 / 1e9 * 1.5),
           "busbw from the time: %s" % e1m["libs"]["meridian"]["busbw"])
    expect(entries[16777216]["meridian_wrong"], "Meridian's wrong row is flagged")
    # A faster Meridian must give ratio > 1 (catches an inverted ratio).
    fast = compare_rows("allgather", 2, {"meridian": {64: {"time_us": 1.0, "wrong": 0}},
                                         "openmpi": {64: {"time_us": 4.0, "wrong": 0}}})
    expect(close(fast[0]["ratio"], 4.0), "Meridian 4x faster must give ratio 4, got %s" % fast[0]["ratio"])

    # Targets.
    local4 = Setting("local:4")
    counts = evaluate_targets(local4, list(entries.values()))
    expect(counts.get("small>=1") == [1, 2], "local:4 small>=1: 8 B (1.5) met, 2 KiB (0.9) missed: %r" % counts)
    expect(counts.get("small>=2") == [0, 2], "local:4 small>=2: none met: %r" % counts)
    expect(counts.get("large>=1.5") == [0, 3], "local:4 large>=1.5: 1.4, 1.4, WRONG all missed: %r" % counts)
    expect(counts.get("floor>=1/1.1") == [3, 5], "floor: 0.9 below 1/1.1 and the WRONG row missed: %r" % counts)
    netns = Setting("netns:2x2")
    counts = evaluate_targets(netns, list(entries.values()))
    expect(counts.get("large>=1.3") == [2, 3] and "small>=2" not in counts,
           "netns:2x2 large>=1.3: 1.4 and 1.4 met: %r" % counts)
    two = Setting("netns2:2x1")
    expect(two.large_target() is None and two.rails == 2 and two.nranks == 2, "netns2 setting")
    big = {"meridian": {IPERF_SIZE: {"time_us": IPERF_SIZE / 2.0e9 * 1e6, "wrong": 0}},
           "openmpi": {IPERF_SIZE: {"time_us": IPERF_SIZE / 1.0e9 * 1e6, "wrong": 0}}}
    ents = compare_rows("allreduce", 2, big)  # Meridian busbw 2.0 GB/s (factor 1)
    c_ok = evaluate_targets(two, ents, iperf_gbytes=2.5)     # 80% exactly
    c_miss = evaluate_targets(two, compare_rows("allreduce", 2, big), iperf_gbytes=2.6)
    expect(c_ok.get("iperf3>=80%") == [1, 1] and c_miss.get("iperf3>=80%") == [0, 1],
           "iperf3 target: %r %r" % (c_ok, c_miss))
    for bad in ("local:1", "netns:1x2", "tcp:2", "netns3:2x1"):
        try:
            Setting(bad)
            failures.append("setting %s accepted" % bad)
        except ValueError:
            pass

    # The report path: raw tables in a directory, read back.
    d = tempfile.mkdtemp(prefix="mrd_compare_selftest.")
    try:
        cdir = os.path.join(d, "raw", "local-4", "allreduce")
        os.makedirs(cdir)
        for name, text in (("meridian.0.txt", SAMPLE_MERIDIAN), ("openmpi.0.txt", SAMPLE_MPI),
                           ("gloo.0.txt", SAMPLE_GLOO)):
            with open(os.path.join(cdir, name), "w") as fh:
                fh.write(text)
        with open(os.path.join(d, "meta.json"), "w") as fh:
            json.dump({"settings": ["local:4"]}, fh)
        lines, data = report_dir(d, plots=False, show="none")
        text = "\n".join(lines)
        expect("# SUMMARY local:4 allreduce np4: large>=1.5 0/3; small>=1 1/2; small>=2 0/2; "
               "floor>=1/1.1 3/5; worst ratio 0.90 at 2K (vs openmpi)" in text,
               "report summary line:\n" + text)
        expect(data["totals"]["local:4|small>=1"] == {"met": 1, "of": 2}, "totals: %r" % data["totals"])
        expect(os.path.exists(os.path.join(d, "results.json")), "results.json written")
    finally:
        shutil.rmtree(d, ignore_errors=True)

    for f in failures:
        print("FAIL: " + f)
    print("compare.py self-test: %s (%d failure%s)" % ("FAILED" if failures else "passed", len(failures),
                                                      "" if len(failures) == 1 else "s"))
    return 1 if failures else 0
