"""Shared helpers for script tests: start processes on loopback, stop them by pid."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

CLI = os.environ.get("HOPWIRE", "./build/hopwire")
SANITIZE = os.environ.get("HOP_SANITIZE", "0") in ("1", "ON", "TRUE", "true")


class Proc:
    """A child process; stop() by pid (SIGTERM, then SIGKILL)."""

    def __init__(self, args, wait_listen=True, env=None, timeout=10.0):
        self.args = args
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=None, env=env)
        self.port = None
        if wait_listen:
            deadline = time.time() + timeout
            while time.time() < deadline:
                line = self.p.stdout.readline().decode(errors="replace")
                if not line:
                    break
                m = re.match(r"listening on .*:(\d+)\s*$", line)
                if m:
                    self.port = int(m.group(1))
                    break
            if self.port is None:
                self.stop()
                raise RuntimeError("%s did not report a listening port" % args)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def serve(*extra):
    """hopwire serve on 127.0.0.1:0; returns a Proc with .port."""
    return Proc([CLI, "serve", "--listen", "127.0.0.1:0", *extra])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)
