#!/usr/bin/env python3
# The cheapest model there is: echoes {"text"} back, so a benchmark measures the path to it, not the model.
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            return self.reply(400, {"error": "expected {\"text\": string}"})
        self.reply(200, {"text": doc["text"]})


ThreadingHTTPServer(("0.0.0.0", 9000), Handler).serve_forever()
