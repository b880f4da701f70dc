"""redis-cli's argument syntax: a port of sdssplitargs() (Redis 7.0 sds.c).

Works on bytes. Inside "double quotes" the escapes \\xHH, \\n, \\r, \\t, \\b, \\a
and \\<any> are understood; inside 'single quotes' only \\'. A closing quote
must be followed by a blank or the end of the line, and an unterminated quote
is an error, exactly as in redis-cli and the server's inline protocol.

On top of that, a case file line may end with a marker section: an unquoted
`#` standing alone as a word (blank before and after, not the first word)
starts it, and everything after it is returned separately.
"""

HEX = b"0123456789abcdefABCDEF"
# sdssplitargs skips blanks with isspace(); a token ends at ' ', \n, \r, \t, \0.
SKIP = b" \t\n\v\f\r"
TOKEN_END = b" \n\r\t"


class SplitError(ValueError):
    pass


def _hexval(c):
    return int(bytes([c]), 16)


def split(line, allow_markers=False):
    """Split one line into arguments.

    Returns (args, marker_text): args is a list of bytes; marker_text is the
    bytes after a standalone `#` (None when there is none, or when
    allow_markers is false).
    """
    if isinstance(line, str):
        line = line.encode("utf-8")
    p = 0
    n = len(line)
    args = []
    while True:
        while p < n and line[p] in SKIP:
            p += 1
        if p >= n:
            return args, None
        if (allow_markers and args and line[p] == 0x23  # '#'
                and (p + 1 >= n or line[p + 1] in SKIP)):
            return args, line[p + 1:].strip()
        cur = bytearray()
        inq = insq = False
        while True:
            c = line[p] if p < n else 0
            if inq:
                if (c == 0x5C and p + 3 < n + 0 and line[p + 1] == 0x78
                        and line[p + 2] in HEX and line[p + 3] in HEX):
                    cur.append(_hexval(line[p + 2]) * 16 + _hexval(line[p + 3]))
                    p += 3
                elif c == 0x5C and p + 1 < n:
                    p += 1
                    e = line[p]
                    cur.append({0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}.get(e, e))
                elif c == 0x22:  # closing "
                    if p + 1 < n and line[p + 1] not in SKIP:
                        raise SplitError("closing quote must be followed by a space")
                    p += 1
                    break
                elif p >= n:
                    raise SplitError("unbalanced quotes")
                else:
                    cur.append(c)
            elif insq:
                if c == 0x5C and p + 1 < n and line[p + 1] == 0x27:
                    p += 1
                    cur.append(0x27)
                elif c == 0x27:  # closing '
                    if p + 1 < n and line[p + 1] not in SKIP:
                        raise SplitError("closing quote must be followed by a space")
                    p += 1
                    break
                elif p >= n:
                    raise SplitError("unbalanced quotes")
                else:
                    cur.append(c)
            else:
                if p >= n or c in TOKEN_END or c == 0:
                    if p < n:
                        p += 1
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            p += 1
        args.append(bytes(cur))


def quote(arg):
    """The inverse: one argument in redis-cli syntax (double quotes as needed)."""
    if arg and all(0x21 <= c < 0x7F and c not in b"\"'\\#" for c in arg):
        return arg.decode("ascii")
    out = ['"']
    for c in arg:
        if c == 0x22:
            out.append('\\"')
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    out.append('"')
    return "".join(out)


def join(args, limit=200):
    s = " ".join(quote(a) for a in args)
    return s if len(s) <= limit else s[:limit] + "... (%d chars)" % len(s)
