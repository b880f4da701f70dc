"""The cluster under test and the faults applied to it.

Two layouts, one interface:

- NetnsCluster: every member in its own network namespace, joined by veth
  pairs to a bridge in a namespace of its own; the harness itself moves into
  the bridge namespace (setns), so clients reach members over the bridge and
  no address exists outside the test's namespaces. Partitions are real link
  cuts: a link set down on the bridge, or blackhole routes between members.
- LoopbackCluster: members on 127.0.0.1 with distinct ports, for a machine
  where namespaces cannot be created; only process faults (kill -9 and
  restart, SIGSTOP/SIGCONT) exist there.

Every namespace, process and directory the cluster creates is removed by
close(), which the caller runs in a finally block; namespaces are named
with PREFIX so a run that was killed outright is cleaned up by the next.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time

PREFIX = "rcfault"
CLONE_NEWNET = 0x40000000
SUBNET = "10.199.0"
BRIDGE_IP = SUBNET + ".254"
LIBC = ctypes.CDLL(None, use_errno=True)


def sh(*argv, check=True):
    """Run a command quietly; its stderr is the error message."""
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stderr.strip()))
    return p.returncode == 0


def netns_usable():
    """(True, "") if this process may create namespaces, else (False, why)."""
    if os.geteuid() != 0:
        return False, "not root"
    if shutil.which("ip") is None:
        return False, "iproute2 (ip) is not installed"
    probe = "%s-probe-%d" % (PREFIX, os.getpid())
    if not sh("ip", "netns", "add", probe, check=False):
        return False, "ip netns add failed (no privilege in this container?)"
    ok = sh("ip", "netns", "exec", probe, "ip", "link", "add", "p0", "type", "veth",
            "peer", "name", "p1", check=False)
    sh("ip", "netns", "del", probe, check=False)
    return (True, "") if ok else (False, "cannot create veth pairs")


def netem_usable():
    """netem needs the sch_netem kernel module; tbf is the fallback."""
    probe = "%s-probe-%d" % (PREFIX, os.getpid())
    sh("ip", "netns", "add", probe, check=False)
    try:
        if sh("ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root",
              "netem", "delay", "1ms", check=False):
            return "netem"
        if sh("ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root",
              "tbf", "rate", "1mbit", "burst", "4kb", "latency", "50ms", check=False):
            return "tbf"
        return None
    finally:
        sh("ip", "netns", "del", probe, check=False)


def remove_stale_namespaces():
    """Namespaces a killed run of ours left behind (the prefix is ours)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX + "-"):
            # its processes first: a namespace lives while a process is in it
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            sh("ip", "netns", "del", name, check=False)


