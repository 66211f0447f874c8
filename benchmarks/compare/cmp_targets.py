"""compare.py: per size, the best peer and ratio = best peer's time /
Meridian's time, and the counts of issue 5's targets met."""

from cmp_common import EPS, FLOOR, IPERF_SHARE, IPERF_SIZE, LARGE_MIN, SMALL_MAX, bus_factor

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
