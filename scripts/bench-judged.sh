#!/usr/bin/env bash
# Benchmark: what judging costs in replay, release build, medians of RUNS runs.
# Two suites of 200 chat cases, each recorded once from a loopback server:
#   - plain: an exact snapshot, no grader;
#   - judged: a `judge` check and a `semantic` snapshot whose stored text is worded
#     differently from the answer, so each case asks two graders (replayed from its cassette).
# Reports wall (hyperfine), CPU and peak memory (getrusage), and the CPU one replayed
# grader question adds.
#
#   scripts/bench-judged.sh [RUNS]     (default 5; needs python3; installs hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cases=200

source scripts/bench-lib.sh

# Answers the cases, and every grader with a passing verdict.
python3 - > "$work/server.log" <<'PY' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        if "impartial grader" in body:
            text = '<reasoning>Compare them.</reasoning>{"pass": true, "score": 0.9, "reason": "Both name Earth."}'
        else:
            text = "<reasoning>Easy.</reasoning>Humans live on Earth, the third planet from the Sun."
        reply = {"id": "b", "object": "chat.completion", "created": 0, "model": "m",
                 "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                 "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}
        data = json.dumps(reply).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"http://127.0.0.1:{s.server_address[1]}/v1", flush=True)
s.serve_forever()
PY
pids+=($!)
for _ in $(seq 50); do grep -q http "$work/server.log" 2>/dev/null && break; sleep 0.1; done
url=$(head -1 "$work/server.log")

suite() { # $1 = folder, $2 = extra scenario text
  mkdir -p "$1/.git" "$1/scenarios"
  seeds=$(seq -s, 1 "$cases")
  printf 'grader: {api: chat, model: openai.gpt-oss-120b-1:0}\n' > "$1/scenarios/defaults.yaml"
  printf 'name: bench\napi: chat\nmodel: openai.gpt-oss-20b-1:0\nprompt: Which planet do humans live on?\nmatrix: {params.extra.seed: [%s]}\n%s' "$seeds" "$2" > "$1/scenarios/bench.yaml"
}
suite "$work/plain" "snapshot: {final: exact, reasoning: ignore}
"
suite "$work/judged" "expect:
  - judge: {rubric: The answer names Earth.}
snapshot: {final: semantic, reasoning: ignore}
"
(cd "$work/plain" && "$bin" run --mode record --accept --concurrency 20 --openai-base-url "$url" >/dev/null)
# Record, then store an earlier wording, and record again: each case now asks both graders.
(cd "$work/judged" && "$bin" run --mode record --accept --concurrency 20 --openai-base-url "$url" >/dev/null)
sed -i 's/^final: .*/final: "Earth, the third planet from the Sun, is where humans live."/' "$work"/judged/snapshots/*.snap
(cd "$work/judged" && "$bin" run --mode record --concurrency 20 --openai-base-url "$url" >/dev/null)
grep -c '"judge"' "$work"/judged/cassettes/*.json | awk -F: '$2 != 1 {bad=1} END {if (bad) {print "a cassette holds no grader exchanges"; exit 1}}'

cd "$work"
replay="run scenarios --mode replay --concurrency 20 --update-snapshots no"
for i in $(seq 1 "$runs"); do
  echo "plain $(cd plain && measure "$bin" $replay)"
  echo "judged $(cd judged && measure "$bin" $replay)"
done > rusage.txt
(cd plain && hyperfine --warmup 1 --runs "$runs" --export-json ../wall.json -N -n plain "$bin $replay" >/dev/null)
(cd judged && hyperfine --warmup 1 --runs "$runs" --export-json ../wall-judged.json -N -n judged "$bin $replay" >/dev/null)

python3 - "$runs" "$cases" "$scripts" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from bench_medians import load
runs, cases = sys.argv[1], int(sys.argv[2])
wall, med, _ = load(["wall.json", "wall-judged.json"])
print(f"medians over {runs} runs of {cases} cases replayed (hyperfine wall; getrusage CPU and peak RSS)")
for name in ("plain", "judged"):
    print(f"  {name:<7} wall {wall[name]*1000:7.0f} ms   CPU {med(name, 1)*1000:7.0f} ms ({med(name, 1)*1000/cases:.2f} ms/case)   peak {med(name, 2):5.1f} MiB")
extra = (med("judged", 1) - med("plain", 1)) * 1000 / (2 * cases)
print(f"  one replayed grader question adds {extra:.2f} ms CPU ({2 * cases} questions)")
PY
