"""compare.py: parsing the nccl-tests-style tables that Meridian's *_perf
benchmarks and the peer drivers (mpi_coll_perf, gloo_coll_perf) print."""

import re

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