def ping(host, port, timeout=0.3):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def command(host, port, line, timeout=2.0):
    """One inline command's raw reply text ('' when unreachable)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(line.encode() + b"\r\n")
            data = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
                if data.startswith((b"+", b"-", b":")) and data.endswith(b"\r\n"):
                    break
                if data.startswith(b"$"):
                    nl = data.find(b"\r\n")
                    if nl > 0 and len(data) >= nl + 2 + int(data[1:nl]) + 2:
                        break
            return data.decode("utf-8", "replace")
    except OSError:
        return ""


def info_fields(host, port, section):
    out = {}
    for line in command(host, port, "INFO " + section).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


class Member:
    def __init__(self, idx, host, port, bus, workdir, netns=None):
        self.idx, self.host, self.port, self.bus = idx, host, port, bus
        self.dir = os.path.join(workdir, "m%d" % idx)
        self.netns = netns
        self.proc = None
        self.paused = False
        os.makedirs(self.dir, exist_ok=True)

    @property
    def name(self):
        return "m%d" % self.idx


class Cluster:
    """Start, stop and fault the members; the layout-specific parts are the
    addresses and the network faults."""

    def __init__(self, binary, n, workdir, server_args):
        self.binary = os.path.abspath(binary)
        self.n = n
        self.workdir = workdir
        self.server_args = list(server_args)
        self.members = []
        self.counters_lost = {}   # INFO counters of members before a kill -9

    # -- processes ------------------------------------------------------------
    def argv(self, m):
        seeds = [] if m.idx == 0 else ["--cluster-seeds", "%s:%d" % (
            self.members[0].host, self.members[0].bus)]
        return ([self.binary, "--bind", m.host, "--port", str(m.port),
                 "--cluster-enabled", "yes", "--cluster-bus-port", str(m.bus),
                 "--dir", m.dir, "--logfile", "node.log"] + seeds + self.server_args)

    def start(self, m):
        argv = self.argv(m)
        if m.netns:
            argv = ["ip", "netns", "exec", m.netns] + argv
        # ip netns exec execs the server: the pid is the server's
        # PR_SET_PDEATHSIG: a member dies with the harness, however it ends
        m.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(m.dir, "stderr.log"), "ab"),
                                  cwd=m.dir, preexec_fn=lambda: LIBC.prctl(1, signal.SIGKILL))
        m.paused = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if m.proc.poll() is not None:
                raise RuntimeError("%s exited at start; see %s/node.log" % (m.name, m.dir))
            if ping(m.host, m.port):
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not answer within 10 s" % m.name)

    def start_all(self, timeout=20):
        for m in self.members:
            self.start(m)
        self.wait_agreed(timeout)

    def wait_agreed(self, timeout=20):
        """Until every member sees every member alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.sees_all_alive(m) for m in self.members):
                return True
            time.sleep(0.1)
        return False

    def sees_all_alive(self, m):
        nodes = command(m.host, m.port, "CLUSTER NODES")
        lines = [l for l in nodes.splitlines() if l and not l.startswith("$")]
        return len(lines) == self.n and not any("fail" in l.split()[2] for l in lines
                                                if len(l.split()) > 2)

    def kill9(self, m):
        self.save_counters(m)
        if m.proc is not None:
            m.proc.send_signal(signal.SIGKILL)
            m.proc.wait()
            m.proc = None
        m.paused = False

    def pause(self, m):
        m.proc.send_signal(signal.SIGSTOP)
        m.paused = True

    def resume(self, m):
        if m.proc is not None and m.paused:
            m.proc.send_signal(signal.SIGCONT)
        m.paused = False

    def save_counters(self, m):
        """A kill -9 resets a member's INFO counters: keep what it had."""
        f = info_fields(m.host, m.port, "replication")
        for k in ("hints_replayed", "read_repairs", "hints_sent", "hints_kept",
                  "version_conflicts", "forwards_failed_over"):
            self.counters_lost[k] = self.counters_lost.get(k, 0) + int(f.get(k, 0) or 0)

    def counters(self):
        tot = dict(self.counters_lost)
        pending = 0
        for m in self.members:
            f = info_fields(m.host, m.port, "replication")
            for k in ("hints_replayed", "read_repairs", "hints_sent", "hints_kept",
                      "version_conflicts", "forwards_failed_over"):
                tot[k] = tot.get(k, 0) + int(f.get(k, 0) or 0)
            pending += int(f.get("hints_pending", 0) or 0)
        tot["hints_pending"] = pending
        return tot

    def stop_all(self):
        for m in self.members:
            if m.proc is not None:
                if m.paused:
                    m.proc.send_signal(signal.SIGCONT)
                m.proc.send_signal(signal.SIGTERM)
                try:
                    m.proc.wait(5)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait()
                m.proc = None

    # -- network faults (netns only) -------------------------------------------
    network_faults = False
    slow_link_kind = None

    def heal_network(self):
        pass

    def close(self):
        self.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)


class LoopbackCluster(Cluster):
    def __init__(self, binary, n, workdir, server_args, base_port):
        super().__init__(binary, n, workdir, server_args)
        for i in range(n):
            self.members.append(Member(i, "127.0.0.1", base_port + i, base_port + 100 + i,
                                       workdir))


