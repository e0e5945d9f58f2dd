"""A small closed-loop load generator for bench/lab.sh: CONCURRENCY threads, each with one keep-alive connection,
send REQUESTS POSTs of {"text": ...} in all to URL; prints one JSON line: requests, seconds, rps, p50/p90/p99 ms, errors.
The same generator (CPython, stdlib only) drives every path, so their ratio is fair even where it is the bottleneck.
An https URL carries the server's pin after it (#sha256:HEX of its certificate's SubjectPublicKeyInfo, the lab's
tlsFingerprint): the self-signed certificate is taken only when its key is that one."""
import hashlib
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse


def _tlv(der, at):
    """(start of value, end of value) of the DER element at offset AT."""
    length, at = der[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        length, at = int.from_bytes(der[at:at + count], "big"), at + count
    return at, at + length


def spki_sha256(der):
    """sha256:HEX of a certificate's SubjectPublicKeyInfo: the 7th element of tbsCertificate (6th without a version)."""
    start, _ = _tlv(der, 0)       # Certificate
    at, _ = _tlv(der, start)      # tbsCertificate
    skip = 6 if der[at] == 0xA0 else 5
    for _ in range(skip):
        at = _tlv(der, at)[1]
    return "sha256:" + hashlib.sha256(der[at:_tlv(der, at)[1]]).hexdigest()


def connector(target, pin):
    if target.scheme != "https":
        return lambda: http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE   # no CA: the pin below is the check

    def connect():
        conn = http.client.HTTPSConnection(target.hostname, target.port, timeout=10, context=context)
        conn.connect()
        presented = spki_sha256(conn.sock.getpeercert(binary_form=True))
        if presented != pin:
            raise SystemExit("the server at %s presented the TLS key %s, not the pinned %s" % (target.netloc, presented, pin))
        return conn
    return connect


def main():
    url, requests, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    target = urllib.parse.urlsplit(url)
    path = target.path or "/"
    new_connection = connector(target, target.fragment or None)
    body = json.dumps({"text": "The lab measures one hop. A gateway passes the job to a node on another host."}).encode()
    headers = {"Content-Type": "application/json"}
    latencies, errors, lock = [], [0], threading.Lock()
    counter = iter(range(requests))

    def worker():
        conn = new_connection()
        mine = []
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            start = time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = new_connection()
            if ok:
                mine.append(time.perf_counter() - start)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 3) if latencies else None

    print(json.dumps({"requests": requests, "seconds": round(seconds, 3), "rps": round(len(latencies) / seconds, 1),
                      "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99), "errors": errors[0]}))


if __name__ == "__main__":
    main()
