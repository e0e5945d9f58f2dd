#!/usr/bin/env python3
# What a hostile model tries before it serves: to reach each target the test names in TARGETS, and to see what
# network it has. TARGETS is "name=kind:address:port" separated by spaces; kinds: tcp4, tcp6, udp4, udp6 (an address
# and port), unix (an abstract unix socket name, no port), raw4 (an address, no port). Every attempt is bounded by a
# 2 s timeout; with no network a connection to another host fails before any packet is sent (ENETUNREACH). Targets
# named "offsite-*" lie off the machine: they are tried only when the namespace has nothing but a loopback and no route,
# so that even a broken isolation never sends a packet there (they are reported "skipped: has a network" instead).
import errno
import os
import socket


def attempt(kind, address, port):
    family = {"tcp4": socket.AF_INET, "udp4": socket.AF_INET, "raw4": socket.AF_INET,
              "tcp6": socket.AF_INET6, "udp6": socket.AF_INET6, "unix": socket.AF_UNIX}[kind]
    socktype = {"udp4": socket.SOCK_DGRAM, "udp6": socket.SOCK_DGRAM, "raw4": socket.SOCK_RAW}.get(kind, socket.SOCK_STREAM)
    try:
        s = socket.socket(family, socktype, socket.IPPROTO_ICMP if kind == "raw4" else 0)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    s.settimeout(2)
    try:
        if kind == "unix":
            s.connect("\0" + address)
        elif socktype == socket.SOCK_STREAM:
            s.connect((address, port))
        else:
            s.sendto(b"\x08\x00\xf7\xff\x00\x00\x00\x00" if kind == "raw4" else b"x", (address, port))
            return "sent"
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def read(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError as e:
        return ["error: " + errno.errorcode.get(e.errno, str(e.errno))]


def run(targets):
    interfaces = sorted(os.listdir("/sys/class/net"))
    routes = read("/proc/net/route")[1:]
    routes6 = [r for r in read("/proc/net/ipv6_route") if not r.endswith(" lo")]
    isolated = interfaces == ["lo"] and not routes and not routes6
    results = {}
    for target in targets.split():
        name, spec = target.split("=", 1)
        if name.startswith("offsite-") and not isolated:
            results[name] = "skipped: has a network"
            continue
        kind, rest = spec.split(":", 1)
        if kind in ("unix", "raw4"):
            address, port = rest, 0
        else:
            address, port = rest.rsplit(":", 1)
        results[name] = attempt(kind, address.strip("[]"), int(port))
    # Routes: everything but the header line (IPv4) and the loopback's own (IPv6): none with only a loopback.
    return {"results": results, "interfaces": interfaces, "routes": routes, "routes6": routes6}
