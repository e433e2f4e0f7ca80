"""Shared by the benchmark scripts: hyperfine's median wall times, and the medians of
the getrusage lines (`name wall cpu rss code`) that `measure` in bench-lib.sh prints."""

import json
import statistics


def load(wall_files, rusage="rusage.txt"):
    """Returns (wall, med, rows): wall[name] in s, med(name, i) for i = 0 wall, 1 CPU
    (s), 2 peak RSS (MiB), and every run's row. Warns of runs that exited non-zero."""
    wall = {r["command"]: r["median"] for f in wall_files for r in json.load(open(f))["results"]}
    rows = {}
    for line in open(rusage):
        name, w, cpu, rss, code = line.split()
        rows.setdefault(name, []).append((float(w), float(cpu), float(rss), int(code)))
    for name, runs in rows.items():
        bad = [r[3] for r in runs if r[3] != 0]
        if bad:
            print(f"WARNING: {name} exited {bad[0]} in {len(bad)} run(s)")

    def med(name, i):
        return statistics.median(r[i] for r in rows[name])

    return wall, med, rows
