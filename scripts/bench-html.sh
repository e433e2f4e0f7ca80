#!/usr/bin/env bash
# Benchmark: the HTML report at 10,000 cases (the bundled suite's cases, 250 times, each
# with its own question, one in 97 failed with a diff): its size, and how long headless Chromium takes to open it
# until the first page of rows is drawn (tests/browser/report.cjs), median of RUNS runs.
# Target (issue 18): under 2 s, and under 20 MB.
#
#   scripts/bench-html.sh [RUNS]   (default 5; needs chromium and playwright-core, as .ci/run installs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

source scripts/bench-lib.sh

"$bin" run scenarios/ --mode replay --update-snapshots no --report-json "$work/bundled.json" >/dev/null
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
run = json.load(open(f"{work}/bundled.json"))
cases = run["cases"]
many = []
for i in range(10_000):
    base = cases[i % len(cases)]
    case = dict(base, id=f"{base['id']}#{i}", prompt=f"{base['prompt']}\n\nuser: row {i} of the dataset")
    if i % 97 == 0:
        case.update(status="failed", snapshot={"status": "changed", "path": "snapshots/x.snap", "pending": True,
                    "diff": "- final: Humans live on Mars.\n+ final: Humans live on Earth.\n"})
    many.append(case)
run["cases"] = many
json.dump(run, open(f"{work}/many.json", "w"))
PY
(cd "$work" && "$bin" merge-reports many.json --html many.html >/dev/null) || true
size=$(stat -c %s "$work/many.html")
for i in $(seq 1 "$runs"); do
  node tests/browser/report.cjs "$work/many.html" "$work/shot.png" | python3 -c 'import json,sys; print(json.load(sys.stdin)["openMs"])'
done > "$work/open.txt"
python3 - "$work/open.txt" "$size" "$runs" <<'PY'
import statistics, sys
times = [int(t) for t in open(sys.argv[1])]
size, runs = int(sys.argv[2]), sys.argv[3]
median = statistics.median(times)
print(f"10,000-case HTML report: {size / 2**20:.1f} MiB ({'under' if size < 20 * 2**20 else 'OVER'} 20 MB)")
print(f"opened in headless Chromium to the first rows: median {median:.0f} ms over {runs} runs "
      f"({'under' if median < 2000 else 'OVER'} 2 s; runs: {', '.join(map(str, times))} ms)")
PY
