"""compare.py: the namespace hosts of the netns settings (netns_topo.sh),
iperf3 between them and the check that a run's bytes crossed the rails.
NetnsHosts is a part of cmp_runner.Runner (it uses the Runner's args, tag,
tmp and meta)."""

import json
import os
import shutil
import subprocess
import time

from cmp_common import HERE, MIB, NS_ADDR, human
from cmp_procs import CHILDREN, wait_all
from cmp_tables import parse_table


class NetnsHosts:
    """Runner's namespace hosts: up on the first netns setting, down in
    cleanup(); iperf3 measured once they are up; rail_check per run."""

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

    # -- rail traffic
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
