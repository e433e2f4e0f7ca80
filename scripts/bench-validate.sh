#!/usr/bin/env bash
# Benchmark: `validate` over 1,000 generated scenario files, release build.
# Target (issue 2): under 1 second on a 2-core machine. Reports hyperfine's median.
#
#   scripts/bench-validate.sh [FILES]     (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-1000}

if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
fi
cargo build --release --quiet
bin=$PWD/target/release/gpt-oss-scenarios

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/.git" "$work/suite"
cp scenarios/defaults.yaml "$work/suite/defaults.yaml"
# Realistic files: the bundled scenarios' shape, a matrix in every tenth file.
for i in $(seq 1 "$files"); do
  dir="$work/suite/group-$((i % 20))"
  mkdir -p "$dir"
  {
    echo "# yaml-language-server: \$schema=../../schema/scenario.schema.json"
    echo "name: case-$i"
    echo "description: Generated scenario $i, comparing two decimals in Japanese."
    echo "tags: [bench, ja]"
    echo "api: chat-stream"
    echo "system: 質問に対して日本語で回答してください。"
    echo "prompt: 3.11と3.$i はどちらが大きいですか？"
    echo "params: {max_tokens: 1024, temperature: 1.0, top_p: 1.0, reasoning_effort: medium}"
    if (( i % 10 == 0 )); then
      echo "matrix:"
      echo "  api: [chat, chat-stream, converse, converse-stream]"
      echo "  model: [openai.gpt-oss-20b-1:0, openai.gpt-oss-120b-1:0]"
    fi
    echo "expect:"
    echo "  - contains: \"3.9\""
    echo "  - regex: '3\\.\\d+'"
    echo "  - script: {name: japanese, min_share: 0.3}"
    echo "snapshot:"
    echo "  final: {extract: '3\\.\\d+'}"
    echo "  reasoning: present"
  } > "$dir/case-$i.yaml"
done

(cd "$work" && "$bin" validate suite)
hyperfine --warmup 3 --runs 20 --export-json "$work/result.json" \
  "cd $work && $bin validate suite"
python3 - "$work/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"median {r['median']*1000:.1f} ms  (mean {r['mean']*1000:.1f} ms, min {r['min']*1000:.1f} ms, max {r['max']*1000:.1f} ms)")
PY
