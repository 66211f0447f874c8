"""compare.py: the report of a results directory: the tables and summary
lines (report.txt), results.json and the plots (matplotlib, imported only
when plotting)."""

import json
import os
import re

from cmp_common import COLLS, LIBS, Setting, bus_factor, fmt_bw, fmt_ratio, fmt_us, human
from cmp_tables import merge_parts, parse_table
from cmp_targets import compare_rows, evaluate_targets, worst_entry

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
