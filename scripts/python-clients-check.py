#!/usr/bin/env python3
"""Reads every InvokeModel and Responses API case of the wire corpus back with the
reference clients, boto3 and openai-python, served by `gpt-oss-scenarios serve`, and
checks what they get against the case's `expected` (final, reasoning, error or not).
Maintainers only; needs a venv with boto3 and openai:

    python3 -m venv /tmp/py && /tmp/py/bin/pip install boto3 openai
    cargo build && /tmp/py/bin/python scripts/python-clients-check.py [BINARY]
"""
import os
import json, subprocess, sys, time, socket, glob, re
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/gpt-oss-scenarios")
import boto3, openai
from botocore.config import Config

def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def squash(t): return re.sub(r"\s+", "", t or "")

def split(text):
    reasoning = "".join(re.findall(r"<reasoning>(.*?)(?:</reasoning>|$)", text, re.S))
    final = re.sub(r"<reasoning>.*?(</reasoning>|$)", "", text, flags=re.S)
    return final, reasoning

ok = True
for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/wire/cases/*.json"))):
    case = json.load(open(path))
    api = case["api"]
    if not (api.startswith("invoke") or api.startswith("responses")):
        continue
    exp = case["expected"]
    p = port()
    srv = subprocess.Popen([BIN, "serve", path, "--port", str(p)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.4)
    got = {"final": "", "reasoning": "", "error": None}
    try:
        if api.startswith("invoke"):
            c = boto3.client("bedrock-runtime", region_name="us-west-2", endpoint_url=f"http://127.0.0.1:{p}",
                             aws_access_key_id="x", aws_secret_access_key="y", config=Config(retries={"max_attempts": 1}))
            body = json.dumps({"model": case["model"], "messages": [{"role": "user", "content": "hi"}]})
            text = ""
            try:
                if api == "invoke":
                    r = json.loads(c.invoke_model(modelId=case["model"], body=body)["body"].read())
                    text = r["choices"][0]["message"].get("content") or ""
                else:
                    text = ""
                    for ev in c.invoke_model_with_response_stream(modelId=case["model"], body=body)["body"]:
                        ch = json.loads(ev["chunk"]["bytes"])
                        for choice in ch.get("choices", []):
                            text += choice["delta"].get("content") or ""
                got["final"], got["reasoning"] = split(text)
            except Exception as e:
                got["final"], got["reasoning"] = split(text)
                got["error"] = type(e).__name__ + ": " + str(e)[:100]
        else:
            c = openai.OpenAI(base_url=f"http://127.0.0.1:{p}/v1", api_key="x", max_retries=0)
            try:
                if api == "responses":
                    r = c.responses.create(model=case["model"], input="hi")
                    for item in r.output:
                        d = item.model_dump()
                        if d["type"] == "reasoning":
                            got["reasoning"] += "".join(x["text"] for x in (d.get("content") or []))
                        elif d["type"] == "message":
                            got["final"] += "".join(x.get("text", "") for x in d["content"])
                else:
                    kinds = {}
                    for ev in c.responses.create(model=case["model"], input="hi", stream=True):
                        t = ev.type
                        if t == "response.output_item.added": kinds[ev.output_index] = ev.item.type
                        elif t == "response.reasoning_text.delta": got["reasoning"] += ev.delta
                        elif t == "response.output_text.delta":
                            if kinds.get(ev.output_index) == "reasoning": got["reasoning"] += ev.delta
                            else: got["final"] += ev.delta
                        elif t == "error": raise RuntimeError("error event: " + ev.message)
            except Exception as e:
                got["error"] = type(e).__name__ + ": " + str(e)[:100]
    finally:
        srv.kill()
    good = squash(got["final"]) == squash(exp["final"]) and squash(got["reasoning"]) == squash(exp["reasoning"]) and (got["error"] is None) == (exp["error"] is None)
    ok &= good
    print("ok  " if good else "BAD ", case["id"], "| got", json.dumps(got, ensure_ascii=False)[:200])
print(f"boto3 {boto3.__version__}, openai-python {openai.__version__}")
sys.exit(0 if ok else 1)
