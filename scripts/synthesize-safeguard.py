#!/usr/bin/env python3
"""Makes the synthetic cassette of scenarios/safeguard/spam-policy.yaml.

No public recording of gpt-oss-safeguard labelling this dataset exists, so its answers
are synthetic: a loopback server answers each row in Bedrock's chat-completions shape
(reasoning in <reasoning> tags, then the JSON verdict the policy asks for), and the tool
records them with `run --mode record`, so the cassette holds exactly the requests the
scenario sends. Every answer agrees with its row's label except h12's, a borderline
shop link labelled 0 that the "model" calls spam: precision, recall and F1 come out
below 1 on purpose. The recordings are then marked synthetic.

Usage: scripts/synthesize-safeguard.py [BINARY]   (default: target/release/gpt-oss-scenarios)
"""

import csv
import http.server
import json
import os
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = os.path.join(ROOT, "scenarios", "safeguard")
CASSETTE = os.path.join(ROOT, "cassettes", "safeguard", "spam-policy.json")
MODEL = "openai.gpt-oss-safeguard-20b"
# The one answer that disagrees with its label.
DISAGREE = {"h12": (1, "SP1")}
CATEGORY = {"s01": "SP2", "s02": "SP3", "s03": "SP4", "s04": "SP2", "s05": "SP3", "s06": "SP4",
            "s07": "SP3", "s08": "SP4", "s09": "SP3", "s10": "SP1", "s11": "SP1", "s12": "SP3"}

with open(os.path.join(SUITE, "spam.csv"), newline="", encoding="utf-8") as f:
    ROWS = {row["content"]: row for row in csv.DictReader(f)}


def answer(content):
    row = ROWS[content]
    violation, category = DISAGREE.get(row["id"], (int(row["label"]), CATEGORY.get(row["id"])))
    if violation:
        why = f"The content matches {category} of the policy, so it violates it."
    else:
        why = "Ordinary content: none of SP1 to SP4 applies, so it does not violate the policy."
    verdict = json.dumps({"violation": violation, "category": category})
    return f"<reasoning>Check the content against the spam policy. {why}</reasoning>{verdict}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        content = body["messages"][-1]["content"].split("\n", 1)[1]
        text = answer(content)
        reply = {
            "id": "chatcmpl-synthetic",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 300 + len(content) // 4, "completion_tokens": len(text) // 4,
                      "total_tokens": 300 + len(content) // 4 + len(text) // 4},
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
    subprocess.run([binary, "run", "scenarios/safeguard", "--mode", "record", "--openai-base-url", url,
                    "--update-snapshots", "always"], cwd=ROOT, check=False)
    server.shutdown()
    with open(CASSETTE, encoding="utf-8") as f:
        cassette = json.load(f)
    for row in cassette["rows"].values():
        row["endpoint_host"] = "bedrock-runtime.us-west-2.amazonaws.com"
        row["recorded_at"] = "2026-12-02T00:00:00Z"
        row["provenance"] = {
            "kind": "synthetic",
            "source": "scripts/synthesize-safeguard.py",
            "notes": "Synthetic answers in Bedrock's chat-completions shape; h12 disagrees with its label on purpose.",
        }
    with open(CASSETTE, "w", encoding="utf-8") as f:
        json.dump(cassette, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
