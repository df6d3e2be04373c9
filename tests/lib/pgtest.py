"""A throwaway PostgreSQL 15 server for Python tests (the twin of tests/lib/pgtest.h).

    pg = pgtest.Server()          # initdb + start on 127.0.0.1:<free port>, fsync on
    pg.url                        # postgresql://postgres@127.0.0.1:PORT/postgres
    pg.psql("SELECT 1")           # -> "1"
    pg.restart("immediate"); pg.stop("fast"); pg.resume(); pg.terminate("hopwire-store-%")
    pg.destroy()                  # also at exit and on SIGTERM/SIGINT

A guardian (sh in its own session, reading a pipe only this process holds) stops the server
by its data dir and removes the dir if this process dies without destroy() (SIGKILL, os._exit).

As root the server runs as the `postgres` user of the Debian package (or `pgtest`, created
with useradd when neither exists) via runuser: initdb refuses root. Settings go into
postgresql.conf (pg_ctl -o would be forgotten by a plain start).
"""
import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PGBIN = os.environ.get("HOP_PGBIN", "/usr/lib/postgresql/15/bin")
_servers = []


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _user():
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgtest"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "pgtest"], check=True, timeout=30)
    return pwd.getpwnam("pgtest")


class Server:
    def __init__(self):
        self.user = _user()
        self.dir = tempfile.mkdtemp(prefix="hop-pgtest-py.")
        self.data = os.path.join(self.dir, "data")
        self.postmaster = 0
        _servers.append(self)
        if self.user:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.dir, 0o700)
        as_user = "/usr/sbin/runuser -u %s -- " % self.user.pw_name if self.user else ""
        script = ("read x; [ \"$x\" = q ] && exit 0; %s%s/pg_ctl -D '%s' -m immediate -w -t 20 "
                  "stop; p=$(head -n 1 '%s/postmaster.pid' 2>/dev/null); "
                  "[ -n \"$p\" ] && kill -9 \"$p\"; rm -rf '%s'"
                  % (as_user, PGBIN, self.data, self.data, self.dir))
        self.guardian = subprocess.Popen(["/bin/sh", "-c", script], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
        rc, out = self._run([PGBIN + "/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
                            120)
        if rc != 0:
            self.destroy()
            raise RuntimeError("initdb failed (%d): %s" % (rc, out))
        last = ""
        for _ in range(5):  # the port probe races with other programs
            self.port = _free_port()
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                f.write("\n# pgtest.py\nlisten_addresses = '127.0.0.1'\nport = %d\n"
                        "unix_socket_directories = '%s'\nfsync = on\nsynchronous_commit = on\n"
                        "shared_buffers = 32MB\nmax_connections = 40\n" % (self.port, self.dir))
            rc, last = self._pg_ctl("start")
            if rc == 0:
                self.url = "postgresql://postgres@127.0.0.1:%d/postgres" % self.port
                return
        self.destroy()
        raise RuntimeError("pg_ctl start failed: " + last)

    def _run(self, argv, timeout):
        if self.user:
            argv = ["/usr/sbin/runuser", "-u", self.user.pw_name, "--"] + argv
        p = subprocess.run(argv, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode()

    def _read_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                self.postmaster = int(f.readline())
        except (OSError, ValueError):
            self.postmaster = 0

    def _pg_ctl(self, action, mode=None):
        argv = [PGBIN + "/pg_ctl", "-D", self.data, "-w", "-t", "30"]
        if mode:
            argv += ["-m", mode]
        if action != "stop":
            argv += ["-l", os.path.join(self.dir, "log")]
        rc, out = self._run(argv + [action], 60)
        self._read_pid()
        return rc, out

    def stop(self, mode="fast"):
        return self._pg_ctl("stop", mode)[0] == 0

    def resume(self):
        return self._pg_ctl("start")[0] == 0

    def restart(self, mode="fast"):
        return self._pg_ctl("restart", mode)[0] == 0

    def psql(self, sql):
        p = subprocess.run([PGBIN + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d",
                            "postgres", "-c", sql], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, p.stderr.decode()))
        return p.stdout.decode().strip()

    def terminate(self, app_like):
        assert "'" not in app_like
        return int(self.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE backend_type = 'client backend' AND application_name "
                             "LIKE '%s'" % app_like))

    def destroy(self):
        if self not in _servers:
            return
        _servers.remove(self)
        self._read_pid()
        if self.postmaster:
            try:
                self._pg_ctl("stop", "fast")
            except subprocess.TimeoutExpired:
                pass
            self._read_pid()
        if self.postmaster:  # last resort: immediate shutdown, then kill
            for sig in (signal.SIGQUIT, signal.SIGKILL):
                try:
                    os.kill(self.postmaster, sig)
                except ProcessLookupError:
                    break
                time.sleep(1)
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            self.guardian.stdin.write(b"q\n")
            self.guardian.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        self.guardian.wait(timeout=30)


def _cleanup(*_):
    for s in list(_servers):
        s.destroy()


atexit.register(_cleanup)
for _sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_sig, lambda s, f: (_cleanup(), os._exit(128 + s)))