class NetnsCluster(Cluster):
    network_faults = True

    def __init__(self, binary, n, workdir, server_args):
        super().__init__(binary, n, workdir, server_args)
        self.tag = "%s-%d" % (PREFIX, os.getpid())
        self.br_ns = self.tag + "-br"
        self.cut = set()         # (i, j) pairs with blackhole routes
        self.down = set()        # members whose bridge port is down
        self.shaped = set()      # members whose bridge port has a qdisc
        self.slow_link_kind = netem_usable()
        self.made = []           # namespaces created, for close()
        self.root_ns_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        sh("ip", "netns", "add", self.br_ns)
        self.made.append(self.br_ns)
        self.in_br("ip", "link", "set", "lo", "up")
        self.in_br("ip", "link", "add", "br0", "type", "bridge")
        self.in_br("ip", "addr", "add", BRIDGE_IP + "/24", "dev", "br0")
        self.in_br("ip", "link", "set", "br0", "up")
        for i in range(n):
            ns = "%s-m%d" % (self.tag, i)
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            host = "%s.%d" % (SUBNET, i + 1)
            # the pair is made in the member's namespace, its peer moved out
            sh("ip", "netns", "exec", ns, "ip", "link", "add", "eth0", "type", "veth",
               "peer", "name", "p%d" % i)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "p%d" % i, "netns", self.br_ns)
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", host + "/24", "dev", "eth0")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            self.in_br("ip", "link", "set", "p%d" % i, "master", "br0")
            self.in_br("ip", "link", "set", "p%d" % i, "up")
            self.members.append(Member(i, host, 7000, 17000, workdir, netns=ns))
        # The harness (clients, checker) lives on the bridge from now on.
        fd = os.open("/run/netns/" + self.br_ns, os.O_RDONLY)
        if LIBC.setns(fd, CLONE_NEWNET) != 0:
            raise RuntimeError("setns: %s" % os.strerror(ctypes.get_errno()))
        os.close(fd)

    def in_br(self, *argv):
        sh("ip", "netns", "exec", self.br_ns, *argv)

    def in_member(self, m, *argv):
        sh("ip", "netns", "exec", m.netns, *argv)

    def isolate(self, m):
        """Cut the member's cable: nobody, clients included, reaches it."""
        self.in_br("ip", "link", "set", "p%d" % m.idx, "down")
        self.down.add(m.idx)

    def split(self, side_a):
        """Members in side_a and the others no longer reach each other;
        clients still reach both sides (as in Jepsen's partitions)."""
        side_b = [m for m in self.members if m not in side_a]
        for a in side_a:
            for b in side_b:
                for x, y in ((a, b), (b, a)):
                    self.in_member(x, "ip", "route", "add", "blackhole", y.host + "/32")
                    self.cut.add((x.idx, y.idx))

    def slow_link(self, m):
        """Delay and drop on the member's bridge port: netem when the kernel
        has it, else a token bucket whose queue delays and tail-drops."""
        dev = "p%d" % m.idx
        if self.slow_link_kind == "netem":
            self.in_br("tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", "40ms",
                       "20ms", "loss", "5%")
        else:
            self.in_br("tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", "400kbit",
                       "burst", "8kb", "latency", "150ms")
        self.shaped.add(m.idx)

    def heal_network(self):
        for i in sorted(self.down):
            self.in_br("ip", "link", "set", "p%d" % i, "up")
        self.down.clear()
        for x, y in sorted(self.cut):
            self.in_member(self.members[x], "ip", "route", "del", "blackhole",
                           self.members[y].host + "/32")
        self.cut.clear()
        for i in sorted(self.shaped):
            self.in_br("tc", "qdisc", "del", "dev", "p%d" % i, "root")
        self.shaped.clear()

    def close(self):
        try:
            self.stop_all()
        finally:
            # back to where we started, then remove every namespace we made
            LIBC.setns(self.root_ns_fd, CLONE_NEWNET)
            for ns in reversed(self.made):
                sh("ip", "netns", "del", ns, check=False)
            self.made = []
            shutil.rmtree(self.workdir, ignore_errors=True)
