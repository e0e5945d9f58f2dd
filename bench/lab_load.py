"""A small closed-loop load generator for bench/lab.sh: CONCURRENCY threads, each with one keep-alive connection,
send REQUESTS POSTs of {"text": ...} in all to URL; prints one JSON line: requests, seconds, rps, p50/p90/p99 ms, errors.
The same generator (CPython, stdlib only) drives every path, so their ratio is fair even where it is the bottleneck."""
import http.client
import json
import sys
import threading
import time
import urllib.parse


def main():
    url, requests, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    target = urllib.parse.urlsplit(url)
    path = target.path or "/"
    body = json.dumps({"text": "The lab measures one hop. A gateway passes the job to a node on another host."}).encode()
    headers = {"Content-Type": "application/json"}
    latencies, errors, lock = [], [0], threading.Lock()
    counter = iter(range(requests))

    def worker():
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
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
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
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
