#!/usr/bin/env bash
# Benchmark: a dataset scenario at scale, release build, medians of RUNS runs.
#   - `validate` (load, render every row, check) of 1,000 and 10,000 rows: wall
#     (hyperfine) and peak memory (getrusage). Target (issue 16): 10,000 rows under 1 s.
#   - a 10,000-row run replayed from its one dataset cassette: wall, CPU, peak memory.
# Each row renders a 5 KB policy into its system prompt, as a safeguard suite does.
#
#   scripts/bench-dataset.sh [RUNS]     (default 5; needs python3; installs hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

source scripts/bench-lib.sh

suite() { # $1 = folder, $2 = rows
  mkdir -p "$1/.git" "$1/scenarios"
  python3 - "$1/scenarios" "$2" <<'PY'
import csv, sys
folder, n = sys.argv[1], int(sys.argv[2])
open(f"{folder}/policy.md", "w").write("# Policy\n" + "Content that sells, lures or phishes violates it. " * 100 + "\n")
with open(f"{folder}/rows.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "content", "label"])
    for i in range(n):
        w.writerow([f"r{i}", f"Message {i}: " + ("buy cheap watches now" if i % 3 == 0 else "see you at lunch"), int(i % 3 == 0)])
open(f"{folder}/bench.yaml", "w").write("""name: bench
api: chat
model: openai.gpt-oss-safeguard-20b
vars:
  policy: {file: policy.md}
system: "{{ policy }}"
prompt: "Content to classify:\\n{{ content }}"
dataset: rows.csv
expect:
  - icontains: earth
metrics:
  label:
    extract: {regex: "(Earth)"}
    expected: "{{ 'Earth' if label == '1' else 'Mars' }}"
    positive: Earth
snapshot:
  final: {extract: "Earth"}
""")
PY
}

suite "$work/d1000" 1000
suite "$work/d10000" 10000

# The 10,000-row cassette, recorded once from a loopback server.
serve 0ms
(cd "$work/d10000" && "$bin" run --mode record --accept --concurrency 50 --openai-base-url "$url" >/dev/null)
echo "cassette: $(du -h "$work/d10000/cassettes/bench.json" | cut -f1), snapshot table: $(wc -l < "$work/d10000/snapshots/bench.snap") lines"

cd "$work"
hyperfine --warmup 1 --runs "$runs" --export-json wall.json -N \
  -n validate-1000 "$bin validate d1000/scenarios" \
  -n validate-10000 "$bin validate d10000/scenarios" \
  -n replay-10000 "$bin run d10000/scenarios --mode replay --concurrency 50 --update-snapshots no" >/dev/null

for i in $(seq 1 "$runs"); do
  echo "validate-1000 $(measure "$bin" validate d1000/scenarios)"
  echo "validate-10000 $(measure "$bin" validate d10000/scenarios)"
  echo "replay-10000 $(cd d10000 && measure "$bin" run --mode replay --concurrency 50 --update-snapshots no)"
done > rusage.txt

python3 - "$runs" "$scripts" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from bench_medians import load
wall, med, rows = load(["wall.json"])
print(f"medians over {sys.argv[1]} runs (hyperfine wall; getrusage CPU and peak RSS)")
for n in ("validate-1000", "validate-10000"):
    print(f"  {n:15}: wall {wall[n]*1000:.0f} ms, CPU {med(n, 1)*1000:.0f} ms, peak {med(n, 2):.1f} MiB")
print(f"  -> 10,000 rows load and validate in {'under' if wall['validate-10000'] < 1 else 'OVER'} 1 s")
n = "replay-10000"
print(f"  {n:15}: wall {wall[n]:.2f} s, CPU {med(n, 1):.2f} s = {med(n, 1) / 10:.3f} ms/row, peak {med(n, 2):.1f} MiB")
PY
