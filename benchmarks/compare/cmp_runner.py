"""compare.py: running the matrix: Meridian (mrdrun on one host, one
process per rank in the namespace hosts), Open MPI and MPICH (mpirun,
mpiexec) and Gloo (this script's own launcher), per setting, collective,
library and size band, every run under `timeout`; meta.json as it goes."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from cmp_common import HERE, MERIDIAN_BIN, ROOT, human
from cmp_netns import NetnsHosts
from cmp_procs import CHILDREN, wait_all
from cmp_report import format_table, summary_line
from cmp_tables import parse_table
from cmp_targets import compare_rows, evaluate_targets


class Runner(NetnsHosts):
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
