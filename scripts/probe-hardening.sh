#!/usr/bin/env bash
# Probe: issue 25's counts, in its own terms, against the release build and the tool's
# own loopback `serve` (nothing leaves the machine):
#   1. runs killed by a closed pipe: 20 tries of each agent tool that never reads its
#      input (`[echo, "{}"]`, `[date]`), and 20 of `run ... | head -1`;
#   2. canaries found in any written file, decoded base64 included, after recording all
#      eight APIs from a server that echoes both keys whole, split and in base64;
#   3. look-alike hosts given the Bedrock key (`--dry-run` says where it goes);
#   4. recording 40,000 dataset rows against 5,000 (median wall of RUNS);
#   5. peak memory of 8 oversize answers at the default concurrency (median of RUNS);
#   6. validating and dry-running 1,000,000 rows: wall and peak (median of RUNS).
#
#   scripts/probe-hardening.sh [RUNS]     (default 3; needs python3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
source scripts/bench-lib.sh

serve_files() { # files...: sets $base to the server's URL (order matching)
  local log=$work/serve-$RANDOM.log
  "$bin" serve "$@" > "$log" &
  pids+=($!)
  for _ in $(seq 50); do grep -q http "$log" 2>/dev/null && break; sleep 0.1; done
  base="$(grep -o 'http://[0-9.:]*' "$log" | head -1)"
}

python3 - "$work" <<'PY'
import base64, json, sys
work = sys.argv[1]
def case(name, api, response):
    json.dump({"id": name, "api": api, "model": "m", "request": {}, "provenance": {"kind": "synthetic", "source": "probe"},
               "response": response}, open(f"{work}/{name}.json", "w"))
def chunk(text, finish=None):
    return {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
pad = "x" * 200_000
case("tool-call", "chat", {"status": 200, "headers": {"content-type": "application/json"}, "json": {
    "id": "c", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "now", "arguments": json.dumps({"pad": pad})}}]}}]}})
# Both keys, whole in bodies, in two pieces across events, base64 in InvokeModel's chunks.
keys = [("bedrock-api-key-PROBEBEARER", "HALFTWO0001"), ("sk-PROBEOPENAI", "HALFTWO0002")]
pieces = ["Keys: "] + [p for a, b in keys for p in (a, b + " ")]
whole = "".join(pieces)
json_reply = lambda body: {"status": 200, "headers": {"content-type": "application/json"}, "json": body}
events = lambda evs: {"status": 200, "headers": {"content-type": "application/vnd.amazon.eventstream"}, "events": evs}
case("e-converse", "converse", json_reply({"output": {"message": {"role": "assistant", "content": [{"text": whole}]}}, "stopReason": "end_turn"}))
case("e-converse-stream", "converse-stream", events([{"type": "messageStart", "payload": {"role": "assistant"}}]
    + [{"type": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"text": p}}} for p in pieces]
    + [{"type": "messageStop", "payload": {"stopReason": "end_turn"}}]))
