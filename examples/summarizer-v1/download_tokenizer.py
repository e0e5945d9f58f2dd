"""Builds the tokenizer file that serve.py uses, from the word lists shipped in data/.

The SPEC's init hook "downloads a tokenizer"; a model container has no network egress, so the
"download" reads the package's own data and writes tokenizer.json. serve.py builds the same
tokenizer in memory when the file is not there yet (the server starts before the init hook runs).
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "data")
TOKENIZER_FILE = os.environ.get("TOKENIZER_FILE", os.path.join(HERE, "tokenizer.json"))
FORMAT_VERSION = 1
WORD_PATTERN = r"[a-z0-9]+(?:['\-][a-z0-9]+)*"


def _read_list(name):
    path = os.path.join(DATA_DIR, name)
    with open(path, "rb") as f:
        raw = f.read()
    words = []
    for line in raw.decode("utf-8").splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            words.append(line)
    return sorted(set(words)), hashlib.sha256(raw).hexdigest()


def build():
    stop_words, stop_digest = _read_list("stopwords.txt")
    abbreviations, abbr_digest = _read_list("abbreviations.txt")
    return {
        "format_version": FORMAT_VERSION,
        "word_pattern": WORD_PATTERN,
        "stop_words": stop_words,
        "abbreviations": abbreviations,
        "sources": {"stopwords.txt": stop_digest, "abbreviations.txt": abbr_digest},
    }


def load():
    """The tokenizer from tokenizer.json when it is there and current, else built from data/."""
    try:
        with open(TOKENIZER_FILE, "r", encoding="utf-8") as f:
            tok = json.load(f)
        if tok.get("format_version") == FORMAT_VERSION:
            return tok
    except (OSError, ValueError):
        pass
    return build()


def main():
    tok = build()
    tmp = TOKENIZER_FILE + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(tok, f, indent=1, sort_keys=True)
        # Atomic so that a server reading it at the same moment never sees half a file.
        os.replace(tmp, TOKENIZER_FILE)
    except OSError as e:
        print("[init] cannot write %s: %s" % (TOKENIZER_FILE, e), file=sys.stderr)
        return 1
    print("[init] tokenizer ready: %d stop words, %d abbreviations -> %s"
          % (len(tok["stop_words"]), len(tok["abbreviations"]), TOKENIZER_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
