#!/usr/bin/env bash
# Builds the bundled suite's cassettes (maintainers only). Each exchange is served on
# loopback by `gpt-oss-scenarios serve` and
# recorded through the real clients with `run --mode record`; then the cassette header
# gets the exchange's provenance. Recorded exchanges come from the wire corpus; the
# upstream sample prompt has no public recording, so its answers are synthetic
# (scripts/synthetic/*.json).
#
#   scripts/import-recordings.sh [CORPUS]   (default tests/fixtures/wire/cases)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-tests/fixtures/wire/cases}
cargo build --quiet
bin=$PWD/target/debug/gpt-oss-scenarios
export AWS_BEARER_TOKEN_BEDROCK=import OPENAI_API_KEY=import

# record CASE_ID EXCHANGE.json RECORDED_AT HOST [LATER_TURN.json...]
record() {
  local id=$1 exchange=$2 when=$3 host=$4
  shift 4
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" serve "$exchange" "$@" --port "$port" >/dev/null &
  local server=$!
  sleep 0.3
  "$bin" run scenarios --mode record --update-snapshots no --filter "=$id" \
    --bedrock-endpoint "http://127.0.0.1:$port" --openai-base-url "http://127.0.0.1:$port/openai/v1" \
    --responses-base-url "http://127.0.0.1:$port/v1" >/dev/null || true
  kill "$server"
  python3 - "$id" "$exchange" "$when" "$host" "$@" <<'PY'
import glob, json, sys
case_id, exchange, when, host, *later = sys.argv[1:]
source = json.load(open(exchange))
for path in glob.glob("cassettes/**/*.json", recursive=True):
    c = json.load(open(path))
    if c.get("case") != case_id:
        continue
    c["recorded_at"] = when
    c["endpoint_host"] = host
    p = source["provenance"]
    notes = p.get("notes", "")
    imported = ", then ".join(f.split("/")[-1] for f in [exchange, *later])
    kind = "synthetic" if later else p["kind"]
    c["provenance"] = {
        "kind": kind,
        "source": p["source"],
        "notes": (notes + " " if notes else "")
        + (f"Turn 1 is {p['kind']} ({exchange.split('/')[-1]}); later turns are synthetic. " if later else "")
        + f"Imported from {imported} by scripts/import-recordings.sh.",
    }
    open(path, "w").write(json.dumps(c, indent=2, ensure_ascii=False) + "\n")
    print("wrote", path)
PY
}

record recorded-converse-ok "$corpus/converse-120b-ok-effort-medium.json" "2026-05" bedrock-runtime.us-east-1.amazonaws.com
record recorded-converse-stream-hi "$corpus/converse-stream-120b-hi.json" "2025-10" bedrock-runtime.us-east-1.amazonaws.com
record recorded-chat-planet "$corpus/chat-20b-planet.json" "unknown (see provenance)" bedrock-runtime.us-west-2.amazonaws.com
record recorded-chat-stream-sun "$corpus/chat-stream-20b-sun-per-chunk-tags.json" "unknown (see provenance)" bedrock-runtime.us-west-2.amazonaws.com
record recorded-chat-stream-weather-tool "$corpus/chat-stream-20b-tool-call.json" "unknown (see provenance)" bedrock-runtime.us-west-2.amazonaws.com

for api in converse converse-stream chat chat-stream invoke invoke-stream; do
  record "compare-decimals-$api" "scripts/synthetic/$api.json" "synthetic" bedrock-runtime.us-west-2.amazonaws.com
done
for api in responses responses-stream; do
  record "compare-decimals-$api" "scripts/synthetic/$api.json" "synthetic" bedrock-mantle.us-west-2.api.aws
done
for model in openai.gpt-oss-20b-1:0 openai.gpt-oss-120b-1:0; do
  for api in chat chat-stream; do
    record "compare-decimals[api=$api,model=$model]" "scripts/synthetic/$api.json" "synthetic" bedrock-runtime.us-west-2.amazonaws.com
  done
done

record weather-agent-converse "$corpus/converse-stream-tool-use.json" "synthetic" bedrock-runtime.us-west-2.amazonaws.com \
  scripts/synthetic/agent-converse-stream-final.json
record weather-agent-chat "$corpus/chat-stream-20b-tool-call.json" "turn 1 unknown (see provenance); turn 2 synthetic" \
  bedrock-runtime.us-west-2.amazonaws.com scripts/synthetic/agent-chat-stream-final.json
record weather-agent-responses "$corpus/responses-stream-function-call.json" "synthetic" bedrock-mantle.us-west-2.api.aws \
  scripts/synthetic/agent-responses-stream-final.json
