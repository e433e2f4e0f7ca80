#!/usr/bin/env bash
# Benchmark (issue 19): what one replayed case costs on each of the eight APIs.
#
# For each API, a suite of 500 cases (a matrix over params.extra.case, so every case
# has its own request and cassette) is recorded once from `serve` playing that API's
# wire-corpus exchange, then replayed (--mode replay --concurrency 50, process start
# included). hyperfine gives the wall time, getrusage the CPU and peak memory; medians
# of RUNS runs. The replay goes through each API's real client (the AWS SDK for
# converse* and invoke*, async-openai for chat* and responses*).
#
#   scripts/bench-apis.sh [RUNS]     (default 5; needs python3; installs hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

source scripts/bench-lib.sh
export AWS_BEARER_TOKEN_BEDROCK=bench

# api, model, the corpus exchange `serve` plays while recording
apis=(
  "converse openai.gpt-oss-120b-1:0 converse-120b-ok-effort-medium"
  "converse-stream openai.gpt-oss-120b-1:0 converse-stream-120b-hi"
  "chat openai.gpt-oss-20b-1:0 chat-20b-planet"
  "chat-stream openai.gpt-oss-20b-1:0 chat-stream-20b-sun-per-chunk-tags"
  "invoke openai.gpt-oss-120b-1:0 invoke-120b-capital"
  "invoke-stream openai.gpt-oss-120b-1:0 invoke-stream-120b-capital"
  "responses openai.gpt-oss-20b responses-20b-capital"
  "responses-stream openai.gpt-oss-20b responses-stream-20b-capital"
)

commands=()
for entry in "${apis[@]}"; do
  read -r api model exchange <<<"$entry"
  dir=$work/$api
  mkdir -p "$dir/.git" "$dir/scenarios"
  python3 - "$dir/scenarios/bench.yaml" "$api" "$model" <<'PY'
import sys
path, api, model = sys.argv[1:]
values = ", ".join(str(i) for i in range(500))
open(path, "w").write(f"""name: bench
api: {api}
model: {model}
prompt: Capital of Japan?
matrix:
  params.extra.case: [{values}]
""")
PY
  log=$work/serve-$api.log
  "$bin" serve "tests/fixtures/wire/cases/$exchange.json" > "$log" &
  pids+=($!)
  for _ in $(seq 50); do grep -q http "$log" 2>/dev/null && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
  (cd "$dir" && "$bin" run --mode record --accept --concurrency 50 --bedrock-endpoint "$url" \
    --openai-base-url "$url/openai/v1" --responses-base-url "$url/v1" >/dev/null)
  echo "$api: $(ls "$dir/cassettes" | wc -l) cassettes recorded"
  commands+=(-n "$api" "$bin run $dir/scenarios --mode replay --concurrency 50 --update-snapshots no")
done

cd "$work"
hyperfine --warmup 1 --runs "$runs" --export-json wall.json -N "${commands[@]}" >/dev/null
for i in $(seq 1 "$runs"); do
  for entry in "${apis[@]}"; do
    read -r api _ <<<"$entry"
    echo "$api $(measure "$bin" run "$api/scenarios" --mode replay --concurrency 50 --update-snapshots no)"
  done
done > rusage.txt

python3 - "$runs" "$scripts" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from bench_medians import load
wall, med, rows = load(["wall.json"])
print(f"medians over {sys.argv[1]} runs, 500 cases per API replayed, --concurrency 50 (hyperfine wall; getrusage CPU and peak RSS)")
for api in wall:
    codes = {r[3] for r in rows[api]}
    print(f"  {api:17} wall {wall[api]:.3f} s, CPU {med(api, 1):.3f} s = {med(api, 1) / 500 * 1000:.3f} ms/case, peak {med(api, 2):.1f} MiB"
          + ("" if codes == {0} else f"  (exit codes {sorted(codes)}: NOT ALL PASSED)"))
PY
