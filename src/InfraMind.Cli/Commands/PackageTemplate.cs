using InfraMind.Serving.Grpc;

namespace InfraMind.Cli.Commands;

/// <summary>
/// The files `infra init` writes: a real lexicon-based sentiment classifier, over REST (Python standard library only) or
/// over the Open Inference Protocol V2 gRPC API (standard library + grpcio + protobuf).
/// </summary>
internal static partial class PackageTemplate
{
    public static IReadOnlyDictionary<string, string> Files(string name, bool grpc)
    {
        var files = Common(name, grpc);
        if (grpc) files[ProtocolDescriptors.FileName] = ProtocolDescriptors.Json();
        return files;
    }

    private static Dictionary<string, string> Common(string name, bool grpc) => new()
    {
        ["Dockerfile"] = Dockerfile(grpc),
        ["model.yaml"] = ModelYaml(name, grpc),
        ["serve.py"] = grpc ? GrpcServer.Replace("{{name}}", name, StringComparison.Ordinal) : RestServer.Replace("{{name}}", name, StringComparison.Ordinal),
        ["lexicon.tsv"] = Lexicon,
        ["hooks/init.sh"] = InitHook,
        ["hooks/health.sh"] = grpc ? GrpcHealthHook : RestHealthHook,
        ["README.md"] = Readme.Replace("{{name}}", name, StringComparison.Ordinal).Replace("{{protocol}}", grpc ? "grpc" : "rest", StringComparison.Ordinal),
        [".dockerignore"] = "README.md\n*.pyc\n__pycache__/\n",
    };

    private static string Dockerfile(bool grpc) => grpc
        ? """
          FROM python:3.10-slim
          # The gRPC server needs grpcio and protobuf: installed from the package index when the base image lacks them
          # (InfraMind's local stand-in for python:3.10-slim has Debian's python3-grpcio and python3-protobuf already).
          RUN python3 -c "import grpc, google.protobuf" 2>/dev/null || pip install --no-cache-dir grpcio protobuf
          WORKDIR /app
          COPY . .
          EXPOSE 50051
          CMD ["python3", "serve.py"]

          """
        : """
          FROM python:3.10-slim
          WORKDIR /app
          COPY . .
          EXPOSE 9000
          CMD ["python3", "serve.py"]

          """;

    private static string ModelYaml(string name, bool grpc) => $"""
        name: {name}
        version: 0.1.0
        entrypoint: serve.py
        runtime: python3.10
        protocol: {(grpc ? "grpc" : "rest")}
        port: {(grpc ? 50051 : 9000)}
        resources:
          cpu: 500m
          memory: 256Mi
          gpu: false
        input_schema:
          type: object
          properties:
            text:
              type: string
              minLength: 1
              maxLength: 20000
          required: [text]
          additionalProperties: false
        output_schema:
          type: object
          properties:
            label:
              type: string
              enum: [positive, negative, neutral]
            score:
              type: number
              minimum: -1
              maximum: 1
            matched:
              type: integer
              minimum: 0
          required: [label, score, matched]
        hooks:
          init: hooks/init.sh
          healthcheck: hooks/health.sh

        """;

