#!/usr/bin/env python3
# A model server that breaks on purpose, one way per BEHAVIOR, to prove that `infra test` names each failure.
# "liar" passes pre-flight and then lies: a node whose answers the gateway must catch after admission.
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BEHAVIOR = os.environ.get("BEHAVIOR", "good")
PORT = int(os.environ.get("PORT", "9000"))
# liar: answers the first LIE_AFTER valid inputs right (enough to pass pre-flight), then breaks output_schema.
LIE_AFTER = int(os.environ.get("LIE_AFTER", "8"))
answered = [0]

if BEHAVIOR == "exit":
    print("fatal: cannot load weights", file=sys.stderr, flush=True)
    sys.exit(3)
if BEHAVIOR == "oom":
    hog = []
    while True:
        hog.append(bytearray(16 * 1024 * 1024))
if BEHAVIOR == "silent":
    time.sleep(3600)
if BEHAVIOR == "wrong-port":
    PORT = 8080


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200, {"status": "ok"})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            doc = json.loads(raw)
            valid = isinstance(doc, dict) and isinstance(doc.get("text"), str)
        except ValueError:
            doc, valid = None, False
        if not valid:
            if BEHAVIOR == "500-on-invalid":
                return self.reply(500, {"error": "Traceback (most recent call last): KeyError 'text'"})
            if BEHAVIOR == "crash-on-invalid":
                os._exit(1)
            return self.reply(400, {"error": "expected {\"text\": string}"})
        if BEHAVIOR == "not-json":
            return self.reply(200, b"summary: hello", "text/plain")
        answered[0] += 1
        if BEHAVIOR == "liar" and answered[0] > LIE_AFTER:
            return self.reply(200, {"summary": 42})
        if BEHAVIOR == "schema-violation":
            return self.reply(200, {"summary": 42})
        if BEHAVIOR == "500-on-valid":
            return self.reply(500, {"error": "internal"})
        if BEHAVIOR == "slow":
            time.sleep(5)
        self.reply(200, {"summary": doc["text"][:40]})


ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
