#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Validates childwatchctl's JSON with Python's json module and prints it in GVariant text
form, so that the C tests can check it with g_variant_parse(): an object becomes a{sv}, an
array av, an integer int64 (uint64 above its range), another number double, null "nothing".

Usage: test-ctl-json.py --one    stdin is one JSON value (surrounding white space allowed)
       test-ctl-json.py --lines  stdin is JSON lines; prints an av of them
Exits 1, with the reason on stderr, for anything that is not strict JSON: NaN and Infinity,
duplicate keys, a control character inside a string, an empty line between JSON lines.
"""
import json
import sys


def reject_constant(name):
    raise ValueError(f"not JSON: {name}")


def no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def loads(text):
    return json.loads(text, parse_constant=reject_constant, object_pairs_hook=no_duplicates, strict=True)


def string(s):
    out = ["'"]
    for ch in s:
        c = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\u{c:04x}")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def gvariant(v):
    if v is None:
        return "@mv nothing"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        if -(2**63) <= v < 2**63:
            return f"int64 {v}"
        if 0 <= v < 2**64:
            return f"uint64 {v}"
        raise ValueError(f"integer out of range: {v}")
    if isinstance(v, float):
        return f"double {v!r}"
    if isinstance(v, str):
        return string(v)
    if isinstance(v, list):
        if not v:
            return "@av []"
        return "[" + ", ".join(f"<{gvariant(x)}>" for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "@a{sv} {}"
        return "{" + ", ".join(f"{string(k)}: <{gvariant(x)}>" for k, x in v.items()) + "}"
    raise ValueError(f"unexpected {type(v)}")


def main():
    text = sys.stdin.read()
    try:
        if sys.argv[1:] == ["--one"]:
            print(gvariant(loads(text)))
        elif sys.argv[1:] == ["--lines"]:
            if text and not text.endswith("\n"):
                raise ValueError("the last line does not end with a newline")
            values = []
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    raise ValueError(f"line {n} is empty")
                values.append(loads(line))
            print(gvariant(values) if values else "@av []")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ValueError as e:  # json.JSONDecodeError is one
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
