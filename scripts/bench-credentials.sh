#!/usr/bin/env bash
# Benchmark (issue 27): what deriving short-term Bedrock API keys costs, and doctor.
#
#   - 1,000 chat cases live against `serve` (no latency), sending OPENAI_API_KEY, and
#     the same with only AWS keys in the environment, so that every request carries a
#     short-term key derived from them (one derivation per region, then reused);
#   - `doctor` on the bundled suite with AWS keys in the environment (no --probe: it
#     reaches no network), process start included.
# Medians of RUNS runs (hyperfine, wall time). hyperfine fails on a non-zero exit, so a
# run whose keys were refused (every case errored) cannot pass for a fast one.
#
#   scripts/bench-credentials.sh [RUNS]   (default 5; needs python3; installs hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
root=$PWD

source scripts/bench-lib.sh

mkdir -p "$work/s1000/.git" "$work/s1000/scenarios"
python3 - "$work/s1000/scenarios/bench.yaml" <<'PY'
import sys
values = ", ".join(str(i) for i in range(1000))
open(sys.argv[1], "w").write(f"""name: bench
api: chat
model: openai.gpt-oss-20b-1:0
prompt: Which planet do humans live on?
expect:
  - icontains: earth
snapshot: {{final: ignore, reasoning: ignore, stop_reason: false}}
matrix:
  params.extra.case: [{values}]
""")
PY
serve 0ms
aws="AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEXAMPLEsessiontoken AWS_EC2_METADATA_DISABLED=true"
common="run s1000/scenarios --mode live --concurrency 50 --update-snapshots no --openai-base-url $url"
cd "$work"
hyperfine --warmup 1 --runs "$runs" --export-json keys.json -N \
  -n api-key "env OPENAI_API_KEY=bench $bin $common" \
  -n derived "env -u OPENAI_API_KEY $aws GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS=127.0.0.1 $bin $common" >/dev/null
cd "$root"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/doctor.json" -N \
  -n doctor "env -u OPENAI_API_KEY $aws $bin doctor scenarios/" >/dev/null
python3 - "$work/keys.json" "$work/doctor.json" <<'PY'
import json, statistics, sys
results = [r for f in sys.argv[1:] for r in json.load(open(f))["results"]]
median = {r["command"]: statistics.median(r["times"]) for r in results}
for name, t in median.items():
    print(f"{name:>8}: median {t * 1000:.0f} ms")
extra = median["derived"] - median["api-key"]
print(f"deriving keys on 1,000 cases: {extra * 1000:+.0f} ms ({extra / median['api-key'] * 100:+.1f}%), {extra * 1000:+.1f} us per case")
PY
