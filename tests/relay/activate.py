#!/usr/bin/env python3
"""Socket activation as systemd does it, for the tests: binds and listens on
a unix socket, then runs COMMAND with it as fd 3 (LISTEN_FDS=1, LISTEN_PID
its pid), and runs it again each time it exits (Restart=always), so the
socket, its inode and its queue outlive every run. Ends when STOPFILE
exists after a run ended, or on SIGTERM (ending the command first).

    activate.py SOCKET STOPFILE COMMAND [ARGS...]
"""
import os
import signal
import socket
import sys
import time

path, stop, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o666)
s.listen(128)
child = 0


def on_term(*_):
    if child:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)
    raise SystemExit(0)


signal.signal(signal.SIGTERM, on_term)
print("listening", flush=True)
while not os.path.exists(stop):
    child = os.fork()
    if child == 0:
        os.dup2(s.fileno(), 3)
        os.set_inheritable(3, True)
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()),
                   LISTEN_FDNAMES="relay")
        os.execvpe(cmd[0], cmd, env)
    os.waitpid(child, 0)
    child = 0
    time.sleep(0.2)
