#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spawn-wait: the C example spawn-wait.c in Python, with plain Gio (PyGObject, no generated
bindings): starts `sh -c 'exit 3'` through the childwatch service on the session bus, waits for its
end in a GLib main loop, prints what happened and exits with the child's exit code (128 + the
signal number when a signal ended it; 1 when the example itself fails). Its output:

    spawned /org/childwatch/ChildWatch1/process/1 (pid 4242)
    state-changed: exited 3
    ended: exited 3

Needs python3-gi (Debian's package name).
"""

import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

NAME = "org.childwatch.ChildWatch1"
MANAGER_PATH = "/org/childwatch/ChildWatch1"
MANAGER_IFACE = "org.childwatch.ChildWatch1.Manager"
PROCESS_IFACE = "org.childwatch.ChildWatch1.Process"
TERMINAL = ("exited", "killed", "dumped", "vanished")
# Wait() answers only when the process has ended: no call timeout.
NO_TIMEOUT = GLib.MAXINT


class SpawnWait:
    def __init__(self, bus):
        self.bus = bus
        self.loop = GLib.MainLoop()
        self.path = None
        self.events = {}  # object path -> [(event, status)], for paths not known yet too
        self.ended = None  # (state, status) from Wait()
        self.exit_code = 1

    def on_state_changed(self, bus, sender, path, iface, member, params):
        event, status = params.unpack()
        self.events.setdefault(path, []).append((event, status))
        self.maybe_finish()

    def on_waited(self, bus, result):
        try:
            self.ended = bus.call_finish(result).unpack()
        except GLib.Error as e:
            print(f"wait: {e.message}", file=sys.stderr)
            self.loop.quit()
            return
        self.maybe_finish()

    def maybe_finish(self):
        # The Wait() reply and the StateChanged signal of the end come in either order: print
        # once both are here, the signals first.
        mine = self.events.get(self.path, [])
        if self.ended is None or not any(event in TERMINAL for event, _ in mine):
            return
        for event, status in mine:
            print(f"state-changed: {event} {status}")
        state, status = self.ended
        print(f"ended: {state} {status}")
        if state == "exited":
            self.exit_code = status
        elif state in ("killed", "dumped"):
            self.exit_code = 128 + status
        # The object of an ended process stays until its owner releases it.
        self.bus.call_sync(NAME, self.path, PROCESS_IFACE, "Release", None, None,
                           Gio.DBusCallFlags.NONE, -1, None)
        self.loop.quit()

    def run(self):
        # Listen before spawning: a short program may end before Spawn() has even answered, and
        # its StateChanged would be lost to a subscription made afterwards.
        sub = self.bus.signal_subscribe(NAME, PROCESS_IFACE, "StateChanged", None, None,
                                        Gio.DBusSignalFlags.NONE, self.on_state_changed)
        try:
            # The bus starts the service on this call if it does not run yet.
            reply = self.bus.call_sync(
                NAME, MANAGER_PATH, MANAGER_IFACE, "Spawn",
                GLib.Variant("(asa{sv})", (["sh", "-c", "exit 3"], {})),
                GLib.VariantType("(ou)"), Gio.DBusCallFlags.NONE, -1, None)
        except GLib.Error as e:
            # e.g. "GDBus.Error:org.childwatch.ChildWatch1.Error.SpawnFailed: execve(...): ..."
            print(f"spawn: {e.message}", file=sys.stderr)
            return 1
        self.path, pid = reply.unpack()
        print(f"spawned {self.path} (pid {pid})")

        self.bus.call(NAME, self.path, PROCESS_IFACE, "Wait", None, GLib.VariantType("(si)"),
                      Gio.DBusCallFlags.NONE, NO_TIMEOUT, None, self.on_waited)
        self.loop.run()
        self.bus.signal_unsubscribe(sub)
        return self.exit_code


def main():
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    except GLib.Error as e:
        print(f"connect: {e.message}", file=sys.stderr)
        return 1
    code = SpawnWait(bus).run()
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
