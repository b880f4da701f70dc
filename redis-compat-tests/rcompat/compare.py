"""Judging two raw replies under a line's markers.

Each function returns None when the replies agree, else a short reason.
"""
from . import resp
from .casefile import COMPARATORS


def _decode(raw):
    if raw in (resp.CLOSED, resp.TIMEOUT) or not raw:
        return None
    try:
        node, end = resp.decode(raw)
    except (ValueError, IndexError):
        return None
    return node if end == len(raw) else None


def _canon(node):
    """Order-free canonical form of a reply tree."""
    if not node.is_agg():
        return (node.kind, node.value)
    if node.kind in "%":
        pairs = [(_canon(node.value[i]), _canon(node.value[i + 1]))
                 for i in range(0, len(node.value), 2)]
        return (node.kind, tuple(sorted(pairs, key=repr)))
    return (node.kind, tuple(sorted((_canon(k) for k in node.value), key=repr)))


def _shape(node):
    """Type tree without scalar values; errors keep their text."""
    if node.kind == "-" or node.kind == "!":
        return (node.kind, node.value)
    if not node.is_agg():
        return (node.kind, node.value is None)
    return (node.kind, tuple(_shape(k) for k in node.value))


def exact(a, b):
    return None if a == b else "replies differ"


def any_order(a, b):
    if a == b:
        return None
    na, nb = _decode(a), _decode(b)
    if na is None or nb is None:
        return "replies differ"
    return None if _canon(na) == _canon(nb) else "different elements (order ignored)"


def within(a, b, n):
    if a == b:
        return None
    na, nb = _decode(a), _decode(b)
    if na is None or nb is None or na.kind != ":" or nb.kind != ":":
        return "not two integer replies"
    d = abs(int(na.value) - int(nb.value))
    return None if d <= n else "integers differ by %d (> %d)" % (d, n)


def skip_value(a, b):
    if a == b:
        return None
    na, nb = _decode(a), _decode(b)
    if na is None or nb is None:
        return "replies differ"
    return None if _shape(na) == _shape(nb) else "reply shapes differ"


def _pairs(node):
    """Key/value pairs of a map, or of a RESP2 flat array of even length."""
    if node is None or not node.is_agg() or len(node.value) % 2:
        return None
    if node.kind not in "%*":
        return None
    v = node.value
    return [(v[i], v[i + 1]) for i in range(0, len(v), 2)]


def ignore_fields(a, b, fields):
    if a == b:
        return None
    na, nb = _decode(a), _decode(b)
    if na is None or nb is None or na.kind != nb.kind:
        return "replies differ"
    pa, pb = _pairs(na), _pairs(nb)
    if pa is None or pb is None or len(pa) != len(pb):
        return "not two maps of the same size"
    for (ka, va), (kb, vb) in zip(pa, pb):
        if ka.raw != kb.raw:
            return "field names differ: %r vs %r" % (ka.value, kb.value)
        if ka.value in fields:
            if _shape(va) != _shape(vb):
                return "field %r: value types differ" % ka.value
        elif va.raw != vb.raw:
            return "field %r differs" % ka.value
    return None


def _path_hit(here, paths):
    for p in paths:
        if len(p) == len(here) and all(x is None or x == y for x, y in zip(p, here)):
            return True
    return False


def _prune(node, paths, here=()):
    if _path_hit(here, paths):
        return ("ignored",)
    if not node.is_agg():
        return (node.kind, node.value)
    return (node.kind, len(node.value),
            tuple(_prune(k, paths, here + (i,)) for i, k in enumerate(node.value)))


def parse_paths(paths):
    """b"0/6" -> (0, 6); b"*/6" -> (None, 6): element 6 of every element."""
    return [tuple(None if x == b"*" else int(x) for x in p.split(b"/")) for p in paths]


def ignore_path(a, b, paths):
    if a == b:
        return None
    na, nb = _decode(a), _decode(b)
    if na is None or nb is None:
        return "replies differ"
    parsed = parse_paths(paths)
    where = _first_diff_path(na, nb, parsed)
    return None if where is None else "replies differ at path %s (outside the ignored paths)" % where


def _first_diff_path(a, b, paths, here=()):
    if _path_hit(here, paths):
        return None
    name = "/".join(str(i) for i in here) or "(top)"
    if a.kind != b.kind or a.is_agg() != b.is_agg():
        return "%s (type %s vs %s)" % (name, a.kind, b.kind)
    if not a.is_agg():
        return None if a.value == b.value else "%s (%r vs %r)" % (name, a.value, b.value)
    if len(a.value) != len(b.value):
        return "%s (%d vs %d elements)" % (name, len(a.value), len(b.value))
    for i, (x, y) in enumerate(zip(a.value, b.value)):
        d = _first_diff_path(x, y, paths, here + (i,))
        if d is not None:
            return d
    return None


def differs(a, b, expect_prefix):
    if a == b:
        return ("marked @differs but both servers now reply the same: remove the marker "
                "and the KNOWN_DIFFERENCES.md entry if it is no longer needed")
    if expect_prefix is not None and not b.startswith(expect_prefix):
        return "ringcache's reply does not start with the documented %s" % resp.escape(expect_prefix)
    return None


def _text_keys(node, extra):
    if node is None or node.kind not in "$=" or node.value is None:
        return None
    text = node.value[4:] if node.kind == "=" else node.value
    out = []
    for line in text.split(b"\n"):
        if line:
            keys = [w.split(b"=", 1)[0] for w in line.split(b" ") if w]
            out.append([k for k in keys if k not in extra])
    return out


def text_keys(a, b, extra):
    """Lines of `key=value` words (CLIENT INFO/LIST): same lines, same keys
    in the same order; values ignored; `extra` keys may appear in
    ringcache's reply only."""
    if a == b:
        return None
    na, nb = _decode(a), _decode(b)
    if na is None or nb is None or na.kind != nb.kind:
        return "replies differ"
    ka, kb = _text_keys(na, set()), _text_keys(nb, extra)
    if ka is None or kb is None:
        return "not key=value text"
    if len(ka) != len(kb):
        return "%d lines vs %d lines" % (len(ka), len(kb))
    for la, lb in zip(ka, kb):
        if la != lb:
            missing = [k for k in la if k not in lb]
            added = [k for k in lb if k not in la]
            return "field names differ (missing %r, extra %r)" % (missing, added)
    return None


def for_cluster(markers):
    """The markers a line is judged by in a cluster run: `@cluster-differs ID
    [prefix]` stands in for the line's comparison marker as `@differs ID
    [prefix]`; other markers (@save, @closes, @known) stay."""
    if "cluster-differs" not in markers:
        return markers
    out = {k: v for k, v in markers.items() if k not in COMPARATORS}
    out["differs"] = markers["cluster-differs"]
    return out


def judge(markers, a, b):
    """a: redis-server's raw reply, b: ringcache's."""
    if "any-order" in markers:
        return any_order(a, b)
    if "within" in markers:
        return within(a, b, int(markers["within"][0]))
    if "skip-value" in markers:
        return skip_value(a, b)
    if "ignore-fields" in markers:
        return ignore_fields(a, b, set(markers["ignore-fields"]))
    if "ignore-path" in markers:
        return ignore_path(a, b, markers["ignore-path"])
    if "text-keys" in markers:
        return text_keys(a, b, set(markers["text-keys"]))
    if "differs" in markers:
        args = markers["differs"]
        return differs(a, b, args[1] if len(args) > 1 else None)
    return exact(a, b)


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))