completion = {"id": "c", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": whole}, "finish_reason": "stop"}]}
case("e-invoke", "invoke", json_reply(completion))
case("e-invoke-stream", "invoke-stream", events([{"type": "chunk", "payload": {"bytes": base64.b64encode(json.dumps(c).encode()).decode()}}
    for c in [chunk(p) for p in pieces] + [chunk("", "stop")]]))
case("e-chat", "chat", json_reply(completion))
case("e-chat-stream", "chat-stream", {"status": 200, "headers": {"content-type": "text/event-stream"},
    "sse": [json.dumps(chunk(p)) for p in pieces] + [json.dumps(chunk("", "stop")), "[DONE]"]})
case("e-responses", "responses", json_reply({"id": "r", "object": "response", "status": "completed", "output": [
    {"type": "message", "id": "m", "role": "assistant", "content": [{"type": "output_text", "text": whole}]}]}))
raw = "".join(f"event: response.output_text.delta\ndata: {json.dumps({'type': 'response.output_text.delta', 'item_id': 'm', 'output_index': 0, 'content_index': 0, 'delta': p})}\n\n" for p in pieces)
raw += "event: response.completed\ndata: " + json.dumps({"type": "response.completed", "response": {"id": "r", "object": "response", "status": "completed", "output": []}}) + "\n\n"
case("e-responses-stream", "responses-stream", {"status": 200, "headers": {"content-type": "text/event-stream"}, "sse_raw": raw})
# An answer past the default 32 MiB limit.
case("huge", "chat-stream", {"status": 200, "headers": {"content-type": "text/event-stream"},
    "sse": [json.dumps(chunk("x" * (1 << 20))) for _ in range(40)] + [json.dumps(chunk("", "stop")), "[DONE]"]})
for n in (5000, 40000):
    d = f"{work}/rows{n}"
    import os; os.makedirs(f"{d}/.git"); os.makedirs(f"{d}/scenarios")
    with open(f"{d}/scenarios/rows.jsonl", "w") as f:
        for i in range(n): f.write(json.dumps({"id": f"r{i}", "q": f"question {i}"}) + "\n")
    open(f"{d}/scenarios/ds.yaml", "w").write("name: ds\napi: chat\nmodel: m\nprompt: '{{ q }}'\ndataset: rows.jsonl\n")
d = f"{work}/million"; os.makedirs(f"{d}/.git"); os.makedirs(f"{d}/scenarios")
with open(f"{d}/scenarios/rows.jsonl", "w") as f:
    for i in range(1_000_000): f.write(json.dumps({"id": f"r{i}", "text": f"message number {i} please classify", "label": i % 2}) + "\n")
open(f"{d}/scenarios/ds.yaml", "w").write('name: ds\napi: chat\nmodel: openai.gpt-oss-20b-1:0\nsystem: Classify.\nprompt: "Classify {{ text }}"\ndataset: rows.jsonl\n')
PY

# 1. Closed pipes.
killed=0
for tool in '[echo, "{}"]' '[date]'; do
  for i in $(seq 20); do
    d=$work/pipe-$i; rm -rf "$d"; mkdir -p "$d/.git" "$d/scenarios"
    printf 'name: t\napi: agent\ntransport: chat\nmodel: m\nprompt: time?\nsnapshot: {final: ignore}\ntools:\n  - {name: now, description: The time., input_schema: {type: object}, command: %s}\n' "$tool" > "$d/scenarios/t.yaml"
    serve_files "$work/tool-call.json" tests/fixtures/wire/cases/chat-20b-planet.json
    set +e; (cd "$d" && "$bin" run --mode live --openai-base-url "$base/v1" >/dev/null 2>&1); code=$?; set -e
    [ "$code" -ge 128 ] && killed=$((killed + 1))
    kill "${pids[-1]}"
  done
done
headless=0
serve_files tests/fixtures/wire/cases/chat-20b-planet.json
d=$work/head; mkdir -p "$d/.git" "$d/scenarios"
for i in $(seq 30); do printf 'name: s%s\napi: chat\nmodel: m\nprompt: hi\nsnapshot: {final: ignore}\n' "$i" > "$d/scenarios/s$i.yaml"; done
for i in $(seq 20); do
  rm -f "$d/r.json"
  set +e; (cd "$d" && "$bin" run --mode live -v --openai-base-url "$base/v1" --report-json r.json | head -1 >/dev/null; exit "${PIPESTATUS[0]}"); code=$?; set -e
  { [ "$code" -ge 128 ] || [ ! -f "$d/r.json" ]; } && headless=$((headless + 1))
done
echo "1. runs killed by a closed pipe: $killed of 40 agent runs (20 per tool), $headless of 20 'run | head -1'"

# 2. Canaries.
d=$work/canary; mkdir -p "$d/.git" "$d/scenarios"
: > "$d/scenarios/echo.yaml"; echo "scenarios:" >> "$d/scenarios/echo.yaml"
files=()
for api in converse converse-stream invoke invoke-stream chat chat-stream responses responses-stream; do
  echo "  - {name: e-$api, api: $api, model: m, prompt: Echo}" >> "$d/scenarios/echo.yaml"
  files+=("$work/e-$api.json")
done
serve_files "${files[@]}"
(cd "$d" && AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-PROBEBEARERHALFTWO0001 OPENAI_API_KEY=sk-PROBEOPENAIHALFTWO0002 \
  GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS=127.0.0.1 "$bin" run --mode record --concurrency 1 --retries 0 -v \
  --bedrock-endpoint "$base" --openai-base-url "$base/v1" --responses-base-url "$base/v1" \
  --report-json r.json --junit j.xml --summary-md s.md --html r.html > out.txt 2>&1) || true
found=$(python3 - "$d" <<'PY'
import base64, os, re, sys
needles = ["PROBEBEARER", "PROBEOPENAI", "HALFTWO0001", "HALFTWO0002"]
found = 0
for root, _, names in os.walk(sys.argv[1]):
    for n in names:
        text = open(os.path.join(root, n), "rb").read().decode("utf-8", "replace")
        texts = [text]
        for run in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
            run = run.rstrip("=")
            run = run[: len(run) - len(run) % 4] if len(run) % 4 == 1 else run
            try:
                texts.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
            except ValueError:
                pass
        found += sum(1 for t in texts for k in needles if k in t)
print(found)
PY
)
echo "2. canaries (and halves of them) found in written files, decoded base64 included: $found ($(ls "$d/cassettes" | wc -l) cassettes, 4 reports)"

# 3. Look-alike hosts.
given=0
d=$work/hosts; mkdir -p "$d/.git" "$d/scenarios"
printf 'scenarios:\n  - {name: c, api: chat, model: m, prompt: hi}\n  - {name: v, api: converse, model: m, prompt: hi}\n' > "$d/scenarios/a.yaml"
for url in 'https://x.amazonaws.com:@127.0.0.1:8443/v1' 'https://127.0.0.1#.amazonaws.com/v1' 'https://127.0.0.1?.amazonaws.com/v1' \
  'https://my-alb.us-east-1.elb.amazonaws.com/v1' 'https://abc.execute-api.us-east-1.amazonaws.com/v1' \
  'https://bucket.s3-website-us-east-1.amazonaws.com/v1' 'https://anything.api.aws/v1' 'http://bedrock-runtime.us-east-1.amazonaws.com/openai/v1'; do
  n=$(cd "$d" && AWS_BEARER_TOKEN_BEDROCK=bedrock-key-1234 "$bin" run --dry-run --openai-base-url "$url" --bedrock-endpoint "$url" | grep -c '(AWS_BEARER_TOKEN_BEDROCK)' || true)
  given=$((given + n))
done
echo "3. look-alike hosts given the Bedrock key: $given of 16 requests (8 hosts, chat and Converse)"

# 4. Recording 5,000 and 40,000 rows; 5. eight oversize answers; 6. a million rows.
serve_files tests/fixtures/wire/cases/chat-20b-planet.json
rows_url=$base/v1
serve_files "$work/huge.json"
huge_url=$base/v1
d=$work/huge; mkdir -p "$d/.git" "$d/scenarios"
printf 'name: big\napi: chat-stream\nmodel: m\nprompt: hi\nmatrix: {params.temperature: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}\nsnapshot: {final: ignore}\n' > "$d/scenarios/big.yaml"
for i in $(seq "$runs"); do
  for n in 5000 40000; do
    rm -rf "$work/rows$n/cassettes" "$work/rows$n/snapshots"
    echo "record-$n $(cd "$work/rows$n" && measure "$bin" run --mode record --concurrency 50 --openai-base-url "$rows_url")"
  done
  echo "oversize-8 $(cd "$d" && measure "$bin" run --mode live --openai-base-url "$huge_url" --report-json r.json)"
  echo "validate-1m $(cd "$work/million" && measure "$bin" validate)"
  echo "dry-run-1m $(cd "$work/million" && measure "$bin" run --dry-run)"
done > "$work/rusage.txt"
python3 - "$work/rusage.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, cpu, peak, code = line.split()
    rows.setdefault(name, []).append((float(wall), float(cpu), float(peak)))
med = lambda n, i: statistics.median(r[i] for r in rows[n])
r5, r40 = med("record-5000", 0), med("record-40000", 0)
print(f"4. recording 40,000 rows: {r40:.2f} s, 5,000 rows: {r5:.2f} s: {r40 / r5:.1f}x for 8x the rows (target at most 10x)")
print(f"5. 8 oversize answers at once: peak {med('oversize-8', 2):.0f} MiB (target under 300 MB)")
print(f"6. 1,000,000 rows: validate {med('validate-1m', 0):.2f} s, peak {med('validate-1m', 2):.0f} MiB; dry-run {med('dry-run-1m', 0):.2f} s, peak {med('dry-run-1m', 2):.0f} MiB (target under 300 MB)")
print(f"   medians of {len(rows['record-5000'])} runs")
PY
