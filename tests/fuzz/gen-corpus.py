#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpora of fuzz-spawn-options.c and fuzz-bus-handlers.c.

The bytes are not D-Bus messages but the choices that the targets make while
they build them (see fuzz-builder.c and the op loop of fuzz-bus-handlers.c);
this script spells those choices out, one small file per case worth starting
from. Run it from anywhere; it rewrites corpus/*/seed-*.
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


# ---- fuzz-bus-handlers.c: scripts of operations ----

METHODS = ["Spawn", "Adopt", "AdoptPid", "GetProcess", "ListProcesses", "SendSignal", "Kill", "Wait",
           "GetPidfd", "Release", "GetPty", "Get", "GetAll", "Set", "Introspect", "Ping", "GetMachineId",
           "GetManagedObjects"]
MANAGER_METHODS = METHODS[:5]
PROGRAMS = ["true", "false", "true-by-path", "sleep", "sleep-short", "stop-self", "orphan", "ignores-term",
            "segv", "exit-77", "nonexistent", "nonexistent-relative", "not-executable", "directory", "empty"]
INTERFACES = ["org.childwatch.ChildWatch1.Manager", "org.childwatch.ChildWatch1.Process",
              "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Peer", "org.childwatch.ChildWatch1", "",
              "org.childwatch.ChildWatch1.Nope"]
PROPERTIES = ["Version", "Features", "Id", "Pid", "Argv", "Description", "Owner", "OwnerUid", "Uid", "Adopted",
              "State", "ExitStatus", "StartTimestamp", "ExitTimestamp", "WatchBus", "KillOnRelease", "Parent",
              "Descendants", "Tree", "TreeRunning", "UserTimeUSec", "SystemTimeUSec", "TreeUserTimeUSec",
              "TreeSystemTimeUSec", "TreeMemoryPeak", "Pty", "", "state", "Nope"]
WRONG_SIGNATURES = ["", "s", "u", "i", "t", "h", "b", "as", "a{sv}", "ib", "bi", "asa{sv}", "ua{sv}", "ha{sv}",
                    "sa{sv}", "asas", "a{sv}as", "ss", "ssv", "sv", "uu", "hh", "ai", "v"]
SIGNALS = ["0", "TERM", "KILL", "STOP", "CONT", "USR1", "HUP", "64", "65", "-1"]
TIMEOUTS = [0, 1000, 20000, "max"]
# pick_fd(): a byte; 0-8 the pool (0 /dev/null, 1/2 a pipe, 3/4 a socketpair, 5 O_PATH, 6 eventfd,
# 7 memfd, 8 a directory), 9 a reaped process's pidfd, 10 our own, 11 the spawn helper's,
# 12 a process outside the service's tree, 14 + 16k the pidfd of this input's k-th object.
FD = {"null": 0, "pipe": 1, "socket": 3, "opath": 5, "memfd": 7, "dead": 9, "self": 10, "helper": 11,
      "foreign": 12, "object": 14}
# pick_adopt_pid(): 0, ours, the helper's, a foreign process, this input's k-th object (5 + 8k),
# above pid_max, UINT32_MAX.
PID = {"zero": 0, "self": 1, "helper": 2, "foreign": 3, "object": 5, "too-big": 6, "max": 7}

FLUSH, RUN = b"\xc0", b"\xdc"


def call(method, *args, client=0, obj=None, flags=0, path=None, signature=None):
    """One call; @obj: the index of an object this input created (a process path)."""
    if signature is not None:
        flags |= 0x06
    out = bytes([client, METHODS.index(method), flags])
    if signature is not None:
        out += bytes([WRONG_SIGNATURES.index(signature)])
    if method not in MANAGER_METHODS or flags & 0x08:
        out += bytes([8 * obj]) if obj is not None else bytes([path if path is not None else 3])
    return out + b"".join(args)


def program(name, *extra):
    out = bytes([PROGRAMS.index(name)])
    if PROGRAMS.index(name) <= 1:
        out += strv(*extra)
    return out


def spawn(name, *opts, **kw):
    return call("Spawn", program(name), options(*opts), **kw)


def sig(name):
    return bytes([SIGNALS.index(name)])


def name_of(table, s):
    return bytes([table.index(s)])


HANDLER_SEEDS = {
    "spawn-true-wait": spawn("true") + FLUSH + call("Wait", obj=0),
    "spawn-true-args": spawn("true", text("--x"), word("A=B")) + FLUSH + call("Wait", obj=0),
    "spawn-options": spawn("true", key("cwd") + word("/tmp"), key("environment") + strv(word("A=B")),
                           key("stdout") + bytes([FD["pipe"] + 1]), key("description") + text("d"),
                           key("fds") + count(1) + target(5) + bytes([FD["memfd"]])) + FLUSH +
                     call("Wait", obj=0),
    "sleep-signals-kill": spawn("sleep") + FLUSH + call("SendSignal", sig("STOP"), b"\x00", obj=0) +
                          call("SendSignal", sig("CONT"), b"\x00", obj=0) +
                          call("SendSignal", sig("65"), b"\x01", obj=0) + call("Kill", bytes([2]), obj=0) +
                          call("Wait", obj=0),
    "stop-self": spawn("stop-self") + FLUSH + RUN + call("SendSignal", sig("CONT"), b"\x00", obj=0) +
                 call("Wait", obj=0),
    "orphan": spawn("orphan") + FLUSH + RUN + call("ListProcesses") + call("GetManagedObjects", path=3),
    "tree-kill": spawn("orphan", key("tree") + b"\x01") + FLUSH + RUN + call("Kill", bytes([0]), obj=0) +
                 call("SendSignal", sig("TERM"), b"\x01", obj=0),
    "new-session-group": spawn("sleep", key("new-session") + b"\x01") + FLUSH +
                         call("SendSignal", sig("TERM"), b"\x01", obj=0) + call("Wait", obj=0),
    "ignores-term": spawn("ignores-term") + FLUSH + RUN + call("Kill", bytes([1]), obj=0) +
                    call("Kill", bytes([3]), obj=0),
    "kill-signal-option": spawn("sleep", key("kill-signal") + small_int(10),
                                key("kill-timeout-usec") + u64(1000)) + FLUSH + call("Kill", bytes([3]), obj=0),
    "segv-exit": spawn("segv") + spawn("exit-77") + spawn("false") + FLUSH + call("Wait", obj=0) +
                 call("Wait", obj=1) + call("Wait", obj=2),
    "spawn-failures": spawn("nonexistent") + spawn("nonexistent-relative") + spawn("not-executable") +
                      spawn("directory"),
    "spawn-empty": spawn("empty") + call("Spawn", b"\xff", options()),
    "spawn-limit": spawn("sleep") + spawn("sleep") + spawn("sleep") + spawn("sleep") + FLUSH,
    "adopt-foreign": call("Adopt", bytes([FD["foreign"]]), options()) + FLUSH +
                     call("GetPidfd", obj=0) + call("SendSignal", sig("TERM"), b"\x00", obj=0) +
                     call("Wait", obj=0),
    "adopt-foreign-kill-on-release": call("Adopt", bytes([FD["foreign"]]),
                                          options(key("kill-on-release") + b"\x01")) + FLUSH +
                                     call("Release", obj=0),
    "adopt-wrong-fds": b"".join(call("Adopt", bytes([FD[k]]), options())
                                for k in ["null", "dead", "self", "helper", "socket", "opath"]),
    "adoptpid": b"".join(call("AdoptPid", bytes([PID[k]]), options())
                         for k in ["zero", "self", "helper", "foreign", "too-big", "max"]),
    "adopt-own-child": spawn("sleep") + FLUSH + call("AdoptPid", bytes([PID["object"]]), options()) +
                       call("Adopt", bytes([FD["object"]]), options()),
    "adopt-twice": call("AdoptPid", bytes([PID["foreign"]]), options()) +
                   call("Adopt", bytes([FD["foreign"]]), options()),
    "get-process": spawn("sleep") + FLUSH + call("GetProcess", u32(0)) + call("GetProcess", u32(1)),
    "properties-manager": call("Get", name_of(INTERFACES, INTERFACES[0]), name_of(PROPERTIES, "Version")) +
                          call("GetAll", name_of(INTERFACES, INTERFACES[0])) +
                          call("Set", name_of(INTERFACES, INTERFACES[0]), name_of(PROPERTIES, "Version"),
                               bytes([SIGNATURES.index("s")]), word("/")) +
                          call("Introspect") + call("Ping") + call("GetMachineId"),
    "properties-process": spawn("true") + FLUSH + RUN +
                         call("GetAll", name_of(INTERFACES, INTERFACES[1]), obj=0) +
                         call("Get", name_of(INTERFACES, INTERFACES[1]), name_of(PROPERTIES, "State"), obj=0) +
                         call("Get", name_of(INTERFACES, INTERFACES[1]), name_of(PROPERTIES, "Nope"), obj=0) +
                         call("Introspect", obj=0),
    "release-then-call": spawn("sleep") + FLUSH + call("Release", obj=0) + FLUSH + call("Wait", obj=0) +
                         call("Kill", bytes([0]), obj=0),
    "pty": spawn("true", key("pty") + b"\x01", key("pty-size") + b"\x10\x00") + FLUSH +
           call("GetPty", obj=0) + call("Wait", obj=0) + call("GetPty", obj=0),
    "client-leaves": spawn("sleep", key("kill-on-release") + b"\x01", key("watch-bus") + b"\x01") + FLUSH +
                     call("Wait", obj=0) + b"\xd8" + RUN,
    "other-client": spawn("sleep") + FLUSH + call("Kill", bytes([0]), obj=0, client=1),
    "killed-behind": spawn("sleep") + FLUSH + b"\xd0" + RUN + call("Wait", obj=0),
    "wrong-signatures": call("Spawn", signature="") + call("Kill", signature="s", obj=0) +
                        call("AdoptPid", word("/"), signature="s"),
    "no-reply": spawn("true", flags=0x10) + call("Wait", flags=0x10, path=3),
    "odd-paths": call("Wait", path=5) + call("Wait", path=5 + 8) + call("Wait", path=5 + 16) +
                 call("Wait", path=4) + call("Ping", path=5 + 48),
    "unknown-member": bytes([0, 0xf9, 0]) + bytes([0, 0xf8, 0x01, 3]),
}


def main():
    here = pathlib.Path(__file__).resolve().parent / "corpus"
    for corpus, seeds in (("spawn-options", SEEDS), ("bus-handlers", HANDLER_SEEDS)):
        out = here / corpus
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("seed-*"):
            old.unlink()
        for name, data in seeds.items():
            (out / f"seed-{name}").write_bytes(data)
        print(f"{len(seeds)} seeds in {out}")


if __name__ == "__main__":
    main()
