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
"""

import argparse
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

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


# ---------------------------------------------------------------- parsing

HEADER_DRIVER = re.compile(r"^# (\S+): (\S+)\s+library (.*?)\s+nranks (\d+)\s*$")
ITER_LINE = re.compile(r"^# Iterations:(.*)$")


def parse_table(text):
    """One benchmark's output: Meridian's *_perf table (out-of-place and
    in-place columns) or a peer driver's (out-of-place only). Returns
    {library, nranks, rows: [{size, count, time_us, algbw, busbw, wrong}],
    iterations: {size: n}, complete}; wrong is None for N/A."""
    out = {"library": None, "nranks": None, "rows": [], "iterations": {}, "complete": False,
           "format": None}
    meridian_ranks = 0
    for line in text.splitlines():
        if line.startswith("#"):
            m = HEADER_DRIVER.match(line)
            if m:
                out["format"] = m.group(1)
                out["library"] = m.group(3)
                out["nranks"] = int(m.group(4))
                continue
            if line.startswith("# nThread"):
                out["format"] = "meridian"
                out["library"] = "Meridian"
            elif line.startswith("# Algorithm:") and out["format"] == "meridian":
                out["library"] = "Meridian (%s)" % line.split(":", 1)[1].strip()
            elif re.match(r"^#\s+Rank\s+\d+ ", line):
                meridian_ranks += 1
            elif line.startswith("# Out of bounds values"):
                out["complete"] = True
            m = ITER_LINE.match(line)
            if m:
                for item in m.group(1).split():
                    s, n = item.split(":")
                    out["iterations"][int(s)] = int(n)
            continue
        f = line.split()
        if len(f) < 9:
            continue
        try:
            row = {"size": int(f[0]), "count": int(f[1]), "time_us": float(f[5]),
                   "algbw": float(f[6]), "busbw": float(f[7]),
                   "wrong": None if f[8] == "N/A" else int(float(f[8]))}
        except ValueError:
            continue
        out["rows"].append(row)
    if out["format"] == "meridian" and meridian_ranks:
        out["nranks"] = meridian_ranks
    return out


def merge_parts(parsed_parts):
    """Rows of several size bands of one library: {size: row} (size 0 dropped)."""
    rows, library, iters = {}, None, {}
    for p in parsed_parts:
        library = library or p["library"]
        iters.update(p["iterations"])
        for r in p["rows"]:
            if r["size"] > 0:
                rows[r["size"]] = r
    for s, r in rows.items():
        if s in iters:
            r["iters"] = iters[s]
    return library, rows


# ---------------------------------------------------------------- ratios and targets

def compare_rows(coll, nranks, lib_rows):
    """lib_rows: {lib: {size: row}}. Per size: Meridian, every peer, the best
    peer (shortest time among rows without wrong elements) and
    ratio = best peer time / Meridian time."""
    sizes = sorted(set(s for rows in lib_rows.values() for s in rows))
    factor = bus_factor(coll, nranks)
    result = []
    for size in sizes:
        entry = {"size": size, "libs": {}, "best_peer": None, "ratio": None, "meridian_wrong": False}
        for lib, rows in lib_rows.items():
            r = rows.get(size)
            if r is None:
                continue
            t = r["time_us"]
            busbw = size / (t * 1e-6) / 1e9 * factor if t > 0 else None
            entry["libs"][lib] = {"time_us": t, "busbw": busbw, "wrong": r["wrong"],
                                  "iters": r.get("iters")}
        m = entry["libs"].get("meridian")
        peers = [(v["time_us"], lib) for lib, v in entry["libs"].items()
                 if lib != "meridian" and not v["wrong"] and v["time_us"] > 0]
        if peers:
            best_t, best = min(peers)
            entry["best_peer"] = best
            if m is not None and m["time_us"] > 0:
                entry["ratio"] = best_t / m["time_us"]
        if m is not None and m["wrong"]:
            entry["meridian_wrong"] = True
        result.append(entry)
    return result


def evaluate_targets(setting, entries, iperf_gbytes=None):
    """Marks each entry's targets; returns the summary counts:
    {name: [met, total]} for large, small>=1, small>=2, floor, and iperf."""
    counts = {}

    def count(name, met):
        c = counts.setdefault(name, [0, 0])
        c[1] += 1
        c[0] += 1 if met else 0

    large = setting.large_target()
    for e in entries:
        e["targets"] = []
        ratio, size = e["ratio"], e["size"]
        if ratio is None and not e["meridian_wrong"]:
            continue
        r = 0.0 if e["meridian_wrong"] else ratio

        def check(name, threshold):
            met = r >= threshold - EPS
            e["targets"].append({"name": name, "threshold": threshold, "met": met})
            count(name, met)

        if large is not None and size >= LARGE_MIN:
            check("large>=%g" % large, large)
        if size <= SMALL_MAX:
            for t in setting.small_targets():
                check("small>=%g" % t, t)
        check("floor>=1/1.1", FLOOR)
        if setting.kind == "netns" and setting.rails == 2 and size == IPERF_SIZE and iperf_gbytes:
            m = e["libs"].get("meridian")
            share = (m["busbw"] or 0.0) / iperf_gbytes if m and not e["meridian_wrong"] else 0.0
            e["iperf_share"] = share
            met = share >= IPERF_SHARE - EPS
            e["targets"].append({"name": "iperf3>=80%", "threshold": IPERF_SHARE, "met": met})
            count("iperf3>=80%", met)
    return counts


def worst_entry(entries):
    rated = [e for e in entries if e["ratio"] is not None]
    return min(rated, key=lambda e: e["ratio"]) if rated else None


# ---------------------------------------------------------------- report

def lib_order(libs):
    return [lib for lib in LIBS if lib in libs]


def format_table(setting, coll, entries, descriptions):
    libs = lib_order(set(l for e in entries for l in e["libs"]))
    lines = []
    lines.append("== %s (%s): %s, %d ranks" % (setting.token, setting.label, coll, setting.nranks))
    for lib in libs:
        lines.append("#  %-9s %s" % (lib, descriptions.get(lib) or "?"))
    head1 = "%9s " % "size"
    head2 = "%9s " % "(B)"
    for lib in libs:
        head1 += "| %-17s " % lib
        head2 += "| %8s %8s " % ("time us", "busbw")
    head1 += "| %-9s %6s  %s" % ("best peer", "ratio", "targets")
    head2 += "| %-9s %6s" % ("", "")
    lines.append(head1)
    lines.append(head2)
    for e in entries:
        line = "%9s " % human(e["size"])
        for lib in libs:
            v = e["libs"].get(lib)
            if v is None:
                line += "| %8s %8s " % ("-", "-")
            else:
                mark = "!" if v["wrong"] else ""
                line += "| %8s %8s " % (fmt_us(v["time_us"]) + mark, fmt_bw(v["busbw"]))
        ratio = "WRONG" if e["meridian_wrong"] else fmt_ratio(e["ratio"])
        missed = [t["name"] for t in e.get("targets", []) if not t["met"]]
        tg = ("MISS " + ", ".join(missed)) if missed else ("ok" if e.get("targets") else "")
        if "iperf_share" in e:
            tg += " (iperf3 %.0f%%)" % (100 * e["iperf_share"])
        line += "| %-9s %6s  %s" % (e["best_peer"] or "-", ratio, tg)
        lines.append(line.rstrip())
    return lines


def summary_line(setting, coll, entries, counts):
    parts = []
    for name in sorted(counts, key=lambda n: ("large" not in n, "small" not in n, n)):
        met, total = counts[name]
        parts.append("%s %d/%d" % (name, met, total))
    w = worst_entry(entries)
    worst = "worst ratio %s at %s (vs %s)" % (fmt_ratio(w["ratio"]), human(w["size"]), w["best_peer"]) if w else "no ratio"
    return "# SUMMARY %s %s np%d: %s; %s" % (setting.token, coll, setting.nranks,
                                            "; ".join(parts) if parts else "no target applies", worst)


def build_report(results_dir, meta):
    """Reads results_dir/raw, computes the comparison; returns (lines, data)."""
    settings = [Setting(t) for t in meta.get("settings", [])]
    if not settings:  # infer from the directories
        raw = os.path.join(results_dir, "raw")
        settings = [Setting(d.replace("-", ":", 1)) for d in sorted(os.listdir(raw))]
    iperf = meta.get("iperf") or {}
    iperf_two = iperf.get("both_rails_gbit_each_way")
    iperf_gbytes = iperf_two / 8.0 if iperf_two else None
    lines, data = [], {"settings": {}, "iperf": iperf, "totals": {}}
    totals = {}
    for setting in settings:
        sdir = os.path.join(results_dir, "raw", setting.dirname)
        if not os.path.isdir(sdir):
            continue
        sdata = {"label": setting.label, "nranks": setting.nranks, "colls": {}}
        colls = [c for c in COLLS if os.path.isdir(os.path.join(sdir, c))]
        for coll in colls:
            cdir = os.path.join(sdir, coll)
            lib_rows, descriptions, parsed_libs = {}, {}, {}
            for lib in LIBS:
                parts = sorted(f for f in os.listdir(cdir)
                               if re.fullmatch(re.escape(lib) + r"\.\d+\.txt", f))
                if not parts:
                    continue
                parsed = []
                for f in parts:
                    with open(os.path.join(cdir, f), errors="replace") as fh:
                        parsed.append(parse_table(fh.read()))
                desc, rows = merge_parts(parsed)
                if rows:
                    lib_rows[lib] = rows
                    descriptions[lib] = desc
                parsed_libs[lib] = {"description": desc, "rows": [rows[s] for s in sorted(rows)]}
            if "meridian" not in lib_rows:
                lines.append("== %s %s: no Meridian result" % (setting.token, coll))
                continue
            entries = compare_rows(coll, setting.nranks, lib_rows)
            counts = evaluate_targets(setting, entries, iperf_gbytes)
            lines.extend(format_table(setting, coll, entries, descriptions))
            lines.append(summary_line(setting, coll, entries, counts))
            lines.append("")
            for name, (met, total) in counts.items():
                t = totals.setdefault("%s|%s" % (setting.token, name), [0, 0])
                t[0] += met
                t[1] += total
            sdata["colls"][coll] = {"libs": parsed_libs, "comparison": entries, "targets": counts}
        data["settings"][setting.token] = sdata
    lines.append("# TOTALS (sizes meeting each target, all collectives)")
    for key in sorted(totals):
        token, name = key.split("|")
        met, total = totals[key]
        lines.append("# TOTAL %-11s %-14s %3d/%d" % (token, name, met, total))
        data["totals"][key] = {"met": met, "of": total}
    if iperf:
        lines.append("# iperf3 between the namespace hosts (same run): rail 0 alone %s Gbit/s each way, "
                     "both rails %s Gbit/s each way (= %s GB/s; target: Meridian's 64M busbw >= 80%% of it)"
                     % (iperf.get("rail0_gbit_each_way", "?"), iperf.get("both_rails_gbit_each_way", "?"),
                        "%.2f" % iperf_gbytes if iperf_gbytes else "?"))
    loads = sorted(r["load1"] for r in meta.get("runs", []) if "load1" in r)
    if loads:
        lines.append("# load average (1 min) at the start of the runs: min %.1f, median %.1f, max %.1f on %s "
                     "cores (the runs' own ranks count too; compare only what ran together)"
                     % (loads[0], loads[len(loads) // 2], loads[-1], meta.get("ncores", "?")))
    rails = meta.get("rail_checks") or []
    bad = [r for r in rails if r.get("warning")]
    if rails:
        lines.append("# rail traffic: %d netns runs checked, %d with a warning%s" % (
            len(rails), len(bad), "".join("\n#   %s" % r["warning"] for r in bad)))
    return lines, data


def write_plots(results_dir, data):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator
    except ImportError:
        print("# matplotlib is missing (apt-get install python3-matplotlib, then run with "
              "/usr/bin/python3): no plots")
        return []
    pdir = os.path.join(results_dir, "plots")
    os.makedirs(pdir, exist_ok=True)
    written = []
    for token, sdata in data["settings"].items():
        for coll, cdata in sdata["colls"].items():
            fig, (ax_bw, ax_t) = plt.subplots(1, 2, figsize=(12, 4.8))
            for lib in lib_order(cdata["libs"]):
                rows = cdata["libs"][lib]["rows"]
                rows = [r for r in rows if r["time_us"] > 0]
                if not rows:
                    continue
                sizes = [r["size"] for r in rows]
                factor = bus_factor(coll, sdata["nranks"])
                bws = [r["size"] / (r["time_us"] * 1e-6) / 1e9 * factor for r in rows]
                style = {"linewidth": 2.2} if lib == "meridian" else {"linewidth": 1.2}
                ax_bw.plot(sizes, bws, marker="o", markersize=3, label=lib, **style)
                ax_t.plot(sizes, [r["time_us"] for r in rows], marker="o", markersize=3, label=lib, **style)
            for ax, ylabel in ((ax_bw, "busbw (GB/s)"), (ax_t, "time (us)")):
                ax.set_xscale("log", base=2)
                ax.xaxis.set_major_locator(LogLocator(base=4))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(int(round(v)))))
                ax.set_yscale("log")
                ax.set_xlabel("size (bytes)")
                ax.set_ylabel(ylabel)
                ax.grid(True, which="both", alpha=0.3)
                ax.legend()
            fig.suptitle("%s, %s (%s)" % (coll, token, sdata["label"]))
            fig.tight_layout()
            path = os.path.join(pdir, "%s_%s.png" % (token.replace(":", "-"), coll))
            fig.savefig(path, dpi=90)
            plt.close(fig)
            written.append(path)
    return written


SUMMARY_PREFIXES = ("# SUMMARY", "# TOTAL", "# iperf3", "# load", "# rail", "#   ")


def report_dir(results_dir, plots=True, show="all"):
    """Writes report.txt, results.json and the plots of results_dir; prints
    the report (show="all"), its summary lines ("summary") or nothing."""
    meta_path = os.path.join(results_dir, "meta.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
    lines, data = build_report(results_dir, meta)
    for line in lines:
        if show == "all" or (show == "summary" and line.startswith(SUMMARY_PREFIXES)):
            print(line)
    data["meta"] = meta
    with open(os.path.join(results_dir, "report.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(os.path.join(results_dir, "results.json"), "w") as fh:
        json.dump(data, fh, indent=1)
    if plots:
        written = write_plots(results_dir, data)
        if written and show != "none":
            print("# %d plots in %s" % (len(written), os.path.join(results_dir, "plots")))
    return lines, data


# ---------------------------------------------------------------- running

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


class Runner:
    def __init__(self, args, outdir):
        self.args = args
        self.out = outdir
        self.build = os.path.abspath(args.build)
        self.cbuild = os.path.join(self.build, "compare")
        self.ncores = os.cpu_count() or 1
        self.tag = "cmp%d" % os.getpid()
        self.topo_up = False
        self.topo_hosts = 0
        self.port = 29700 + os.getpid() % 1000
        self.meta = {}
        self.tmp = tempfile.mkdtemp(prefix="mrd_compare.")

    # -- binaries
    def meridian_bin(self, coll):
        return os.path.join(self.build, "benchmarks", MERIDIAN_BIN[coll])

    def peer_bin(self, peer):
        name = {"openmpi": "mpi_coll_perf.openmpi", "mpich": "mpi_coll_perf.mpich",
                "gloo": "gloo_coll_perf"}[peer]
        return os.path.join(self.cbuild, name)

    def peer_available(self, peer):
        if not os.access(self.peer_bin(peer), os.X_OK):
            return "no %s (make bench-compare builds it)" % self.peer_bin(peer)
        launcher = {"openmpi": "mpirun.openmpi", "mpich": "mpiexec.mpich"}.get(peer)
        if launcher and not shutil.which(launcher):
            return "no %s" % launcher
        return None

    # -- topology
    def topo(self, *words, check=True):
        cmd = [os.path.join(HERE, "netns_topo.sh")] + [str(w) for w in words]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError("netns_topo.sh %s failed: %s" % (" ".join(map(str, words)),
                                                                 (r.stderr or r.stdout).strip()))
        return r

    def ensure_topo(self, hosts):
        if self.topo_up and self.topo_hosts >= hosts:
            return
        if os.geteuid() != 0:
            raise RuntimeError("the netns settings need root (network namespaces)")
        self.topo("stale", check=False)
        r = self.topo("up", self.tag, hosts, 2)
        self.topo_up, self.topo_hosts = True, hosts
        print("# " + r.stdout.strip())
        self.measure_iperf()

    def topo_down(self):
        if self.topo_up:
            self.topo("down", self.tag, check=False)
            self.topo_up = False

    def ns(self, host):
        return "%sh%d" % (self.tag, host)

    def addr(self, host, rail):
        return NS_ADDR.format(rail=rail, host1=host + 1)

    def rail_bytes(self):
        """Bytes delivered into each namespace on each rail (the host-side
        veth ends' tx counters): {(host, rail): bytes}."""
        out = {}
        for h in range(self.topo_hosts):
            for r in range(2):
                path = "/sys/class/net/%sh%dr%d/statistics/tx_bytes" % (self.tag, h, r)
                try:
                    with open(path) as fh:
                        out[(h, r)] = int(fh.read())
                except OSError:
                    out[(h, r)] = 0
        return out

    # -- iperf3
    def iperf_once(self, rails, seconds):
        if not shutil.which("iperf3"):
            return None, "iperf3 is not installed"
        servers, clients, outs = [], [], []
        for r in rails:
            servers.append(CHILDREN.start(
                ["timeout", "-k", "2", str(seconds + 20), "ip", "netns", "exec", self.ns(1),
                 "iperf3", "-s", "-1", "-B", self.addr(1, r), "-p", str(5301 + r)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        for r in rails:
            f = open(os.path.join(self.tmp, "iperf_%d.json" % r), "w+")
            outs.append(f)
            clients.append(CHILDREN.start(
                ["timeout", "-k", "2", str(seconds + 15), "ip", "netns", "exec", self.ns(0),
                 "iperf3", "-c", self.addr(1, r), "-B", self.addr(0, r), "-p", str(5301 + r),
                 "-t", str(seconds), "--bidir", "-J"], stdout=f, stderr=subprocess.STDOUT))
        wait_all(clients, time.monotonic() + seconds + 25)
        for s in servers:
            CHILDREN.finish(s, grace=1.0)
        total = 0.0
        for f in outs:
            f.seek(0)
            text = f.read()
            f.close()
            try:
                end = json.loads(text)["end"]
                # One direction's throughput: the mean of the two senders.
                total += (end["sum_sent"]["bits_per_second"]
                          + end["sum_sent_bidir_reverse"]["bits_per_second"]) / 2 / 1e9
            except (ValueError, KeyError) as exc:
                return None, "iperf3 failed: %s %s" % (exc, text[:300])
        return total, None

    def measure_iperf(self):
        secs = self.args.iperf_seconds
        if secs <= 0:
            return
        one, err = self.iperf_once([0], secs)
        both, err2 = (None, None)
        if one is not None:
            time.sleep(0.5)
            both, err2 = self.iperf_once([0, 1], secs)
        res = {"seconds": secs, "method": "iperf3 --bidir, one stream per rail, both directions at "
               "once; Gbit/s each way (mean of the two directions), summed over the rails"}
        if one is not None:
            res["rail0_gbit_each_way"] = round(one, 3)
        if both is not None:
            res["both_rails_gbit_each_way"] = round(both, 3)
        if err or err2:
            res["error"] = err or err2
        self.meta["iperf"] = res
        print("# iperf3: rail 0 alone %s Gbit/s each way, both rails %s Gbit/s each way%s"
              % ("%.2f" % one if one else "?", "%.2f" % both if both else "?",
                 " (%s)" % res["error"] if "error" in res else ""))

    # -- commands
    def bench_args(self, band, peer):
        b, e, f, n = band
        a = ["-b", str(b), "-e", str(e), "-f", str(f), "-n", str(n), "-w", str(self.args.warmup),
             "-c", str(self.args.check)]
        if peer and self.args.budget_ms > 0:
            a += ["-B", str(self.args.budget_ms)]
        return a

    def run_one(self, setting, coll, lib, band, path):
        """Runs one band; the table goes to path, stderr to path.err.
        Returns a dict with the status."""
        n = setting.nranks
        tmo = self.args.timeout
        tmo_s = str(tmo)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith(("MRD_UNIQUE_ID", "OMPI_COMM_WORLD", "PMI_")):
                del env[k]
        local = setting.kind == "local"
        ifnames = ["veth0", "veth1"][:setting.rails] if not local else []
        yield_idle = n > self.ncores
        procs, single = [], None
        out = open(path, "w")
        err = open(path + ".err", "w")
        cmdline = None
        try:
            if lib == "meridian":
                # Blocking calls (-y 1), as the MPI and Gloo drivers make:
                # like for like; --meridian-stream times them on a stream.
                prog = [self.meridian_bin(coll)] + self.bench_args(band, False) + (
                    [] if self.args.meridian_stream else ["-y", "1"])
                if local:
                    cmd = ["timeout", "-k", "5", tmo_s, os.path.join(self.build, "tools", "mrdrun", "mrdrun"),
                           "-np", str(n), "--timeout", str(tmo)] + prog
                    cmdline = cmd
                    single = CHILDREN.start(cmd, stdout=out, stderr=err, env=env)
                else:
                    self.port += 1
                    for r in range(n):
                        h, l = divmod(r, setting.per_host)
                        e = dict(env, MRD_RANK=str(r), MRD_WORLD_SIZE=str(n), MRD_LOCAL_RANK=str(l),
                                 MRD_LOCAL_SIZE=str(setting.per_host),
                                 MRD_COMM_ID="%s:%d" % (self.addr(0, 0), self.port),
                                 MRD_SOCKET_IFNAME="=" + ",".join(ifnames))
                        cmd = ["timeout", "-k", "5", tmo_s, "ip", "netns", "exec", self.ns(h)] + prog
                        cmdline = cmdline or ["MRD_SOCKET_IFNAME=" + e["MRD_SOCKET_IFNAME"]] + cmd
                        procs.append(CHILDREN.start(cmd, stdout=out if r == 0 else err, stderr=err, env=e))
            elif lib == "gloo":
                store = tempfile.mkdtemp(prefix="store.", dir=self.tmp)
                prog = [self.peer_bin("gloo"), coll] + self.bench_args(band, True)
                for r in range(n):
                    h = r // setting.per_host
                    e = dict(env, RANK=str(r), WORLD_SIZE=str(n), CMP_GLOO_STORE=store)
                    if local:
                        e["CMP_GLOO_HOST"] = "127.0.0.1"
                        e.pop("GLOO_SOCKET_IFNAME", None)
                        cmd = ["timeout", "-k", "5", tmo_s] + prog
                    else:
                        e["GLOO_SOCKET_IFNAME"] = "veth0"  # one device: Gloo does not stripe
                        cmd = ["timeout", "-k", "5", tmo_s, "ip", "netns", "exec", self.ns(h)] + prog
                    cmdline = cmdline or cmd
                    procs.append(CHILDREN.start(cmd, stdout=out if r == 0 else err, stderr=err, env=e))
            elif lib == "openmpi":
                prog = [self.peer_bin("openmpi"), coll] + self.bench_args(band, True)
                mpi = ["mpirun.openmpi", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                       "--mca", "pml", "ob1", "-np", str(n)]
                if yield_idle:
                    mpi += ["--mca", "mpi_yield_when_idle", "1"]
                if local:
                    mpi += ["--mca", "btl", "self,vader"]
                    cmd = ["timeout", "-k", "5", tmo_s] + mpi + prog
                else:
                    hostfile = os.path.join(self.tmp, "hosts.%d" % setting.per_host)
                    with open(hostfile, "w") as fh:
                        for h in range(setting.hosts):
                            fh.write("%s slots=%d\n" % (self.addr(h, 0), setting.per_host))
                    mpi += ["--hostfile", hostfile, "--map-by", "slot",
                            "--mca", "plm_rsh_agent", os.path.join(HERE, "ns_agent.sh"),
                            "--mca", "btl", "self,vader,tcp",
                            "--mca", "btl_tcp_if_include", ",".join(ifnames),
                            "--mca", "oob_tcp_if_include", "veth0"]
                    env["CMP_NS_TAG"] = self.tag
                    cmd = ["timeout", "-k", "5", tmo_s, "ip", "netns", "exec", self.ns(0)] + mpi + prog
                cmdline = cmd
                single = CHILDREN.start(cmd, stdout=out, stderr=err, env=env)
            elif lib == "mpich":
                prog = [self.peer_bin("mpich"), coll] + self.bench_args(band, True)
                if local:
                    cmd = ["timeout", "-k", "5", tmo_s, "mpiexec.mpich", "-n", str(n)] + prog
                else:
                    hostfile = os.path.join(self.tmp, "hosts.mpich.%d" % setting.per_host)
                    with open(hostfile, "w") as fh:
                        for h in range(setting.hosts):
                            fh.write("%s:%d\n" % (self.addr(h, 0), setting.per_host))
                    env["CMP_NS_TAG"] = self.tag
                    # UCX would reach the other namespace through shared memory: tcp only.
                    cmd = ["timeout", "-k", "5", tmo_s, "ip", "netns", "exec", self.ns(0),
                           "mpiexec.mpich", "-f", hostfile, "-n", str(n), "-launcher", "ssh",
                           "-launcher-exec", os.path.join(HERE, "ns_agent.sh"),
                           "-localhost", self.addr(0, 0), "-genv", "UCX_TLS", "tcp,self",
                           "-genv", "UCX_NET_DEVICES", ",".join(ifnames)] + prog
                cmdline = cmd
                single = CHILDREN.start(cmd, stdout=out, stderr=err, env=env)
            else:
                raise ValueError(lib)
            deadline = time.monotonic() + tmo + 15
            if single is not None:
                status = wait_all([single], deadline)
            else:
                status = wait_all(procs, deadline)
        finally:
            out.close()
            err.close()
        if os.path.getsize(path + ".err") == 0:
            os.unlink(path + ".err")
        return {"status": status, "cmd": " ".join(shlex.quote(c) for c in cmdline or [])}

    # -- the matrix
    def plan_bands(self):
        """The sizes (-b times -f up to -e, and -e itself) in bands of one
        benchmark run each: consecutive sizes with the same -n, in one
        geometric series. -n per size: the budget over a guessed call time
        (20 us + size at 1 GB/s), between --min-iters and -n, rounded down
        to 500, 200, 100, 50, 20, 10, 5, 2 or 1. Returns [(b, e, f, n)]."""
        a = self.args
        sizes = [a.minbytes]
        while a.stepfactor > 1 and sizes[-1] * a.stepfactor <= a.maxbytes:
            sizes.append(sizes[-1] * a.stepfactor)
        if sizes[-1] != a.maxbytes:
            sizes.append(a.maxbytes)  # the largest size is always run
        ladder = sorted({a.iters, 500, 200, 100, 50, 20, 10, 5, 2, 1}, reverse=True)

        def iters_for(size):
            if a.budget_ms <= 0:
                return a.iters
            n = a.budget_ms * 1e-3 / (20e-6 + size / 1e9)
            n = min(a.iters, max(a.min_iters, n))
            return max(min(a.iters, a.min_iters), next(v for v in ladder if v <= n))

        bands = []
        for size in sizes:
            n = iters_for(size)
            if bands:
                b, e, f, bn = bands[-1]
                same_series = size % e == 0 and (size // e == f if b != e else size // e >= 2)
                if bn == n and same_series:
                    bands[-1] = (b, size, size // e, n)
                    continue
            bands.append((size, size, 2, n))
        return bands

    def save_meta(self):
        with open(os.path.join(self.out, "meta.json"), "w") as fh:
            json.dump(self.meta, fh, indent=1)

    def run(self, settings, colls, peers):
        a = self.args
        bands = self.plan_bands()
        self.meta.update({
            "command": " ".join(shlex.quote(x) for x in sys.argv),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "settings": [s.token for s in settings], "colls": colls, "peers": peers,
            "bands": [{"b": b, "e": e, "f": f, "n": n} for b, e, f, n in bands],
            "warmup": a.warmup, "budget_ms": a.budget_ms, "check": a.check,
            "ncores": self.ncores, "kernel": os.uname().release,
            "git": self.git_head(), "runs": [], "rail_checks": []})
        self.save_meta()
        print("# compare: %d settings x %d collectives x %d libraries, size bands %s; results in %s"
              % (len(settings), len(colls), 1 + len(peers),
                 " ".join("%s-%s(x%d, n%d)" % (human(b), human(e), f, n) for b, e, f, n in bands), self.out))
        failures = 0
        for setting in settings:
            if setting.kind == "netns":
                self.ensure_topo(setting.hosts)
            for coll in colls:
                cdir = os.path.join(self.out, "raw", setting.dirname, coll)
                os.makedirs(cdir, exist_ok=True)
                for k, band in enumerate(bands):
                    for lib in ["meridian"] + peers:
                        path = os.path.join(cdir, "%s.%d.txt" % (lib, k))
                        before = self.rail_bytes() if setting.kind == "netns" else None
                        load = os.getloadavg()[0]
                        t0 = time.monotonic()
                        res = self.run_one(setting, coll, lib, band, path)
                        secs = time.monotonic() - t0
                        rec = {"setting": setting.token, "coll": coll, "lib": lib, "band": k,
                               "status": res["status"], "seconds": round(secs, 2),
                               "load1": round(load, 2), "cmd": res["cmd"], "file": os.path.relpath(path, self.out)}
                        if before is not None:
                            rec.update(self.rail_check(setting, coll, lib, band, before, path))
                            self.meta["rail_checks"].append(rec)
                        self.meta["runs"].append(rec)
                        self.save_meta()
                        state = "ok" if res["status"] == 0 else ("TIMEOUT" if res["status"] == 124
                                                                 else "FAILED(%d)" % res["status"])
                        if res["status"] != 0:
                            failures += 1
                        if not a.quiet or res["status"] != 0:
                            rails = ""
                            if "rail_mb" in rec:
                                rails = ", rails %s MB" % "+".join("%.0f" % v for v in rec["rail_mb"])
                            print("# run %-10s %-14s %-8s %s-%s n%d: %s (%.1f s%s)%s" % (
                                setting.token, coll, lib, human(band[0]), human(band[1]), band[3], state,
                                secs, rails, "; see " + rec["file"] + ".err" if res["status"] else ""),
                                flush=True)
                # the table of this (setting, collective) as soon as it is complete
                if not a.quiet:
                    self.print_partial(setting, coll)
        self.meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        self.save_meta()
        return failures

    def rail_check(self, setting, coll, lib, band, before, path):
        """Did the run's bytes cross the rails? Every one of these
        collectives between two hosts delivers at least its size (the size
        column) into the hosts, summed over them, per call: the timed calls
        alone must account for half of that. On two rails, rail 1 must
        carry a share of the large sizes (not Gloo's: one interface)."""
        after = self.rail_bytes()
        per_rail = [sum(after[(h, r)] - before[(h, r)] for h in range(self.topo_hosts)) for r in range(2)]
        rec = {"rail_mb": [round(v / 1e6, 1) for v in per_rail]}
        used = per_rail[:setting.rails]
        try:
            with open(path, errors="replace") as fh:
                parsed = parse_table(fh.read())
        except OSError:
            parsed = {"rows": [], "iterations": {}}
        floor = sum(r["size"] * parsed["iterations"].get(r["size"], band[3]) for r in parsed["rows"]) / 2
        rec["rail_floor_mb"] = round(floor / 1e6, 1)
        if sum(used) < floor:
            rec["warning"] = "%s %s %s %s-%s: %.1f MB crossed the rails, the timed calls alone need %.1f MB" % (
                setting.token, coll, lib, human(band[0]), human(band[1]), sum(used) / 1e6, floor / 1e6)
        elif setting.rails == 2 and lib != "gloo" and band[1] >= 16 * MIB and min(used) < 0.05 * sum(used):
            rec["warning"] = "%s %s %s %s-%s: rail 1 carried %.1f%% of the bytes" % (
                setting.token, coll, lib, human(band[0]), human(band[1]), 100.0 * min(used) / max(1, sum(used)))
        return rec

    def print_partial(self, setting, coll):
        cdir = os.path.join(self.out, "raw", setting.dirname, coll)
        lib_rows, desc = {}, {}
        for f in sorted(os.listdir(cdir)):
            m = re.fullmatch(r"(\w+)\.(\d+)\.txt", f)
            if not m:
                continue
            with open(os.path.join(cdir, f), errors="replace") as fh:
                p = parse_table(fh.read())
            lib = m.group(1)
            desc.setdefault(lib, p["library"])
            for r in p["rows"]:
                if r["size"] > 0:
                    lib_rows.setdefault(lib, {})[r["size"]] = r
        if "meridian" not in lib_rows:
            return
        iperf = self.meta.get("iperf", {}).get("both_rails_gbit_each_way")
        entries = compare_rows(coll, setting.nranks, lib_rows)
        counts = evaluate_targets(setting, entries, iperf / 8.0 if iperf else None)
        print("\n".join(format_table(setting, coll, entries, desc)))
        print(summary_line(setting, coll, entries, counts) + "\n", flush=True)

    def git_head(self):
        try:
            r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                               text=True, timeout=10)
            return r.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    def cleanup(self):
        CHILDREN.finish_all()
        self.topo_down()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- self-test

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
