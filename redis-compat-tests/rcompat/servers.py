"""Start and stop the servers under test on free loopback ports.

    with ServerProcess.redis() as r, ServerProcess.ringcache(path) as c:
        ... r.port, c.port ...

Both are stopped on exit from the block, whatever happened inside it: SIGTERM,
then SIGKILL if the process is still there after a few seconds.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            # +PONG, or NOAUTH when a password is set: either way it serves.
            return data.startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class ServerError(RuntimeError):
    pass


class ServerProcess:
    def __init__(self, name, argv_fn, start_timeout=10.0):
        self.name = name
        self.argv_fn = argv_fn          # port, workdir -> argv
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.workdir = None
        self.log_path = None

    @classmethod
    def redis(cls, binary=REDIS_SERVER, extra=()):
        def argv(port, wd):
            return [binary, "--port", str(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", wd,
                    "--daemonize", "no", "--logfile", ""] + list(extra)
        return cls("redis-server", argv)

    @classmethod
    def ringcache(cls, binary, extra=()):
        binary = os.path.abspath(binary)

        def argv(port, wd):
            return [binary, "--port", str(port), "--bind", "127.0.0.1",
                    "--dir", wd, "--daemonize", "no", "--logfile", ""] + list(extra)
        return cls("ringcache-server", argv)

    def start(self):
        last = ""
        for _attempt in range(3):
            self.workdir = tempfile.mkdtemp(prefix="compat-%s-" % self.name)
            self.log_path = os.path.join(self.workdir, "server.log")
            self.port = free_port()
            log = open(self.log_path, "wb")
            try:
                self.proc = subprocess.Popen(self.argv_fn(self.port, self.workdir),
                                             stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.workdir)
            except OSError as e:
                log.close()
                raise ServerError("%s: cannot start: %s" % (self.name, e)) from None
            log.close()
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if ping(self.port):
                    return self
                time.sleep(0.05)
            last = self.log_tail()
            self.stop()
            if "in use" not in last:   # only a lost port race is worth a retry
                break
        raise ServerError("%s did not start:\n%s" % (self.name, last))

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout)
            self.proc = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class ClusterProcess:
    """A local ringcache cluster of `members` with replicas 3, used like one
    server: .port is the first member's; every member holds the keys, and
    the client checks run against it exactly as against one server."""

    def __init__(self, binary, members=3, start_timeout=10.0):
        self.binary = os.path.abspath(binary)
        self.members = []
        self.n = members
        self.start_timeout = start_timeout
        self.name = "ringcache-cluster"
        self.port = None

    def start(self):
        buses = [free_port() for _ in range(self.n)]
        for i in range(self.n):
            extra = ["--cluster-enabled", "yes", "--cluster-bus-port", str(buses[i]),
                     "--replicas", "3"]
            if i:
                extra += ["--cluster-seeds", "127.0.0.1:%d" % buses[0]]
            self.members.append(ServerProcess.ringcache(self.binary, extra).start())
        self.port = self.members[0].port
        deadline = time.monotonic() + self.start_timeout
        want = b"cluster_known_nodes:%d" % self.n
        for m in self.members:
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", m.port), timeout=1) as s:
                        s.sendall(b"CLUSTER INFO\r\n")
                        time.sleep(0.02)
                        if want in s.recv(65536):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerError("the cluster's members did not agree")
                time.sleep(0.05)
        return self

    @property
    def proc(self):
        """The first member's process (the one clients talk to)."""
        return self.members[0].proc if self.members else None

    def log_tail(self, n=20):
        return "\n".join(m.log_tail(n) for m in self.members)

    def alive(self):
        return all(m.alive() for m in self.members)

    def stop(self, timeout=5.0):
        for m in self.members:
            m.stop(timeout)
        self.members = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