    private const string RestServer = """
        #!/usr/bin/env python3
        # {{name}}: a lexicon-based sentiment model served over HTTP, Python standard library only.
        # Contract: POST / with {"text": "..."} answers 200 {"label", "score", "matched"};
        # bad input answers 400 with a JSON error; GET /health answers 200 once the lexicon is loaded.
        import json
        import os
        import re
        import sys
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        PORT = int(os.environ.get("PORT", "9000"))
        MAX_BODY = 1 << 20
        HERE = os.path.dirname(os.path.abspath(__file__))
        WORD = re.compile(r"[a-z']+")
        NEGATORS = {"not", "no", "never", "hardly", "isn't", "wasn't", "don't", "doesn't", "didn't", "can't", "won't"}


        def load_lexicon(path=os.path.join(HERE, "lexicon.tsv")):
            lexicon = {}
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    word, weight = line.split("\t")
                    lexicon[word] = float(weight)
            if not lexicon:
                raise ValueError("empty lexicon")
            return lexicon


        LEXICON = load_lexicon()


        def classify(text):
            words = WORD.findall(text.lower())
            total, matched, negate = 0.0, 0, 0
            for w in words:
                if w in NEGATORS:
                    negate = 3
                    continue
                if w in LEXICON:
                    weight = LEXICON[w]
                    total += -weight if negate else weight
                    matched += 1
                negate = max(0, negate - 1)
            score = 0.0 if matched == 0 else max(-1.0, min(1.0, total / (matched * 3.0)))
            label = "positive" if score > 0.1 else "negative" if score < -0.1 else "neutral"
            return {"label": label, "score": round(score, 4), "matched": matched}


        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, fmt, *args):
                sys.stderr.write("%s\n" % (fmt % args))

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/health":
                    self.reply(200, {"status": "ok", "words": len(LEXICON)})
                else:
                    self.reply(404, {"error": "not found", "hint": "POST / with JSON, or GET /health"})

            def do_POST(self):
                if self.path not in ("/", ""):
                    return self.reply(404, {"error": "not found"})
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                except ValueError:
                    return self.reply(400, {"error": "bad Content-Length"})
                if length <= 0 or length > MAX_BODY:
                    return self.reply(413 if length > MAX_BODY else 400, {"error": "body must be 1 byte to 1 MiB of JSON"})
                raw = self.rfile.read(length)
                try:
                    doc = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    return self.reply(400, {"error": "body is not JSON"})
                if not isinstance(doc, dict) or set(doc) != {"text"} or not isinstance(doc["text"], str) or not doc["text"]:
                    return self.reply(400, {"error": "expected {\"text\": non-empty string} and nothing else"})
                if len(doc["text"]) > 20000:
                    return self.reply(400, {"error": "text longer than 20000 characters"})
                self.reply(200, classify(doc["text"]))


        if __name__ == "__main__":
            if "--check" in sys.argv:
                print("lexicon: %d words" % len(LEXICON))
                sys.exit(0)
            server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
            print("{{name}} listening on %d" % PORT, flush=True)
            server.serve_forever()

        """;

    private const string InitHook = """
        #!/bin/sh
        # Runs once after the container starts: fail early if the model's data is missing or corrupt.
        set -e
        echo "[init] checking the lexicon"
        python3 serve.py --check

        """;

    private const string RestHealthHook = """
        #!/bin/sh
        # Healthy when GET /health answers 200 (python instead of curl: slim images have no curl).
        python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9000/health', timeout=2).status == 200 else 1)"

        """;

    private const string Readme = """
        # {{name}}

        An InfraMind model package ({{protocol}}): a lexicon-based sentiment classifier in plain Python.

        - `model.yaml` declares the name, version, port, resources and the JSON Schemas of input and output.
        - `serve.py` is the model server; `lexicon.tsv` is its data (word, weight from -3 to 3).
        - `hooks/init.sh` runs once after start; `hooks/health.sh` is the health probe.

        ```sh
        infra validate .
        infra test --container .
        ```

        Request: `{"text": "what a great day"}` → answer: `{"label": "positive", "score": 1.0, "matched": 1}`.

        """;

    private const string Lexicon = "# word\tweight (-3 very negative .. 3 very positive)\n" +
        "good\t2\ngreat\t3\nexcellent\t3\namazing\t3\nwonderful\t3\nlove\t3\nlike\t1\nnice\t2\nhappy\t2\nfine\t1\n" +
        "best\t3\nbetter\t2\nfast\t1\nclear\t1\nuseful\t2\nhelpful\t2\nfriendly\t2\nreliable\t2\nbeautiful\t3\nenjoy\t2\n" +
        "bad\t-2\nterrible\t-3\nawful\t-3\nhate\t-3\npoor\t-2\nworse\t-2\nworst\t-3\nslow\t-1\nbroken\t-2\nugly\t-2\n" +
        "sad\t-2\nangry\t-2\nboring\t-2\nconfusing\t-2\nuseless\t-3\nfail\t-2\nfailed\t-2\nwrong\t-2\ncrash\t-2\nbug\t-1\n";
}
