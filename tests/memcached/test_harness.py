#!/usr/bin/python3
"""Unit tests of difftest.py's parsing and comparisons (no servers).

    cd tests/memcached && /usr/bin/python3 -m unittest -q test_harness
"""
import os
import socket
import tempfile
import threading
import unittest

import difftest as d


class Escapes(unittest.TestCase):
    def test_unescape(self):
        self.assertEqual(d.unescape(r"a\r\nb\t\0\s\\\x00\xff"), b"a\r\nb\t\0 \\\x00\xff")

    def test_unknown_escape(self):
        with self.assertRaises(ValueError):
            d.unescape(r"a\q")

    def test_substitute(self):
        st = {"cas": 41}
        self.assertEqual(d.substitute("${cas} ${cas+1} ${cas-1}", st), "41 42 40")
        self.assertEqual(d.substitute("${rep:3:ab}", st), "ababab")
        self.assertEqual(d.substitute("${b64:k}", st), "aw==")
        with self.assertRaises(ValueError):
            d.substitute("${nope}", st)
        with self.assertRaises(ValueError):
            d.substitute("${cas}", {"cas": None})


class Parse(unittest.TestCase):
    def parse(self, text, known=("touch-cas",)):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(text)
        try:
            return d.parse_file(f.name, set(known))
        finally:
            os.unlink(f.name)

    def test_lines_and_data(self):
        cs = self.parse("# c\n\nset k 0 0 5\n> hello\nget k\n")
        self.assertEqual([c.text for c in cs], [r"set k 0 0 5\r\nhello", "get k"])

    def test_pipeline(self):
        cs = self.parse("!pipeline\nset a 0 0 1\n> x\nget a\n!end\n")
        self.assertEqual(len(cs), 1)
        self.assertEqual(cs[0].text, r"set a 0 0 1\r\nx\r\nget a\r\n")

    def test_errors(self):
        for bad in ("!pipeline\nget a\n", "!end\n", "!nosuch x\n", "> data\n",
                    "!known nosuch get a\n", "!pipeline\n!sleep 1\n!end\n"):
            with self.assertRaises(ValueError, msg=bad):
                self.parse(bad)

    def test_directives(self):
        cs = self.parse("!split get a\n!raw x\n!sleep 5\n!known touch-cas gets a\n!stats stats\n"
                        "!cluster-pending mg a\n")
        self.assertEqual([c.kind for c in cs], ["split", "raw", "sleep", "req", "req", "req"])
        self.assertEqual(cs[3].compare, "known")
        self.assertEqual(cs[4].compare, "stats")
        self.assertTrue(cs[5].cluster_pending)
        self.assertEqual(sum(c.counted for c in cs), 5)


class Replies(unittest.TestCase):
    def test_cas_pattern(self):
        a = d.normalize_cas(b"VALUE a 0 1 7\r\nx\r\nVALUE b 0 1 9\r\ny\r\nEND\r\n", {})
        self.assertEqual(a, b"VALUE a 0 1 <cas1>\r\nx\r\nVALUE b 0 1 <cas2>\r\ny\r\nEND\r\n")
        t = {}
        d.normalize_cas(b"HD c100\r\n", t)
        self.assertEqual(d.normalize_cas(b"VA 1 c100 f0\r\nc\r\nHD c5\r\n", t),
                         b"VA 1 c<cas1> f0\r\nc\r\nHD c<cas2>\r\n")
        # value data that looks like a CAS line is left alone
        self.assertEqual(d.normalize_cas(b"VA 6\r\nHD c12\r\n", {}), b"VA 6\r\nHD c12\r\n")
        self.assertEqual(d.normalize_cas(b"ME k cas=5 x=1\r\n", {}, mask=True), b"ME k cas=<cas> x=1\r\n")

    def test_cas_values(self):
        self.assertEqual(d.cas_values(b"VALUE a 0 1 7\r\nx\r\nEND\r\nHD c8 t-1\r\n"), [b"7", b"8"])

    def test_stats_shape(self):
        self.assertEqual(d.stats_shape(b"STAT b 1\r\nSTAT a 2\r\nEND\r\n"),
                         d.stats_shape(b"STAT a 9\r\nSTAT b 8\r\nEND\r\n"))
        self.assertNotEqual(d.stats_shape(b"STAT a 1\r\nEND\r\n"), d.stats_shape(b"STAT b 1\r\nEND\r\n"))


class Sentinel(unittest.TestCase):
    def test_value_holding_the_sentinel(self):
        """A value whose bytes are the sentinel's reply does not end the read."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        fake = b"EN k%s O1\r\n" % d.SENTINEL_KEY
        reply = b"VALUE k 0 %d\r\n%s\r\nEND\r\n" % (len(fake), fake)

        def serve():
            c, _ = srv.accept()
            c.recv(100)
            c.sendall(reply + fake)
            c.recv(100)
            c.close()
        th = threading.Thread(target=serve)
        th.start()
        conn = d.Conn(srv.getsockname()[1])
        conn.send(b"get k\r\n")
        self.assertEqual(conn.read_until_sentinel(1), reply)
        conn.close()
        th.join(5)
        srv.close()


if __name__ == "__main__":
    unittest.main()
