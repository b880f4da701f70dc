"""Start and stop the servers under test on free loopback ports (standard
library only).

    with Memcached() as m, Ringcache(path) as r:       # or RingcacheCluster(path, 3)
        ... m.port, r.port (memcached ports), r.resp_port ...

Every server is stopped on leaving the block, whatever happened inside it
(SIGTERM, then SIGKILL after a few seconds); the processes run in their own
process group and are also killed if this process dies of a signal.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

MEMCACHED = os.environ.get("MEMCACHED", "/usr/bin/memcached")
ITEM_SIZE_MAX = "1m"


def _die_with_parent():
    """In the child before exec: SIGKILL when the harness dies (even of
    SIGKILL), so no server outlives a run."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port, request, want, timeout=0.5):
    """True when the port answers request with a line starting with want
    (`mn` -> `MN` on a memcached port, PING -> +PONG on a RESP one)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(request)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            return data.startswith(want)
    except OSError:
        return False


class ServerError(RuntimeError):
    pass


class _Process:
    name = "server"

    def __init__(self, start_timeout=10.0):
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None          # memcached-protocol port
        self.resp_port = None     # RESP port (ringcache only)
        self.workdir = None
        self.log_path = None

    def argv(self):
        raise NotImplementedError

    def ready(self):
        return answers(self.port, b"mn\r\n", b"MN\r\n") and (
            self.resp_port is None or answers(self.resp_port, b"*1\r\n$4\r\nPING\r\n", b"+PONG"))

    def pick_ports(self):
        self.port = free_port()

    def start(self):
        last = ""
        for _attempt in range(3):
            self.workdir = tempfile.mkdtemp(prefix="mccompat-%s-" % self.name)
            self.log_path = os.path.join(self.workdir, "server.log")
            self.pick_ports()
            with open(self.log_path, "wb") as log:
                try:
                    self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, cwd=self.workdir,
                                                 preexec_fn=_die_with_parent)
                except OSError as e:
                    raise ServerError("%s: cannot start: %s" % (self.name, e)) from None
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.ready():
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
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except (OSError, TypeError):
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

    @property
    def ports(self):
        return [self.port]


class Memcached(_Process):
    """Debian's memcached 1.6, TCP only, 2 threads, -I 1m."""
    name = "memcached"

    def argv(self):
        argv = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-t", "2",
                "-I", ITEM_SIZE_MAX]
        if os.geteuid() == 0:
            argv[1:1] = ["-u", "root"]
        return argv


class Ringcache(_Process):
    name = "ringcache"

    def __init__(self, binary, extra=(), start_timeout=10.0):
        super().__init__(start_timeout)
        self.binary = os.path.abspath(binary)
        self.extra = list(extra)

    def pick_ports(self):
        self.port = free_port()
        self.resp_port = free_port()
        while self.resp_port == self.port:
            self.resp_port = free_port()

    def argv(self):
        return [self.binary, "--port", str(self.resp_port), "--bind", "127.0.0.1",
                "--memcached-port", str(self.port), "--io-threads", "2",
                "--dir", self.workdir, "--daemonize", "no", "--logfile", ""] + self.extra


class RingcacheCluster:
    """A local ringcache cluster of `n` members, replicas 3, each with a
    memcached port. .port / .resp_port are member 1's; .ports lists every
    member's memcached port."""
    name = "ringcache-cluster"

    def __init__(self, binary, n=3, start_timeout=15.0):
        self.binary = binary
        self.n = n
        self.start_timeout = start_timeout
        self.members = []

    def start(self):
        try:
            buses = [free_port() for _ in range(self.n)]
            for i in range(self.n):
                extra = ["--cluster-enabled", "yes", "--cluster-bus-port", str(buses[i]),
                         "--replicas", "3"]
                if i:
                    extra += ["--cluster-seeds", "127.0.0.1:%d" % buses[0]]
                self.members.append(Ringcache(self.binary, extra).start())
            deadline = time.monotonic() + self.start_timeout
            want = b"cluster_known_nodes:%d" % self.n
            for m in self.members:
                while not self._info_has(m.resp_port, want):
                    if time.monotonic() > deadline:
                        raise ServerError("the cluster's members did not agree:\n" + self.log_tail())
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _info_has(port, want):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"CLUSTER INFO\r\n")
                data = b""
                end = time.monotonic() + 1
                while want not in data and time.monotonic() < end:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if data.count(b"\r\n") > 10 and data.endswith(b"\r\n\r\n"):
                        break
                return want in data
        except OSError:
            return False

    @property
    def port(self):
        return self.members[0].port

    @property
    def resp_port(self):
        return self.members[0].resp_port

    @property
    def ports(self):
        return [m.port for m in self.members]

    @property
    def resp_ports(self):
        return [m.resp_port for m in self.members]

    @property
    def proc(self):
        return self.members[0].proc if self.members else None

    def alive(self):
        return bool(self.members) and all(m.alive() for m in self.members)

    def log_tail(self, n=20):
        return "\n".join(m.log_tail(n) for m in self.members)

    def stop(self, timeout=5.0):
        for m in self.members:
            m.stop(timeout)
        self.members = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def install_signal_handlers():
    """SIGTERM/SIGHUP raise KeyboardInterrupt, so `with` blocks and finally
    clauses stop the servers as on Ctrl-C."""
    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def ringcache_for(binary, cluster=0):
    return RingcacheCluster(binary, cluster) if cluster else Ringcache(binary)
