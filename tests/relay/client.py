#!/usr/bin/env python3
"""Raw HTTP for the relay tests: sends exactly the given bytes (escapes
\\r, \\n, \\xNN written as text) as uid/gid (when given), and prints what came back
until the relay closes or goes quiet.

    client.py SOCKET BYTES [--uid U] [--groups G,...] [--cgroup DIR] [--wait S]
              [--for S] [--then BYTES] [--half-close] [--append-file FILE]

SOCKET: a unix socket path, or tcp:ADDRESS:PORT. --cgroup DIR: the process
joins cgroup DIR first (the hooks judge it there); --groups: its
supplementary groups (none by default).

--for S: read for S seconds in all, printing as bytes come (for streams).
--append-file FILE: FILE's bytes are sent after BYTES (bodies too large for
an argument).
"""
import argparse
import os
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("sock")
ap.add_argument("data")
ap.add_argument("--uid", type=int)
ap.add_argument("--groups", default="")
ap.add_argument("--cgroup")
ap.add_argument("--wait", type=float, default=1.0)
ap.add_argument("--for", dest="total", type=float)
ap.add_argument("--then")
ap.add_argument("--half-close", action="store_true")
ap.add_argument("--append-file")
a = ap.parse_args()


def decode(text):
    return text.encode().decode("unicode_escape").encode("latin-1")


data = decode(a.data)
if a.append_file:
    with open(a.append_file, "rb") as f:
        data += f.read()
then = decode(a.then) if a.then else None
if a.cgroup:
    with open(os.path.join(a.cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
if a.uid is not None:
    os.setgroups([int(g) for g in a.groups.split(",") if g])
    os.setgid(a.uid)
    os.setuid(a.uid)
if a.sock.startswith("tcp:"):
    host, port = a.sock[4:].rsplit(":", 1)
    host = host.strip("[]")
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        s.connect((host, int(port)))
    except PermissionError:
        print("EPERM")
        raise SystemExit(0)
else:
    s = socket.socket(socket.AF_UNIX)
    s.connect(a.sock)
try:
    s.sendall(data)
except (BrokenPipeError, ConnectionResetError):
    pass  # the relay ended the connection early: its answer is read below
if then:
    time.sleep(0.3)
    s.sendall(then)
if a.half_close:
    s.shutdown(socket.SHUT_WR)
if a.total:
    end = time.monotonic() + a.total
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            print("<EOF>", flush=True)
            break
        print(chunk.decode("latin-1"), end="", flush=True)
    raise SystemExit(0)
s.settimeout(a.wait)
out = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            out += b"<EOF>"
            break
        out += chunk
except socket.timeout:
    pass
except ConnectionResetError:
    out += b"<RESET>"
print(out.decode("latin-1"))
