#!/usr/bin/env bash
# Benchmark (issue 28): 10,000 dataset rows through batch inference end to end, against
# moto's S3 server and the loopback control plane (`batch serve`), release build, medians
# of RUNS runs, each measured with getrusage.
#   - batch-10000: `run --engine batch`: plan, write the JSONL (5 KB system prompt per
#     row: 58 MB, uploaded in parts), upload, create the job, wait, download, read the
#     answers into the dataset's cassette, judge every row. Its wall time less the report's
#     `mode.batch.wait_ms` is the tool's own time: the stand-in's job time is left aside.
#   - replay-10000: `run --mode replay` of the same rows from that cassette. Both runs
#     write the JSON report (the batch run's gives its wait), as a nightly would.
# Target: the batch run's own time at most 2x the replay's wall, under 150 MB peak RSS.
#
#   scripts/bench-batch.sh [RUNS]     (default 5; needs python3 and moto[server]; installs hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

source scripts/bench-lib.sh
python3 -c "import moto.server" 2>/dev/null || python3 -m pip install --quiet "moto[server]==5.2.5"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3_port=$(port)
moto_server -p "$s3_port" > "$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf -X PUT "http://127.0.0.1:$s3_port/bench" >/dev/null && break; sleep 0.2; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3_port"
"$bin" batch serve tests/fixtures/wire/cases/invoke-120b-capital.json --match order --step 100ms > "$work/plane.log" &
pids+=($!)
for _ in $(seq 50); do grep -q http "$work/plane.log" 2>/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL_BEDROCK="$(grep -o 'http://[0-9.:]*' "$work/plane.log" | head -1)"

mkdir -p "$work/d/.git" "$work/d/scenarios"
python3 - "$work/d/scenarios" <<'PY'
import csv, sys
folder = sys.argv[1]
open(f"{folder}/policy.md", "w").write("# Policy\n" + "Content that sells, lures or phishes violates it. " * 100 + "\n")
with open(f"{folder}/rows.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "content", "city"])
    for i in range(10000):
        w.writerow([f"r{i}", f"Message {i}: which city?", "Tokyo"])
open(f"{folder}/defaults.yaml", "w").write(
    "batch: {input: 's3://bench/in/', output: 's3://bench/out/', role_arn: 'arn:aws:iam::123456789012:role/Bench'}\n")
open(f"{folder}/bench.yaml", "w").write("""name: bench
api: invoke
model: openai.gpt-oss-120b-1:0
vars:
  policy: {file: policy.md}
system: "{{ policy }}"
prompt: "{{ content }}"
dataset: rows.csv
expect:
  - contains: "{{ city }}"
""")
PY

cd "$work/d"
# Once, unmeasured: the snapshot table the measured runs compare with.
"$bin" run --engine batch --poll-max 200ms --accept >/dev/null
for i in $(seq 1 "$runs"); do
  echo "batch-10000 $(measure "$bin" run --engine batch --poll-max 200ms --concurrency 50 --update-snapshots no --report-json b.json)"
  python3 -c 'import json; print("wait", json.load(open("b.json"))["mode"]["batch"]["wait_ms"] / 1000)'
  echo "replay-10000 $(measure "$bin" run --mode replay --concurrency 50 --update-snapshots no --report-json r.json)"
done > rusage.txt
grep -v '^wait' rusage.txt > rusage-runs.txt
grep '^wait' rusage.txt | cut -d' ' -f2 > waits.txt

python3 - "$runs" "$scripts" <<'PY'
import statistics, sys
sys.path.insert(0, sys.argv[2])
from bench_medians import load
_, med, rows = load([], rusage="rusage-runs.txt")
waits = [float(w) for w in open("waits.txt")]
own = [r[0] - w for r, w in zip(rows["batch-10000"], waits)]
replay = med("replay-10000", 0)
print(f"medians over {sys.argv[1]} runs (getrusage wall, CPU and peak RSS)")
print(f"  batch-10000 : wall {med('batch-10000', 0):.2f} s of which waiting on the job {statistics.median(waits):.2f} s;"
      f" own {statistics.median(own):.2f} s, CPU {med('batch-10000', 1):.2f} s, peak {med('batch-10000', 2):.1f} MiB")
print(f"  replay-10000: wall {replay:.2f} s, CPU {med('replay-10000', 1):.2f} s, peak {med('replay-10000', 2):.1f} MiB")
ratio = statistics.median(own) / replay
print(f"  -> batch's own time is {ratio:.2f}x the replay's ({'within' if ratio <= 2 else 'OVER'} 2x);"
      f" peak {'under' if med('batch-10000', 2) < 150 else 'OVER'} 150 MB")
PY
