"""Unit tests of the harness itself: the sdssplitargs port, the RESP reader,
the comparators and the case-file parser. Standard library only:

    cd redis-compat-tests && /usr/bin/python3 -m unittest rcompat.test_rcompat
"""
import os
import tempfile
import unittest

from rcompat import casefile, cliargs, compare, resp


class SplitTest(unittest.TestCase):
    def split(self, s):
        return cliargs.split(s.encode() if isinstance(s, str) else s)[0]

    def test_plain_and_blanks(self):
        self.assertEqual(self.split("SET  k\tv "), [b"SET", b"k", b"v"])
        self.assertEqual(self.split(""), [])
        self.assertEqual(self.split("   "), [])

    def test_double_quotes_and_escapes(self):
        self.assertEqual(self.split(r'SET "a b" "\x00\xff\r\n\t\b\a\"\\\q"'),
                         [b"SET", b"a b", b"\x00\xff\r\n\t\x08\x07\"\\q"])
        self.assertEqual(self.split(r'"\x4"'), [b"x4"])      # not two hex digits: \x -> x
        self.assertEqual(self.split('""'), [b""])

    def test_single_quotes(self):
        self.assertEqual(self.split(r"'it\'s' 'a\nb'"), [b"it's", b"a\\nb"])

    def test_quote_inside_token(self):
        self.assertEqual(self.split('ab"c d"'), [b"abc d"])

    def test_errors(self):
        for bad in ['"abc', "'abc", '"a"b', "'a'b", "'it''s'"]:
            with self.assertRaises(cliargs.SplitError, msg=bad):
                self.split(bad)

    def test_markers(self):
        args, m = cliargs.split(b'KEYS "#" #  @any-order', allow_markers=True)
        self.assertEqual(args, [b"KEYS", b"#"])
        self.assertEqual(m, b"@any-order")
        args, m = cliargs.split(b"GET a#b", allow_markers=True)
        self.assertEqual((args, m), ([b"GET", b"a#b"], None))

    def test_quote_roundtrip(self):
        for a in [b"plain", b"", b"a b", b"\x00\xff\r\n", b'"\\', b"#"]:
            self.assertEqual(self.split(cliargs.quote(a)), [a])


