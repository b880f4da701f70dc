"""Case files: one command a line in redis-cli syntax, plus directives and
markers. README.md is the reference; in short:

    SET k v                         compared byte for byte
    KEYS *  # @any-order            a trailing marker section relaxes it
    !pipeline / ... / !end          the lines between are sent in one write
    !repeat 1000 SET k:${i} ${i}    N commands in one write, replies compared
    !inline PING "a b"              the text as an inline command (+ CRLF)
    !raw "*1\\r\\n$4\\r\\nPING\\r\\n"     bytes on the wire, replies read until quiet/close
    !conn NAME / !close / !sleep MS connections and time
"""
import re

from . import cliargs

# marker -> (min args, max args)
MARKERS = {
    "any-order": (0, 0),
    "within": (1, 1),
    "skip-value": (0, 0),
    "ignore-fields": (1, 99),
    "ignore-path": (1, 99),
    "differs": (1, 2),
    "known": (1, 1),
    "save": (1, 1),
    "closes": (0, 0),
    "scan-all": (0, 0),
    "text-keys": (0, 99),
    # cluster runs (difftest.py --cluster N) only; see README.md
    "cluster-differs": (1, 2),
    "standalone-only": (1, 1),
}
# markers that decide how replies are compared (at most one per line)
COMPARATORS = {"any-order", "within", "skip-value", "ignore-fields", "ignore-path",
               "differs", "scan-all", "text-keys"}


class CaseError(ValueError):
    pass


class Case:
    """One thing sent to both servers and judged: kind is 'cmd', 'raw',
    'repeat' or 'pipeline' (items holds the 'cmd' cases)."""

    def __init__(self, kind, path, lineno, text, args=None, data=None, markers=None,
                 count=1, items=None):
        self.kind, self.path, self.lineno, self.text = kind, path, lineno, text
        self.args, self.data, self.count, self.items = args, data, count, items
        self.markers = markers or {}

    def ncases(self):
        return len(self.items) if self.kind == "pipeline" else 1

    def where(self):
        return "%s:%d" % (self.path, self.lineno)


class Directive:
    def __init__(self, name, arg, path, lineno):
        self.name, self.arg, self.path, self.lineno = name, arg, path, lineno


def parse_markers(text, where):
    if text is None:
        return {}
    try:
        words, _ = cliargs.split(text)
    except cliargs.SplitError as e:
        raise CaseError("%s: bad marker section: %s" % (where, e)) from None
    if not words or not words[0].startswith(b"@"):
        raise CaseError("%s: a trailing comment must be markers (@name ...); "
                        "put free text on a line of its own" % where)
    markers, cur = {}, None
    for w in words:
        if w.startswith(b"@"):
            cur = w[1:].decode()
            if cur not in MARKERS:
                raise CaseError("%s: unknown marker @%s" % (where, cur))
            if cur in markers:
                raise CaseError("%s: marker @%s given twice" % (where, cur))
            markers[cur] = []
        else:
            markers[cur].append(w)
    for name, args in markers.items():
        lo, hi = MARKERS[name]
        if not lo <= len(args) <= hi:
            raise CaseError("%s: @%s takes %d..%d arguments" % (where, name, lo, hi))
    if len(COMPARATORS.intersection(markers)) > 1:
        raise CaseError("%s: at most one comparison marker per line" % where)
    for p in markers.get("ignore-path", []):
        if not re.fullmatch(rb"(\d+|\*)(/(\d+|\*))*", p):
            raise CaseError("%s: @ignore-path takes paths like 0/6 or */6" % where)
    if "cluster-differs" in markers and "standalone-only" in markers:
        raise CaseError("%s: @cluster-differs and @standalone-only exclude each other" % where)
    if "cluster-differs" in markers and "scan-all" in markers:
        raise CaseError("%s: @cluster-differs does not go on a @scan-all line" % where)
    if "within" in markers and not re.fullmatch(rb"\d+", markers["within"][0]):
        raise CaseError("%s: @within takes a number" % where)
    return markers


