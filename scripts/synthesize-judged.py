#!/usr/bin/env python3
"""Makes the cassette of scenarios/judged/planet.yaml.

The case's answer is real: the Bedrock recording of "Which planet do humans live on?"
on gpt-oss-20b (cassettes/recorded/recorded-chat-planet.json, imported from
llama-stack). No recording of gpt-oss-120b grading it exists, so the grader's two
answers are synthetic, in Bedrock's chat-completions shape (reasoning in <reasoning>
tags, then the JSON verdict the grader is asked for): the rubric judge passes the
answer, and the semantic snapshot's judge finds it equivalent to the stored wording.
A loopback server answers each request, and the tool records them with
`run --mode record`, so the cassette holds exactly the requests the scenario sends.

Usage: scripts/synthesize-judged.py [BINARY]   (default: target/release/gpt-oss-scenarios)
"""

import http.server
import json
import os
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASSETTE = os.path.join(ROOT, "cassettes", "judged", "planet-judged.json")
RECORDED = os.path.join(ROOT, "cassettes", "recorded", "recorded-chat-planet.json")
GRADER = "openai.gpt-oss-120b-1:0"

with open(RECORDED, encoding="utf-8") as f:
    ANSWER = json.load(f)["interactions"][0]["response"]["json"]

RUBRIC = ("The answer names Earth, adds only true facts (Earth is the third planet from the Sun; "
          "Terra is its Latin name) and names no other planet.",
          {"pass": True, "score": 0.95,
           "reason": "It says humans live on Earth, and its added facts (third planet, also called Terra) are true."})
EQUIVALENT = ("Both answers name Earth as the planet humans live on and call it the third planet from the Sun; "
              "the new one adds that it is also called Terra and bolds the name.",
              {"pass": True, "score": 0.9,
               "reason": "Both say humans live on Earth, the third planet from the Sun; the new answer only adds its other name, Terra."})


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        text = json.dumps(body)
        if "impartial grader" not in text:
            reply = ANSWER
        else:
            reasoning, verdict = EQUIVALENT if "<criterion>" in text else RUBRIC
            content = f"<reasoning>{reasoning}</reasoning>{json.dumps(verdict)}"
            prompt = sum(len(m["content"]) for m in body["messages"]) // 4
            reply = {
                "id": "chatcmpl-synthetic",
                "object": "chat.completion",
                "created": 0,
                "model": GRADER,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": len(content) // 4,
                          "total_tokens": prompt + len(content) // 4},
            }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release", "gpt-oss-scenarios")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if os.path.exists(CASSETTE):
        os.remove(CASSETTE)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    subprocess.run([binary, "run", "scenarios/judged", "--mode", "record", "--openai-base-url", url],
                   cwd=ROOT, check=False, env={**os.environ, "OPENAI_API_KEY": "synthetic"})
    server.shutdown()
    with open(CASSETTE, encoding="utf-8") as f:
        cassette = json.load(f)
    cassette["endpoint_host"] = "bedrock-runtime.us-west-2.amazonaws.com"
    cassette["recorded_at"] = "2026-12-02T00:00:00Z"
    cassette["provenance"] = {
        "kind": "synthetic",
        "source": "scripts/synthesize-judged.py",
        "notes": "The answer is the real Bedrock recording of cassettes/recorded/recorded-chat-planet.json "
                 "(llama-stack); the grader's two answers (judge, then the semantic snapshot's equivalence) are synthetic.",
    }
    with open(CASSETTE, "w", encoding="utf-8") as f:
        json.dump(cassette, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