class RespTest(unittest.TestCase):
    def test_reply_end(self):
        cases = [b"+OK\r\n", b"-ERR x\r\n", b":1\r\n", b"$3\r\nabc\r\n", b"$-1\r\n", b"*-1\r\n",
                 b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n", b"_\r\n", b",1.5\r\n", b"#t\r\n", b"(123\r\n",
                 b"%1\r\n$1\r\nk\r\n~1\r\n+v\r\n", b"=7\r\ntxt:abc\r\n", b"|1\r\n+a\r\n+b\r\n:5\r\n",
                 b">2\r\n+a\r\n+b\r\n", b"!3\r\nerr\r\n"]
        for c in cases:
            self.assertEqual(resp.reply_end(c + b"+next\r\n"), len(c), c)
            for cut in range(len(c)):
                self.assertIsNone(resp.reply_end(c[:cut]), (c, cut))

    def test_bulk_with_crlf_inside(self):
        self.assertEqual(resp.reply_end(b"$4\r\n\r\n\r\n\r\n"), 10)

    def test_bad_terminator(self):
        with self.assertRaises(resp.ProtocolError):
            resp.reply_end(b"$1\r\nabX")

    def test_encode(self):
        self.assertEqual(resp.encode([b"GET", b""]), b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n")


class CompareTest(unittest.TestCase):
    def test_any_order(self):
        a = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        self.assertIsNone(compare.any_order(a, b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"))
        self.assertIsNotNone(compare.any_order(a, b"*2\r\n$1\r\na\r\n$1\r\na\r\n"))

    def test_within(self):
        self.assertIsNone(compare.within(b":100\r\n", b":99\r\n", 1))
        self.assertIsNotNone(compare.within(b":100\r\n", b":98\r\n", 1))
        self.assertIsNotNone(compare.within(b":1\r\n", b"$1\r\n1\r\n", 5))

    def test_skip_value(self):
        self.assertIsNone(compare.skip_value(b"$3\r\nabc\r\n", b"$2\r\nxy\r\n"))
        self.assertIsNotNone(compare.skip_value(b"$3\r\nabc\r\n", b":1\r\n"))
        self.assertIsNotNone(compare.skip_value(b"-ERR a\r\n", b"-ERR b\r\n"))

    def test_ignore_fields(self):
        a = b"*4\r\n$2\r\nid\r\n:1\r\n$1\r\nv\r\n$1\r\nx\r\n"
        b = b"*4\r\n$2\r\nid\r\n:7\r\n$1\r\nv\r\n$1\r\nx\r\n"
        self.assertIsNone(compare.ignore_fields(a, b, {b"id"}))
        self.assertIsNotNone(compare.ignore_fields(a, b, {b"v"}))

    def test_ignore_path(self):
        a = b"*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n:1\r\n:3\r\n"
        b = b"*2\r\n*2\r\n:1\r\n:9\r\n*2\r\n:1\r\n:8\r\n"
        self.assertIsNone(compare.ignore_path(a, b, [b"*/1"]))
        self.assertIn("0/1", compare.ignore_path(a, b, [b"1/1"]))

    def test_text_keys(self):
        a = b"$11\r\nid=1 addr=x\r\n"
        b = b"$23\r\nid=2 addr=y lib-name=py\r\n"
        self.assertIsNone(compare.text_keys(a, b, {b"lib-name"}))
        self.assertIsNotNone(compare.text_keys(a, b, set()))

    def test_differs(self):
        self.assertIsNotNone(compare.differs(b"+OK\r\n", b"+OK\r\n", None))
        self.assertIsNone(compare.differs(b"+OK\r\n", b"-ERR x\r\n", b"-ERR"))
        self.assertIsNotNone(compare.differs(b"+OK\r\n", b"-ERR x\r\n", b"-WRONG"))

    def test_for_cluster(self):
        m = {"skip-value": [], "known": [b"x"], "cluster-differs": [b"cluster-mode", b":1"]}
        c = compare.for_cluster(m)
        self.assertEqual(c, {"known": [b"x"], "cluster-differs": [b"cluster-mode", b":1"],
                             "differs": [b"cluster-mode", b":1"]})
        self.assertIsNone(compare.judge(c, b"-ERR x\r\n", b":1\r\n"))
        self.assertIsNotNone(compare.judge(c, b":1\r\n", b":1\r\n"))     # stale
        self.assertIsNotNone(compare.judge(c, b"-ERR x\r\n", b":2\r\n"))  # prefix
        self.assertEqual(compare.for_cluster({"within": [b"1"]}), {"within": [b"1"]})


class CaseFileTest(unittest.TestCase):
    def parse(self, text):
        with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
            f.write(text.encode())
        try:
            return casefile.parse(f.name)
        finally:
            os.unlink(f.name)

    def test_kinds(self):
        items = self.parse('# c\nGET k  # @within 1\n!pipeline\nA\nB  # @any-order\n!end\n'
                           '!repeat 3 SET k:${i} v\n!inline PING "a"\n!raw "*0\\r\\n"\n!conn x\n!sleep 5\n')
        kinds = [getattr(i, "kind", None) or i.name for i in items]
        self.assertEqual(kinds, ["cmd", "pipeline", "repeat", "raw", "raw", "conn", "sleep"])
        self.assertEqual(items[1].ncases(), 2)
        self.assertEqual(items[3].data, b'PING "a"\r\n')
        self.assertEqual(items[4].data, b"*0\r\n")

    def test_rejects(self):
        for bad in ["GET k # free text\n", "GET k  # @nosuchmarker\n", "GET k  # @within x\n",
                    "GET k  # @any-order @within 1\n", "!pipeline\nGET k\n", "!end\n", "!bogus\n",
                    'GET "k\n', "SET k v  # @scan-all\n",
                    "GET k  # @cluster-differs a @standalone-only a\n",
                    "!pipeline\nGET k  # @standalone-only a\n!end\n",
                    "GET k  # @cluster-differs\n"]:
            with self.assertRaises(casefile.CaseError, msg=bad):
                self.parse(bad)

    def test_cluster_markers(self):
        items = self.parse("GET k  # @skip-value @cluster-differs cluster-mode \"$\"\n"
                           "CLUSTER MEET a 1  # @standalone-only cluster-meet\n")
        self.assertEqual(items[0].markers["cluster-differs"], [b"cluster-mode", b"$"])
        self.assertIn("skip-value", items[0].markers)
        self.assertEqual(items[1].markers["standalone-only"], [b"cluster-meet"])

    def test_expand(self):
        env = {b"port": b"6379", b"rep:3:ab": b"ababab"}
        self.assertEqual(casefile.expand(b"a${port}b${rep:3:ab}", lambda n: env[n]), b"a6379bababab")
        with self.assertRaises(casefile.CaseError):
            casefile.expand(b"${nope}", lambda n: env[n])


if __name__ == "__main__":
    unittest.main()
