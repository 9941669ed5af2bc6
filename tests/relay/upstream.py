#!/usr/bin/env python3
"""A stand-in Docker API on a unix socket for the relay tests: records every
request that reaches it, one line each (METHOD TARGET BODY_BYTES), so that
the tests assert what the relay let through, not what it says. Answers 200
with a JSON body; `Upgrade: tcp` gets dockerd's 101 and an echo; GET
/events streams a line every 0.1 s until the client goes; a request with
`stall=1` in its query gets no answer at all (an engine that hangs).
Containers and execs are remembered as dockerd would (for `own`): a create
(`?name=N`) records the body's Labels and answers its 64-digit id; inspect
(`GET /containers/X/json`, by name, id or id prefix) and `GET
/exec/ID/json` answer what was recorded, else 404. A container named
`foreign` exists from the start, without labels (made by someone else),
and `vis-1` and `hid-1` for `visible` (inspect shows an Env); every
network exists (`GET /networks/NAME`), without labels. GET
/containers/json lists them all; GET /events (not /x/events) streams
container events of vis-N and hid-N in turn (other paths ending in /events,
`{"n":N}`); `bad=1` in a query gets an
answer that is not JSON, `gzip=1` one that says Content-Encoding: gzip.

    upstream.py SOCKET LOG       (SOCKET: a unix path, or tcp:ADDRESS:PORT)
"""
import hashlib
import http.server
import json
import os
import urllib.parse
import socketserver
import sys
import time


CONTAINERS = {n: {"Id": hashlib.sha256(n.encode()).hexdigest(), "Name": n, "Labels": {}}
              for n in ("foreign", "vis-1", "hid-1")}
EXECS = {}


def find_container(ref):
    for name, c in CONTAINERS.items():
        if ref == name or ref == c["Id"] or (len(ref) >= 3 and c["Id"].startswith(ref)):
            return c
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        data = self.body()
        with open(sys.argv[2], "a") as log:
            log.write("%s %s %d\n" % (self.command, self.path, len(data)))
        if self.headers.get("Upgrade") == "tcp":
            self.send_response(101, "UPGRADED")
            self.send_header("Content-Type", "application/vnd.docker.raw-stream")
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "tcp")
            self.end_headers()
            self.wfile.flush()
            got = b""
            while True:  # echo until the client's half-close
                chunk = self.connection.recv(4096)
                if not chunk:
                    break
                got += chunk
                self.wfile.write(chunk)
                self.wfile.flush()
            self.connection.shutdown(1)
            self.close_connection = True
            return
        if "stall=1" in self.path:
            time.sleep(600)
            self.close_connection = True
            return
        if urllib.parse.urlsplit(self.path).path.endswith("/events"):
            path = urllib.parse.urlsplit(self.path).path
            typed = path == "/events" or (path.startswith("/v1.") and path.count("/") == 2)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(600):
                    line = b'{"n":%d}\n' % i
                    if typed:
                        name = b"vis-%d" % i if i % 2 else b"hid-%d" % i
                        line = (b'{"Type":"container","Action":"tick","Actor":{"ID":"c%d",'
                                b'"Attributes":{"name":"%s"}},"n":%d}\n' % (i, name, i))
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            self.close_connection = True
            return
        out = b'{"ok":true}\n'
        status = 200
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")[2:] if url.path.startswith("/v1.") else url.path.split("/")[1:]
        query = urllib.parse.parse_qs(url.query)
        if "bad" in query:
            out = b"<html>not json</html>"
        elif self.command == "GET" and parts == ["containers", "json"]:
            out = json.dumps([{"Id": c["Id"], "Names": ["/" + n], "Labels": c["Labels"]}
                              for n, c in CONTAINERS.items()]).encode()
        elif self.command == "POST" and parts == ["containers", "create"]:
            name = urllib.parse.parse_qs(url.query).get("name", [""])[0]
            labels = (json.loads(data or b"{}").get("Labels") or {})
            cid = hashlib.sha256(name.encode()).hexdigest()
            CONTAINERS[name] = {"Id": cid, "Name": name, "Labels": labels}
            out = json.dumps({"Id": cid, "Warnings": []}).encode()
        elif self.command == "GET" and len(parts) == 3 and parts[0] == "containers" and parts[2] == "json":
            c = find_container(parts[1])
            if c:
                out = json.dumps({"Id": c["Id"], "Name": "/" + c["Name"],
                                  "Config": {"Labels": c["Labels"], "Env": ["SECRET=s3cret"]}}).encode()
            else:
                status, out = 404, json.dumps({"message": "No such container: " + parts[1]}).encode()
        elif self.command == "GET" and len(parts) == 2 and parts[0] == "networks":
            out = json.dumps({"Id": hashlib.sha256(b"net-" + parts[1].encode()).hexdigest(),
                              "Name": parts[1], "Labels": {}}).encode()
        elif self.command == "POST" and len(parts) == 3 and parts[0] == "containers" and parts[2] == "exec":
            c = find_container(parts[1])
            eid = hashlib.sha256(self.path.encode() + str(len(EXECS)).encode()).hexdigest()
            if c:
                EXECS[eid] = c["Id"]
            out = json.dumps({"Id": eid}).encode()
        elif self.command == "GET" and len(parts) == 3 and parts[0] == "exec" and parts[2] == "json":
            if parts[1] in EXECS:
                out = json.dumps({"ID": parts[1], "ContainerID": EXECS[parts[1]]}).encode()
            else:
                status, out = 404, b'{"message":"No such exec instance"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if "gzip" in query:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


if sys.argv[1].startswith("tcp:"):
    host, port = sys.argv[1][4:].rsplit(":", 1)
    server = TCPServer((host, int(port)), Handler)
else:
    if os.path.exists(sys.argv[1]):
        os.unlink(sys.argv[1])
    server = Server(sys.argv[1], Handler)
    os.chmod(sys.argv[1], 0o600)
print("listening", flush=True)
server.serve_forever()