def parse(path, display=None):
    display = display or path
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    out = []
    pipeline = None
    for i, raw in enumerate(lines, 1):
        line = raw.rstrip(b"\r")
        where = "%s:%d" % (display, i)
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        text = stripped.decode("utf-8", "replace")
        if stripped.startswith(b"!"):
            word, _, rest = stripped.partition(b" ")
            word = word[1:].decode()
            rest = rest.strip()
            if word == "pipeline":
                if pipeline is not None:
                    raise CaseError("%s: nested !pipeline" % where)
                pipeline = Case("pipeline", display, i, text, items=[])
                continue
            if word == "end":
                if pipeline is None or not pipeline.items:
                    raise CaseError("%s: !end without a non-empty !pipeline" % where)
                out.append(pipeline)
                pipeline = None
                continue
            if pipeline is not None:
                raise CaseError("%s: only commands inside !pipeline" % where)
            if word == "inline":
                # The text goes out as typed; only a trailing marker section
                # (found the same way as on command lines) is taken off.
                m = re.search(rb"\s#\s+@", rest)
                markers = parse_markers(rest[m.start() + 2:].strip(), where) if m else {}
                body = rest[:m.start()].rstrip() if m else rest
                out.append(Case("raw", display, i, text, data=body + b"\r\n", markers=markers))
            elif word == "raw":
                try:
                    args, mtext = cliargs.split(rest, allow_markers=True)
                except cliargs.SplitError as e:
                    raise CaseError("%s: %s" % (where, e)) from None
                if len(args) != 1:
                    raise CaseError("%s: !raw takes one quoted argument" % where)
                out.append(Case("raw", display, i, text, data=args[0],
                                markers=parse_markers(mtext, where)))
            elif word == "repeat":
                try:
                    args, mtext = cliargs.split(rest, allow_markers=True)
                except cliargs.SplitError as e:
                    raise CaseError("%s: %s" % (where, e)) from None
                if len(args) < 2 or not args[0].isdigit():
                    raise CaseError("%s: !repeat N command..." % where)
                out.append(Case("repeat", display, i, text, args=args[1:], count=int(args[0]),
                                markers=parse_markers(mtext, where)))
            elif word in ("conn", "close", "sleep"):
                if word == "conn" and not re.fullmatch(rb"[A-Za-z0-9_]+", rest):
                    raise CaseError("%s: !conn NAME" % where)
                if word == "sleep" and not rest.isdigit():
                    raise CaseError("%s: !sleep MILLISECONDS" % where)
                if word == "close" and rest:
                    raise CaseError("%s: !close takes no argument" % where)
                out.append(Directive(word, rest.decode(), display, i))
            else:
                raise CaseError("%s: unknown directive !%s" % (where, word))
            continue
        try:
            args, mtext = cliargs.split(line, allow_markers=True)
        except cliargs.SplitError as e:
            raise CaseError("%s: %s" % (where, e)) from None
        markers = parse_markers(mtext, where)
        case = Case("cmd", display, i, text, args=args, markers=markers)
        if "scan-all" in markers and (len(args) < 2 or args[0].lower() != b"scan"):
            raise CaseError("%s: @scan-all goes on a SCAN command" % where)
        if pipeline is not None:
            if "scan-all" in markers or "closes" in markers or "standalone-only" in markers:
                raise CaseError("%s: @scan-all/@closes/@standalone-only not allowed in a pipeline"
                                % where)
            pipeline.items.append(case)
        else:
            out.append(case)
    if pipeline is not None:
        raise CaseError("%s: !pipeline without !end" % display)
    return out


# ---- ${...} expansion --------------------------------------------------------

_VAR = re.compile(rb"\$\{([^}]*)\}")


def expand(arg, env):
    """Replace ${...} in one argument. env is a callable name -> bytes that
    raises KeyError for unknown names."""
    if b"${" not in arg:
        return arg

    def sub(m):
        try:
            return env(m.group(1))
        except KeyError as e:
            raise CaseError("unknown ${%s}: %s" % (m.group(1).decode("utf-8", "replace"), e)) from None
    return _VAR.sub(sub, arg)
