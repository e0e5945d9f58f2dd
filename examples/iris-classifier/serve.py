"""iris-classifier: Iris species from flower measurements over REST, Python standard library only.

POST /        {"measurements": {"sepal_length": 5.1, ...}, "unit": "cm", "method": "knn", "k": 5,
               "candidates": ["setosa", "virginica"]}
              -> 200 {"label": ..., "probabilities": {...}, "ranking": [...], "method": ...}
              bad input -> 400 {"error": {"code", "message", "pointer"}}
GET  /health  -> 200 {"status": "ok"}

The checks below follow model.yaml's input_schema by hand: the image has no JSON Schema library.
"""

import json
import math
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import iris_model

PORT = int(os.environ.get("PORT", "9000"))
MAX_BODY_BYTES = 64 * 1024
REQUEST_TIMEOUT = 15
MAX_MEASUREMENT = 1000
UNITS = {"cm": 1.0, "mm": 0.1}
METHODS = ("naive_bayes", "knn")
INPUT_KEYS = ("measurements", "unit", "method", "k", "candidates")


class Model:
    """model.json can be rewritten by the init hook while we serve, so it is reloaded when it changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stamp = None
        self.current = iris_model.load()

    def get(self):
        try:
            st = os.stat(iris_model.MODEL_FILE)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            return self.current
        with self._lock:
            if stamp != self._stamp:
                self.current = iris_model.load()
                self._stamp = stamp
            return self.current


MODEL = Model()


class BadRequest(Exception):
    def __init__(self, code, message, pointer=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.pointer = pointer


def _is_number(v):
    # bool is an int in Python but not a number in JSON Schema.
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_input(body):
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("invalid_encoding", "request body must be UTF-8 encoded JSON")
    except (ValueError, RecursionError):
        raise BadRequest("invalid_json", "request body is not valid JSON")
    if not isinstance(doc, dict):
        raise BadRequest("invalid_type", "input must be a JSON object", "")
    for key in doc:
        if key not in INPUT_KEYS:
            raise BadRequest("unknown_property", "unknown property %r; allowed: %s" % (key, ", ".join(INPUT_KEYS)),
                             "/" + key.replace("~", "~0").replace("/", "~1"))
    if "measurements" not in doc:
        raise BadRequest("missing_field", "input must have \"measurements\"", "/measurements")
    m = doc["measurements"]
    if not isinstance(m, dict):
        raise BadRequest("invalid_type", "measurements must be an object", "/measurements")
    for key in m:
        if key not in iris_model.FEATURES:
            raise BadRequest("unknown_property", "unknown measurement %r; allowed: %s"
                             % (key, ", ".join(iris_model.FEATURES)),
                             "/measurements/" + key.replace("~", "~0").replace("/", "~1"))
    x = []
    for name in iris_model.FEATURES:
        pointer = "/measurements/" + name
        if name not in m:
            raise BadRequest("missing_field", "measurements must have %s" % name, pointer)
        v = m[name]
        if not _is_number(v) or not math.isfinite(v):
            raise BadRequest("invalid_type", "%s must be a finite number" % name, pointer)
        if v < 0 or v > MAX_MEASUREMENT:
            raise BadRequest("out_of_range", "%s must be between 0 and %d" % (name, MAX_MEASUREMENT), pointer)
        x.append(float(v))

    unit = doc.get("unit", "cm")
    if not isinstance(unit, str) or unit not in UNITS:
        raise BadRequest("invalid_enum", "unit must be one of: %s" % ", ".join(UNITS), "/unit")
    method = doc.get("method", "naive_bayes")
    if not isinstance(method, str) or method not in METHODS:
        raise BadRequest("invalid_enum", "method must be one of: %s" % ", ".join(METHODS), "/method")
    k = doc.get("k", 5)
    if not _is_number(k) or (isinstance(k, float) and not k.is_integer()):
        raise BadRequest("invalid_type", "k must be an integer", "/k")
    k = int(k)
    if k < 1 or k > 15:
        raise BadRequest("out_of_range", "k must be between 1 and 15", "/k")
    candidates = doc.get("candidates", list(iris_model.CLASSES))
    if not isinstance(candidates, list):
        raise BadRequest("invalid_type", "candidates must be an array", "/candidates")
    if not 1 <= len(candidates) <= 3:
        raise BadRequest("invalid_length", "candidates must have 1 to 3 items", "/candidates")
    for i, c in enumerate(candidates):
        if not isinstance(c, str) or c not in iris_model.CLASSES:
            raise BadRequest("invalid_enum", "candidates items must be one of: %s" % ", ".join(iris_model.CLASSES),
                             "/candidates/%d" % i)
    if len(set(candidates)) != len(candidates):
        raise BadRequest("not_unique", "candidates must not repeat a species", "/candidates")
    x = [v * UNITS[unit] for v in x]
    return x, method, k, candidates


class Handler(BaseHTTPRequestHandler):
    server_version = "iris-classifier"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True
    timeout = REQUEST_TIMEOUT

    def log_message(self, fmt, *args):
        sys.stderr.write("[serve] %s %s\n" % (self.address_string(), fmt % args))

    def _send_json(self, status, doc):
        body = json.dumps(doc).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status, code, message, pointer=None):
        err = {"code": code, "message": message}
        if pointer is not None:
            err["pointer"] = pointer
        self._send_json(status, {"error": err})

    def _read_body(self):
        raw_length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or raw_length is None:
            # Without a length we cannot know where the body ends on a kept-alive connection.
            self.close_connection = True
            raise BadRequest("length_required", "send the JSON body with a Content-Length header")
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise BadRequest("invalid_length", "Content-Length is not a number")
        if length < 0 or length > MAX_BODY_BYTES:
            # The unread body would be taken for the next request: drop the connection instead.
            self.close_connection = True
            raise BadRequest("body_too_large", "request body must be 0 to %d bytes" % MAX_BODY_BYTES)
        return self.rfile.read(length)

    def do_POST(self):
        try:
            body = self._read_body()
            if self.path.split("?", 1)[0] != "/":
                self._error(404, "not_found", "POST inference requests to /")
                return
            x, method, k, candidates = parse_input(body)
            self._send_json(200, iris_model.predict(MODEL.get(), x, method, k, candidates))
        except BadRequest as e:
            self._error(400, e.code, e.message, e.pointer)
        except Exception as e:  # noqa: BLE001 - an input we cannot process is the client's 4xx, never a crash
            self.log_message("cannot process input: %r", e)
            self._error(400, "unprocessable_input", "the input could not be processed")

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/":
            self._error(405, "method_not_allowed", "use POST / with a JSON body like {\"measurements\": {...}}")
        else:
            self._error(404, "not_found", "no such path: %s" % path)

    do_HEAD = do_GET

    def _not_allowed(self):
        self.close_connection = True
        self._error(405, "method_not_allowed", "use POST / or GET /health")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


def main():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        # As PID 1 in a container SIGTERM has no default action: without this `docker stop` waits for its kill.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("[serve] iris-classifier listening on 0.0.0.0:%d" % PORT, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
