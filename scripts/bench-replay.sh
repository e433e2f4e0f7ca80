#!/usr/bin/env bash
# Benchmark (issue 15): replay, the main job, against live on the same cases.
#
# Builds suites of `chat` cases (a matrix over params.extra.case, so every case has its
# own request, cassette and snapshot), records them once through `serve`, then measures
# with hyperfine (wall) and getrusage (CPU, peak memory), medians of RUNS runs:
#   - 500 cases replayed (--mode replay --concurrency 50), process start included;
#   - the same 500 cases live against `serve` waiting 100 ms per request;
#   - the 500 cases in auto mode, every one a hit (a cassette): the cost per hit;
#   - 500 cases in auto mode, half hits and half misses (live, 100 ms);
#   - 10,000 cases replayed: wall, CPU and peak memory;
#   - process start alone (load and plan 500 cases, select none).
#
#   scripts/bench-replay.sh [RUNS]     (default 7; needs python3; installs hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}

source scripts/bench-lib.sh

suite() { # $1 = folder, $2 = cases
  mkdir -p "$1/.git" "$1/scenarios"
  python3 - "$1/scenarios/bench.yaml" "$2" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
values = ", ".join(str(i) for i in range(n))
open(path, "w").write(f"""name: bench
api: chat
model: openai.gpt-oss-20b-1:0
prompt: Which planet do humans live on?
expect:
  - icontains: earth
matrix:
  params.extra.case: [{values}]
""")
PY
}

serve 0ms; fast=$url
serve 100ms; slow=$url

suite "$work/s500" 500
suite "$work/s10000" 10000
for s in s500 s10000; do
  (cd "$work/$s" && "$bin" run --mode record --accept --concurrency 50 --openai-base-url "$fast" >/dev/null)
done
# Auto mode: the same 500 cases, every second one without its cassette.
cp -r "$work/s500" "$work/mix"
(cd "$work/mix/cassettes" && ls | awk -F'[@.]' '$2 % 2 == 1' | xargs rm -f)
echo "hits: $(ls "$work/mix/cassettes" | wc -l), misses: $((500 - $(ls "$work/mix/cassettes" | wc -l)))"

common="--concurrency 50 --update-snapshots no"
cd "$work"
hyperfine --warmup 1 --runs "$runs" --export-json wall.json -N \
  -n replay "$bin run s500/scenarios --mode replay $common" \
  -n live "$bin run s500/scenarios --mode live $common --openai-base-url $slow" \
  -n hits "$bin run s500/scenarios --mode auto $common --openai-base-url $slow" \
  -n auto "$bin run mix/scenarios --mode auto $common --openai-base-url $slow" \
  -n start "$bin run s500/scenarios --mode replay $common --filter none-such --allow-empty" >/dev/null

for i in $(seq 1 "$runs"); do
  echo "replay $(cd s500 && measure "$bin" run --mode replay $common)"
  echo "hits $(cd s500 && measure "$bin" run --mode auto $common --openai-base-url "$slow")"
  echo "live $(cd s500 && measure "$bin" run --mode live $common --openai-base-url "$slow")"
  echo "auto $(cd mix && measure "$bin" run --mode auto $common --openai-base-url "$slow")"
  echo "start $(cd s500 && measure "$bin" run --mode replay $common --filter none-such --allow-empty)"
done > rusage.txt
for i in $(seq 1 3); do
  echo "big $(cd s10000 && measure "$bin" run --mode replay $common)"
done >> rusage.txt

python3 - "$runs" "$scripts" <<'PY'
import statistics, sys
sys.path.insert(0, sys.argv[2])
from bench_medians import load
runs = sys.argv[1]
wall, med, rows = load(["wall.json"])
cpu_case = {n: med(n, 1) / 500 * 1000 for n in ("replay", "live", "hits", "auto", "start")}
print(f"medians over {runs} runs, 500 chat cases, --concurrency 50 (hyperfine wall; getrusage CPU and peak RSS)")
print(f"  replay : wall {wall['replay']:.3f} s, CPU {med('replay', 1):.3f} s = {cpu_case['replay']:.3f} ms/case, peak {med('replay', 2):.1f} MiB"
      f"  -> wall {'met' if wall['replay'] <= 0.2 else 'MISSED'} (<= 0.2 s), CPU {'met' if cpu_case['replay'] <= 0.3 else 'MISSED'} (<= 0.3 ms/case)")
print(f"  live   : wall {wall['live']:.3f} s, CPU {med('live', 1):.3f} s = {cpu_case['live']:.3f} ms/case, peak {med('live', 2):.1f} MiB (server waits 100 ms)")
# Each iteration runs replay and auto back to back: the median of their ratios is
# steadier than a ratio of medians when the machine's load drifts.
ratio = statistics.median(h[1] / r[1] for h, r in zip(rows["hits"], rows["replay"]))
print(f"  auto, all 500 hits: wall {wall['hits']:.3f} s, CPU {cpu_case['hits']:.3f} ms/case, {ratio:.2f} x replay's (median of paired runs)"
      f"  -> {'met' if ratio <= 1.1 else 'MISSED'} (no more per hit than replay, 10% noise allowed)")
print(f"  auto, 250 hits + 250 misses: wall {wall['auto']:.3f} s, CPU {med('auto', 1):.3f} s = {cpu_case['auto']:.3f} ms/case")
print(f"  start  : wall {wall['start']:.3f} s, CPU {med('start', 1):.3f} s (load and plan 500 cases, none run)")
print(f"10,000 cases replayed: wall {med('big', 0):.2f} s, CPU {med('big', 1):.2f} s, peak {med('big', 2):.1f} MiB"
      f"  -> {'met' if med('big', 2) < 80 else 'MISSED'} (< 80 MB)")
PY
