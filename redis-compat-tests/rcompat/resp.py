"""RESP2/RESP3 on raw sockets: request encoding, a reader that returns the raw
bytes of exactly one reply, a decoder into a small tree for the relaxed
comparisons, and a printable escape of raw bytes.

Every socket read has a deadline, so a server that stops answering turns into
a TIMEOUT result, never a hang.
"""
import select
import socket
import time

LINE_TYPES = b"+-:_,#("      # simple string, error, integer, null, double, bool, bignum
BULK_TYPES = b"$!="          # bulk string, blob error, verbatim string
AGG_TYPES = b"*~>"           # array, set, push
PAIR_TYPES = b"%|"           # map, attribute (key/value pairs)

CLOSED = b"<connection closed>"
TIMEOUT = b"<timeout: no complete reply>"


class ProtocolError(Exception):
    pass


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _line(buf, pos):
    nl = buf.find(b"\r\n", pos)
    return (None, None) if nl < 0 else (buf[pos:nl], nl + 2)


def _int(s, buf, pos):
    try:
        return int(s)
    except ValueError:
        raise ProtocolError("bad length %r at offset %d" % (s, pos)) from None


def reply_end(buf, pos=0):
    """Offset just past the reply starting at pos, or None if incomplete."""
    if pos >= len(buf):
        return None
    t = buf[pos]
    line, after = _line(buf, pos + 1)
    if line is None:
        return None
    if t in LINE_TYPES:
        return after
    if t in BULK_TYPES:
        n = _int(line, buf, pos)
        if n < 0:
            return after
        if len(buf) < after + n + 2:
            return None
        if buf[after + n:after + n + 2] != b"\r\n":
            raise ProtocolError("bulk not terminated by CRLF at offset %d" % pos)
        return after + n + 2
    if t in AGG_TYPES or t in PAIR_TYPES:
        n = _int(line, buf, pos)
        if n < 0:
            return after
        if t in PAIR_TYPES:
            n *= 2
        p = after
        for _ in range(n):
            p = reply_end(buf, p)
            if p is None:
                return None
        if t == 0x7C:  # attribute: the reply it annotates follows
            p = reply_end(buf, p)
        return p
    raise ProtocolError("unknown reply type byte %r at offset %d" % (bytes([t]), pos))


class Node:
    """A decoded reply: kind is the type byte as a str ('+', '$', '*', '%'...);
    value is bytes for scalars (None for nulls), a list of Nodes for
    aggregates (maps: keys and values alternating)."""
    __slots__ = ("kind", "value", "raw")

    def __init__(self, kind, value, raw):
        self.kind, self.value, self.raw = kind, value, raw

    def is_agg(self):
        return isinstance(self.value, list)

    def __repr__(self):
        return "Node(%s, %r)" % (self.kind, self.value)


def decode(buf, pos=0):
    """(Node, end) for the complete reply at pos."""
    t = chr(buf[pos])
    line, after = _line(buf, pos + 1)
    if t in "+-:_,#(":
        return Node(t, None if t == "_" else line, buf[pos:after]), after
    if t in "$!=":
        n = int(line)
        if n < 0:
            return Node(t, None, buf[pos:after]), after
        return Node(t, buf[after:after + n], buf[pos:after + n + 2]), after + n + 2
    n = int(line)
    if n < 0:
        return Node(t, None, buf[pos:after]), after
    if t in "%|":
        n *= 2
    kids, p = [], after
    for _ in range(n):
        k, p = decode(buf, p)
        kids.append(k)
    if t == "|":
        real, p = decode(buf, p)
        return real, p
    return Node(t, kids, buf[pos:p]), p


def escape(b, start=0, limit=240):
    """Printable form of raw bytes, redis-cli style, cut around `start`."""
    if b in (CLOSED, TIMEOUT):
        return b.decode()
    lo = max(0, start - limit // 3) if len(b) > limit else 0
    chunk = b[lo:lo + limit]
    out = []
    for c in chunk:
        if c == 0x22:
            out.append('\\"')
        elif c == 0x5C:
            out.append("\\\\")
        elif c == 10:
            out.append("\\n")
        elif c == 13:
            out.append("\\r")
        elif c == 9:
            out.append("\\t")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    s = '"' + "".join(out) + '"'
    if lo > 0:
        s = "...[%d bytes] " % lo + s
    if lo + limit < len(b):
        s += " ...[%d more bytes, %d in all]" % (len(b) - lo - limit, len(b))
    return s


class Conn:
    """One client connection with a receive buffer."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False

    @classmethod
    def dead(cls, why):
        """A connection that could not be opened: every read is CLOSED."""
        c = cls.__new__(cls)
        c.sock, c.buf, c.closed, c.why = None, b"", True, why
        return c

    def sockname(self):
        if self.sock is None:
            return "0.0.0.0:0"
        h, p = self.sock.getsockname()[:2]
        return "%s:%d" % (h, p)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except (OSError, AttributeError):
                pass

    def send(self, data):
        if self.closed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            # The peer may have closed; replies it sent before still count.
            return False

    def _recv(self, deadline):
        """Read more into buf. False on EOF/error/timeout."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return None
        try:
            data = self.sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self.close_soft()
            return False
        self.buf += data
        return True

    def close_soft(self):
        """Peer closed: remember it, keep buffered bytes readable."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def read_reply(self, timeout=10.0):
        """Raw bytes of one reply; CLOSED if the connection ended first,
        TIMEOUT if no complete reply came in time (the connection is then
        dropped, so later lines do not read a stale reply)."""
        deadline = time.monotonic() + timeout
        while True:
            end = reply_end(self.buf) if self.buf else None
            if end is not None:
                raw, self.buf = self.buf[:end], self.buf[end:]
                return raw
            if self.closed:
                return CLOSED
            got = self._recv(deadline)
            if got is None:
                self.close()
                return TIMEOUT
            if got is False:
                continue  # loop once more: a complete reply may be buffered

    def read_all(self, quiet=0.15, timeout=3.0):
        """Everything the server sends until it closes the connection or is
        quiet for `quiet` seconds. Returns (bytes, closed)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            got = self._recv(min(deadline, time.monotonic() + quiet))
            if got is None:
                break
        data, self.buf = self.buf, b""
        return data, self.closed

    def wait_closed(self, timeout=1.0):
        """True if the server closes the connection within timeout (any
        further data is kept in buf)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            if self._recv(deadline) is None:
                return False
        return True
