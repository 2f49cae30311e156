#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus of fuzz-spawn-options.c.

The bytes are not a D-Bus message but the choices that fuzz-spawn-options.c
makes while it builds one (see take_byte() and friends there); this script
spells those choices out, one small file per case worth starting from.
Run it from anywhere; it rewrites corpus/spawn-options/seed-*.
"""

import pathlib
import struct

OPTIONS = ["cwd", "environment", "clear-environment", "unset-environment", "stdin", "stdout",
           "stderr", "fds", "new-session", "events", "watch-bus", "kill-on-release",
           "kill-signal", "kill-timeout-usec", "description", "tree", "user", "group", "pty", "pty-size"]
DICTIONARY = ["/", "/tmp", "relative", "", "exited", "stopped", "continued", "killed", "A=B", "A=",
              "=B", "NAME", "PATH=/bin", "=", "//", "/.."]
SIGNATURES = ["s", "b", "i", "u", "t", "h", "as", "a{uh}", "a{sv}", "v", "ai", "ay", "aas", "(si)",
              "o", "g", "d", "y", "(uu)"]
CHARSET = "/=ABCPXYZ_.- 0123456789abcdefghijklmnopqrstuvwxyz"


def key(name):
    """A real key with its own type."""
    return bytes([OPTIONS.index(name), 0])


def key_as(name, signature):
    """A real key with the type @signature (t >= 0xa0 picks SIGNATURES[t % len])."""
    t = next(t for t in range(0xa0, 0x100) if t % len(SIGNATURES) == SIGNATURES.index(signature))
    return bytes([OPTIONS.index(name), t])


def word(s):
    """A string from the dictionary."""
    return bytes([DICTIONARY.index(s)])


def text(s):
    """Any string over CHARSET, up to 63 characters."""
    assert len(s) < 64
    return bytes([0x80 | len(s)]) + bytes(CHARSET.index(c) for c in s)


def count(n):
    """An array length, as take_count() reads it."""
    if n < 6:
        return bytes([n])
    if n % 20 == 0 and n <= 260:
        return bytes([0xf0 + n // 20])
    assert 250 <= n <= 505
    return bytes([0xfe, n - 250])


def strv(*items):
    return count(len(items)) + b"".join(items)


def i32(v):
    return bytes([0x80]) + struct.pack(">i", v)


def small_int(v):
    """-2...67 in one byte."""
    return bytes([v + 2])


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def target(t):
    """A descriptor target of an a{uh} element: 0...7 directly, any other through 4 bytes."""
    if t < 8:
        return bytes([t])
    return bytes([0xc0]) + u32(t)


def options(*entries):
    return bytes([len(entries)]) + b"".join(entries)


SEEDS = {
    "empty": b"",
    "no-options": options(),
    "all-valid": options(
        key("cwd") + word("/tmp"),
        key("environment") + strv(word("A=B"), word("PATH=/bin"), word("A=")),
        key("clear-environment") + b"\x01",
        key("unset-environment") + strv(word("NAME")),
        key("stdin"), key("stdout"), key("stderr"),
        key("fds") + count(3) + target(3) + target(7) + target(65535),
        key("new-session") + b"\x01",
        key("events") + strv(word("exited"), word("stopped"), word("continued")),
        key("watch-bus") + b"\x01",
        key("kill-on-release") + b"\x01",
        key("kill-signal") + small_int(9),
        key("kill-timeout-usec") + u64(1000000),
        key("description") + text("a child"),
        key("tree") + b"\x01",
    ),
    "adopt-valid": options(
        key("description") + word(""),
        key("events") + strv(),
        key("kill-signal") + i32(64),
        key("kill-timeout-usec") + u64(2**64 - 1),
    ),
    "cwd-relative": options(key("cwd") + word("relative")),
    "cwd-empty": options(key("cwd") + word("")),
    "environment-no-name": options(key("environment") + strv(word("A=B"), word("=B"))),
    "environment-no-equals": options(key("environment") + strv(word("NAME"))),
    "unset-assignment": options(key("unset-environment") + strv(word("A="))),
    "events-unknown": options(key("events") + strv(word("stopped"), word("killed"))),
    "fds-low-target": options(key("fds") + count(1) + target(2)),
    "fds-high-target": options(key("fds") + count(1) + target(65536)),
    "fds-twice": options(key("fds") + count(3) + target(5) + target(6) + target(5)),
    "fds-at-limit": options(key("fds") + count(240) + b"\x50" * 240),
    "fds-over-limit": options(key("fds") + count(250) + b"\x50" * 250),
    "kill-signal-zero": options(key("kill-signal") + small_int(0)),
    "kill-signal-too-high": options(key("kill-signal") + small_int(65)),
    "kill-signal-negative": options(key("kill-signal") + i32(-2**31)),
    "wrong-type-cwd": options(key_as("cwd", "as") + strv(word("/"))),
    "wrong-type-fds": options(key_as("fds", "a{sv}") + count(1) + bytes([SIGNATURES.index("s")]) +
                              text("stdin") + word("/")),
    "wrong-type-signal": options(key_as("kill-signal", "u") + u32(9)),
    "wrong-type-nested": options(key_as("environment", "aas") + count(2) + strv(word("A=B")) + strv()),
    "variant-in-variant": options(key_as("stdin", "v") + bytes([SIGNATURES.index("v")]) +
                                  bytes([SIGNATURES.index("(si)")]) + word("/") + small_int(1)),
    "unknown-key": options(bytes([0xc1, 0]) + word("/")),
    "random-key": options(bytes([0xf5, 0]) + b"\x01\x02\x03\x04\x05" + word("/")),
    "tree-adopt": options(key("tree") + b"\x00"),
    "user-group": options(key("user") + word("NAME"), key("group") + text("0")),
    "user-empty": options(key("user") + word("")),
    "pty-size": options(key("pty") + b"\x01", key("pty-size") + b"\x10\x00"),
    "pty-size-alone": options(key("pty-size") + b"\x90" + u32(0) + b"\x90"),
    "duplicate-key": options(key("watch-bus") + b"\x01", key("watch-bus") + b"\x00"),
    "many-strings": options(key("environment") + count(300) + (text("A=") + b"") * 300),
    "long-strings": options(key("description") + text("x" * 63), key("cwd") + text("/" + "y" * 62)),
}


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus" / "spawn-options"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("seed-*"):
        old.unlink()
    for name, data in SEEDS.items():
        (out / f"seed-{name}").write_bytes(data)
    print(f"{len(SEEDS)} seeds in {out}")


if __name__ == "__main__":
    main()
