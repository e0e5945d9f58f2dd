"""summarizer-v1: extractive summarisation over REST, Python standard library only.

POST /        {"text": "..."} -> 200 {"summary": "..."}; bad input -> 400 {"error": {...}}
GET  /health  -> 200 {"status": "ok"}

The summary is made of the highest-scoring sentences of the text, in their original order. A sentence
scores by the frequency of its content words (stop words excluded) across the whole text.
"""

import json
import math
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import download_tokenizer

PORT = int(os.environ.get("PORT", "9000"))
MAX_BODY_BYTES = 1024 * 1024
MAX_SUMMARY_SENTENCES = 3
# Seconds a client may take to send its request: a stalled client must not hold a thread for ever.
REQUEST_TIMEOUT = 15


class Tokenizer:
    """The tokenizer file can be rewritten by the init hook while we serve, so it is reloaded when it changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stamp = None
        self._apply(download_tokenizer.load())

    def _apply(self, tok):
        self.word_re = re.compile(tok["word_pattern"])
        self.stop_words = frozenset(tok["stop_words"])
        self.abbreviations = frozenset(tok["abbreviations"])

    def refresh(self):
        try:
            st = os.stat(download_tokenizer.TOKENIZER_FILE)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            return
        with self._lock:
            if stamp != self._stamp:
                self._apply(download_tokenizer.load())
                self._stamp = stamp


TOKENIZER = Tokenizer()

# A candidate sentence end: terminal punctuation, optional closing quotes/brackets, then white space.
_END_RE = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+")


def split_sentences(text, tok):
    sentences = []
    start = 0
    for m in _END_RE.finditer(text):
        before = text[start:m.start()].split()
        last_word = before[-1].lower().strip("\"'(") if before else ""
        punct = text[m.start():m.end()].strip()
        # "Dr. Smith", "e.g. this", "J. R. R. Tolkien": a period after these does not end the sentence.
        if punct == "." and (last_word in tok.abbreviations or (len(last_word) == 1 and last_word.isalpha())):
            continue
        following = text[m.end():m.end() + 1]
        if following and following.islower():
            continue
        sentence = text[start:m.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def summarize(text, tok):
    sentences = split_sentences(" ".join(text.split()), tok)
    if len(sentences) <= 1:
        return sentences[0] if sentences else ""
    words_per_sentence = [tok.word_re.findall(s.lower()) for s in sentences]
    freq = {}
    for words in words_per_sentence:
        for w in words:
            if w not in tok.stop_words:
                freq[w] = freq.get(w, 0) + 1
    if not freq:
        return sentences[0]
    top = max(freq.values())
    scores = []
    for i, words in enumerate(words_per_sentence):
        content = [w for w in words if w not in tok.stop_words]
        # Divided by sqrt(length): long sentences do not win on length alone, short ones need substance.
        score = sum(freq[w] / top for w in content) / math.sqrt(len(content)) if content else 0.0
        scores.append((score, -i))
    keep = min(MAX_SUMMARY_SENTENCES, max(1, math.ceil(len(sentences) / 4)))
    chosen = sorted(-i for _, i in sorted(scores, reverse=True)[:keep])
    return " ".join(sentences[i] for i in chosen)


class BadRequest(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def parse_input(body):
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("invalid_encoding", "request body must be UTF-8 encoded JSON")
    except (ValueError, RecursionError):
        raise BadRequest("invalid_json", "request body is not valid JSON")
    if not isinstance(doc, dict):
        raise BadRequest("invalid_input", "input must be a JSON object like {\"text\": \"...\"}")
    if "text" not in doc:
        raise BadRequest("missing_field", "input must have a \"text\" property (/text)")
    if not isinstance(doc["text"], str):
        raise BadRequest("invalid_type", "/text must be a string")
    return doc["text"]


class Handler(BaseHTTPRequestHandler):
    server_version = "summarizer-v1"
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

    def _error(self, status, code, message):
        self._send_json(status, {"error": {"code": code, "message": message}})

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
        if length < 0:
            self.close_connection = True
            raise BadRequest("invalid_length", "Content-Length is negative")
        if length > MAX_BODY_BYTES:
            # The unread body would be taken for the next request: drop the connection instead.
            self.close_connection = True
            raise BadRequest("body_too_large", "request body is larger than %d bytes" % MAX_BODY_BYTES)
        return self.rfile.read(length)

    def do_POST(self):
        try:
            body = self._read_body()
            if self.path.split("?", 1)[0] != "/":
                self._error(404, "not_found", "POST inference requests to /")
                return
            text = parse_input(body)
            TOKENIZER.refresh()
            self._send_json(200, {"summary": summarize(text, TOKENIZER)})
        except BadRequest as e:
            self._error(e.status, e.code, e.message)
        except Exception as e:  # noqa: BLE001 - an input we cannot process is the client's 4xx, never a crash
            self.log_message("cannot process input: %r", e)
            self._error(400, "unprocessable_input", "the input could not be processed")

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/":
            self._error(405, "method_not_allowed", "use POST / with a JSON body like {\"text\": \"...\"}")
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
    print("[serve] summarizer-v1 listening on 0.0.0.0:%d" % PORT, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
