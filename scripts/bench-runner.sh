#!/usr/bin/env bash
# Benchmark (issue 5): 1,000 `chat` cases against the loopback wire server with 50 ms
# of latency injected per request, at --concurrency 50. Ideal wall time: 1.0 s (20
# waves of 50 ms). Reports medians of several runs: wall time, the process-start
# baseline (the same command selecting no case), CPU per case, peak memory; then peak
# memory for 10,000 cases, and the 1,000 cases run sequentially for contrast.
#
#   scripts/bench-runner.sh [RUNS]     (default 7; needs hyperfine and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}

if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
fi
cargo build --release --quiet
bin=$PWD/target/release/gpt-oss-scenarios

work=$(mktemp -d)
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/.git" "$work/s1000" "$work/s10000"
suite() { # $1 = folder, $2 = cases
  python3 - "$1" "$2" <<'PY'
import sys
folder, n = sys.argv[1], int(sys.argv[2])
values = ", ".join(str(i) for i in range(n))
open(f"{folder}/bench.yaml", "w").write(f"""name: bench
api: chat
model: openai.gpt-oss-20b-1:0
prompt: Which planet do humans live on?
expect:
  - contains: "3.9"
snapshot: {{final: ignore, reasoning: ignore, stop_reason: false}}
matrix:
  params.extra.case: [{values}]
""")
PY
}
suite "$work/s1000" 1000
suite "$work/s10000" 10000

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve scripts/synthetic/chat.json --port "$port" --latency 50ms > "$work/serve.log" &
server=$!
sleep 0.5
base="http://127.0.0.1:$port/openai/v1"
export OPENAI_API_KEY=bench
common="--openai-base-url $base --update-snapshots no"

cd "$work"
hyperfine --warmup 1 --runs "$runs" --export-json wall.json \
  -n "1000 cases, concurrency 50" "$bin run s1000 --concurrency 50 $common" \
  -n "process start (no case selected)" "$bin run s1000 --filter none-such $common" >/dev/null

measure() { # one run under getrusage: wall s, cpu s, peak RSS MiB
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False)
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.3f} {r.ru_utime + r.ru_stime:.3f} {r.ru_maxrss / 1024:.1f}")
PY
}
for i in $(seq 1 "$runs"); do measure "$bin" run s1000 --concurrency 50 $common; done > cpu1000.txt
big=$(measure "$bin" run s10000 --concurrency 50 $common)
seq1=$(measure "$bin" run s1000 --concurrency 1 $common)

python3 - "$runs" "$big" "$seq1" <<'PY'
import json, statistics, sys
runs, big, seq1 = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
w = {r["command"]: r for r in json.load(open("wall.json"))["results"]}
conc = w["1000 cases, concurrency 50"]["median"]
start = w["process start (no case selected)"]["median"]
rows = [l.split() for l in open("cpu1000.txt")]
cpu = statistics.median(float(r[1]) for r in rows)
rss = max(float(r[2]) for r in rows)
print(f"1000 cases, concurrency 50, 50 ms latency: median wall {conc:.3f} s over {runs} runs")
print(f"process start (load + plan 1000 cases, no request): median {start:.3f} s")
print(f"target: wall <= 1.15 x 1.0 s + start = {1.15 + start:.3f} s  -> {'met' if conc <= 1.15 + start else 'MISSED'}")
print(f"CPU per case: median {cpu / 1000 * 1000:.3f} ms (user+sys {cpu:.3f} s / 1000)  -> {'met' if cpu / 1000 < 0.001 else 'MISSED'} (target < 1 ms)")
print(f"peak memory, 1000 cases: {rss:.1f} MiB")
print(f"peak memory, 10000 cases: {float(big[2]):.1f} MiB (wall {float(big[0]):.2f} s)  -> {'met' if float(big[2]) < 100 else 'MISSED'} (target < 100 MB)")
print(f"the same 1000 cases sequentially (--concurrency 1): wall {float(seq1[0]):.2f} s")
PY
