#!/usr/bin/env python3
# A model server that breaks on purpose, one way per BEHAVIOR, to prove that `infra test` names each failure.
# "liar" passes pre-flight and then lies: a node whose answers the gateway must catch after admission. "subtle-liar"
# lies within output_schema (a wrong summary): only comparing nodes' answers (spot checks) can catch it.
# The hostile ones: "fork-bomb" (processes until the pids limit), "crowd" (160 processes, never listens), "oom-on-request", "exit-after-3" (exits 7 on the
# fourth valid input), "huge" (a 300 MB answer), "drip" (a byte per second), "hang" (never answers), "hostile" (tries
# to reach everything in TARGETS first, see probe.py, and answers with what it observed). "echo-trace" answers with the
# trace headers it received (traceparent, tracestate, baggage; null when absent), as a JSON string in "summary".
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
# Where the server listens: 0.0.0.0, or the container's own loopback only ("loopback-only"), which InfraMind reaches too.
BIND = "127.0.0.1" if BEHAVIOR == "loopback-only" else "0.0.0.0"
if BEHAVIOR == "h2-frames":
    # An h2c-only server: whatever it is sent, it answers with HTTP/2 frames, its SETTINGS then a GOAWAY (PROTOCOL_ERROR)
    # whose debug data ends a line, so that an HTTP/1.1 client reads a garbage status line (not a connection closed
    # before any answer, as grpcio's drop of the request is).
    import socket
    listener = socket.create_server((BIND, PORT))
    while True:
        conn, _ = listener.accept()
        try:
            conn.recv(65536)
            conn.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x15\x07\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x00\x00\x00\x00\x01" + b"HTTP/2 only\r\n")
        except OSError:
            pass
        conn.close()
HUGE_BYTES = 300 * 1024 * 1024
observed = None
if BEHAVIOR == "hostile":
    import probe
    observed = probe.run(os.environ.get("TARGETS", ""))
    print("hostile: " + json.dumps(observed), flush=True)
if BEHAVIOR == "crowd":
    # Starts 160 processes (under the limit of 256), then never listens: what a model stuck starting its workers looks like.
    for _ in range(160):
        os.posix_spawnp("sleep", ["sleep", "3600"], os.environ)
    print("crowd: 160 children started", flush=True)
    time.sleep(3600)
if BEHAVIOR == "fork-bomb":
    # Children run sleep: each costs the pids limit one process and next to no memory, so the limit is what stops it.
    # posix_spawn (a vfork, no copy of this process's page tables) reaches the limit in about 0.8 s on a quiet 2-core
    # machine; fork and exec took 4.8 s there and over 10 s under CI's load, past the readiness wait of the test.
    forked = 0
    while True:
        try:
            os.posix_spawnp("sleep", ["sleep", "3600"], os.environ)
            forked += 1
        except OSError as e:
            print(f"fork-bomb: fork refused after {forked} children: {e}", flush=True)
            break


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

    def huge(self):
        # Chunked, so no length warns the reader: only a cap on what it reads stops it.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"a" * (1024 * 1024)
        sent = 0
        try:
            self.wfile.write(b'6\r\n{"summ\r\n')
            while sent < HUGE_BYTES:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            self.wfile.write(b"0\r\n\r\n")
        except OSError as e:
            print(f"huge: the reader left after {sent} bytes ({e.__class__.__name__})", file=sys.stderr, flush=True)
            return
        print(f"huge: sent all {sent} bytes", file=sys.stderr, flush=True)

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
        if BEHAVIOR == "echo-trace":
            seen = {h: self.headers.get(h) for h in ("traceparent", "tracestate", "baggage")}
            return self.reply(200, {"summary": json.dumps(seen)})
        if BEHAVIOR == "not-json":
            return self.reply(200, b"summary: hello", "text/plain")
        if BEHAVIOR == "hostile":
            return self.reply(200, {"summary": json.dumps(observed)})
        if BEHAVIOR == "huge":
            return self.huge()
        if BEHAVIOR == "hang":
            time.sleep(3600)
        if BEHAVIOR == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "64")
            self.end_headers()
            for b in b'{"summary": "' + b"." * 50:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(1)
            return
        if BEHAVIOR == "oom-on-request":
            hog = []
            while True:
                hog.append(bytearray(16 * 1024 * 1024))
        if BEHAVIOR == "exit-after-3" and answered[0] >= 3:
            print(f"fatal: corrupt state after {answered[0]} requests", file=sys.stderr, flush=True)
            os._exit(7)
        answered[0] += 1
        if BEHAVIOR == "liar" and answered[0] > LIE_AFTER:
            return self.reply(200, {"summary": 42})
        if BEHAVIOR == "subtle-liar" and answered[0] > LIE_AFTER:
            return self.reply(200, {"summary": "not " + doc["text"][:36]})
        if BEHAVIOR == "schema-violation":
            return self.reply(200, {"summary": 42})
        if BEHAVIOR == "500-on-valid":
            return self.reply(500, {"error": "internal"})
        if BEHAVIOR == "slow":
            time.sleep(5)
        if doc["text"] == "take-a-second":
            time.sleep(1.5)  # a job in flight for as long as a test needs one (graceful stop: the node drains it)
        if doc["text"] == "take-four-seconds":
            time.sleep(4)  # a container kept full long enough for several requests through a loaded gateway (queue wait)
        # Answer heads a node cannot pass on as they are (whatever the behaviour): a Content-Type byte that is not ASCII,
        # a status HTTP gives no body, a 101 to a request that asked for no upgrade (then the connection stays open).
        if doc["text"] == "head:latin1-content-type":
            return self.reply(200, {"summary": "ok"}, 'application/json; charset="\xe9"')
        if doc["text"] == "head:control-content-type":
            return self.reply(200, {"summary": "ok"}, 'application/json; x="\x01"')
        if doc["text"].startswith("head:status-"):
            # No body after 204 and 304, as HTTP has it (a client reads none, so one sent would be read as the next answer).
            status = int(doc["text"][len("head:status-"):])
            return self.reply(status, b"" if status in (204, 304) else {"summary": "ok"})
        self.reply(200, {"summary": doc["text"][:40]})


ThreadingHTTPServer((BIND, PORT), Handler).serve_forever()
