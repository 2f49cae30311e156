#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every shell example of README.md and docs/**/*.md (except docs/examples/, whose
programs have tests of their own) on a private bus, and reports TAP.

What counts as a shell example:
  ```sh / ```shell / ```bash   a script: run with bash -e, must exit 0
  ```console                   a transcript: lines starting with "$ " are commands (a line
                               ending in "\\" continues), the lines after one are what it
                               prints (stdout and stderr); each command must exit 0 and print
                               output of that shape:
                                 - a number of four or more digits stands for any number
                                   (pids, timestamps); shorter numbers must match exactly;
                                 - a run of blanks stands for any run of blanks (columns);
                                 - "..." stands for any text within a line, and a line "..."
                                   for any number of lines;
                                 - nothing shown means nothing printed.
  an indented code block       a script, as ```sh (outside lists; prefer fences)
A fence without a language is an error: label anything else ```text, ```c, ```xml, ...

Markers, an HTML comment right before a block (blank lines between are fine):
  <!-- not-tested: REASON -->     not run (install steps, the system bus); listed as SKIP
  <!-- test: background -->       run in the background until the page is done, as "in another
                                  terminal": the next block starts once it printed something;
                                  it must still run at the end, or have exited 0.
  <!-- test: background, output contains "TEXT" -->   and its output must contain TEXT.

Each page gets a fresh private session bus (dbus-daemon, our own config) whose service
directory activates this build's childwatchd, exported as DBUS_SESSION_BUS_ADDRESS (busctl
--user, gdbus --session and childwatchctl use it); the system bus address points nowhere.
The blocks of a page run in order, each in its own shell, in a directory that looks like a
checkout with the build tree at build/: every entry of the source tree is linked there and
build/ is this build. childwatchctl of this build is first in PATH, as installed. At the end of
a page everything that its blocks left running is stopped.
"""

import argparse
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SHELL = {"sh", "shell", "bash"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")
MARKER = re.compile(r"<!--\s*(not-tested|test):\s*(.*?)\s*-->")
ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])(\s+)")
BLOCK_TIMEOUT = 60


class DocError(Exception):
    pass


class Block:
    def __init__(self, path, line, kind, lines, marker):
        self.path, self.line, self.kind, self.lines, self.marker = path, line, kind, lines, marker
        self.skip = None
        self.background = False
        self.output_contains = None
        if marker:
            what, arg, mline = marker
            if what == "not-tested":
                if not arg:
                    raise DocError(f"{path}:{mline}: not-tested needs a reason")
                self.skip = arg
            else:
                m = re.fullmatch(r'background(?:,\s*output contains "(.+)")?', arg)
                if not m:
                    raise DocError(f"{path}:{mline}: unknown marker 'test: {arg}'")
                self.background = True
                self.output_contains = m.group(1)
                if kind != "sh":
                    raise DocError(f"{path}:{mline}: only a script (```sh) runs in the background")

    def name(self, root):
        return f"{os.path.relpath(self.path, root)}:{self.line} ({self.kind})"


def indent_of(line):
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def extract(path):
    """The shell examples of a markdown file, with their markers."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks = []
    marker = None
    list_indent = None  # content indentation of the list item we are in
    prev_blank = True
    in_paragraph = False
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        m = FENCE.match(line)
        if m:
            indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
            close = re.compile(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
            body = []
            j = i + 1
            while j < len(lines) and not close.match(lines[j]):
                body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j].lstrip())
                j += 1
            if j == len(lines):
                raise DocError(f"{path}:{i + 1}: code block without its closing fence")
            if not lang:
                raise DocError(f"{path}:{i + 1}: code block without a language: ```sh or ```console "
                               "for a shell example (it is run), ```text or another language otherwise")
            if lang in SHELL or lang == "console":
                blocks.append(Block(path, i + 1, "console" if lang == "console" else "sh", body, marker))
            elif marker:
                raise DocError(f"{path}:{marker[2]}: a marker before a ```{lang} block")
            marker = None
            prev_blank, in_paragraph = False, False
            i = j + 1
            continue
        mm = MARKER.fullmatch(s)
        if mm:
            if marker:
                raise DocError(f"{path}:{i + 1}: two markers in a row")
            marker = (mm.group(1), mm.group(2), i + 1)
            i += 1
            continue
        if not s:
            prev_blank, in_paragraph = True, False
            i += 1
            continue
        ind = indent_of(line)
        item = ITEM.match(line.expandtabs(4))
        if list_indent is not None and prev_blank and ind < list_indent and not item:
            list_indent = None  # a paragraph left of the item's content ends the list
        base = list_indent or 0
        if ind >= base + 4 and prev_blank and not in_paragraph:
            body = []
            j = i
            while j < len(lines) and (not lines[j].strip() or indent_of(lines[j]) >= base + 4):
                body.append(lines[j].expandtabs(4)[base + 4:])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            blocks.append(Block(path, i + 1, "sh", body, marker))
            marker = None
            prev_blank, in_paragraph = False, False
            i = j
            continue
        if marker:
            raise DocError(f"{path}:{marker[2]}: a marker must come right before a code block")
        if item:
            list_indent = len(item.group(0))
        prev_blank, in_paragraph = False, True
        i += 1
    if marker:
        raise DocError(f"{path}:{marker[2]}: a marker at the end of the file")
    return blocks


# ---- output shapes ----------------------------------------------------------------------------------

def shape(expected):
    while expected and not expected[-1].strip():
        expected = expected[:-1]
    rx = []
    for line in expected:
        if line.strip() == "...":
            rx.append(r"(?:[^\n]*\n)*?")
            continue
        parts = []
        for tok in re.split(r"(\d{4,}|\.\.\.|[ \t]+)", line.rstrip()):
            if tok == "...":
                parts.append(r"[^\n]*?")
            elif re.fullmatch(r"\d{4,}", tok):
                parts.append(r"\d+")
            elif tok.strip() == "" and tok:
                parts.append(r"[ \t]+")
            else:
                parts.append(re.escape(tok))
        rx.append("".join(parts) + r"\n")
    return re.compile("".join(rx))


def normalize(text):
    lines = [l.rstrip() for l in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(l + "\n" for l in lines)


def parse_console(block):
    cmds = []
    cont = False
    for n, line in enumerate(block.lines):
        if cont:
            cmds[-1][0].append(line)
        elif line.startswith("$ ") or line == "$":
            cmds.append(([line[2:]], [], block.line + 1 + n))
        elif not cmds:
            raise DocError(f"{block.path}:{block.line}: a console block starts with a '$ ' command")
        else:
            cmds[-1][1].append(line)
            continue
        cont = line.rstrip().endswith("\\")
    return cmds


# ---- processes --------------------------------------------------------------------------------------

def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def descendants(pid=None):
    pid = pid or os.getpid()
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for k in kids:
            out.append(k)
            out.extend(descendants(k))
    return out


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_everything():
    """Ends every process this runner still has below it (orphans come to us: subreaper)."""
    deadline = time.monotonic() + 5
    sig = signal.SIGTERM
    while True:
        reap()
        left = descendants()
        if not left:
            return
        if time.monotonic() > deadline - 3:
            sig = signal.SIGKILL
        for p in left:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def kill_group(pgid, sig=signal.SIGTERM):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---- a page -----------------------------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, name, diag=None, directive=None):
        self.n += 1
        line = f"{'ok' if ok else 'not ok'} {self.n} - {name}"
        if directive:
            line += f" # {directive}"
        print(line, flush=True)
        if diag:
            for d in diag.rstrip("\n").split("\n"):
                print(f"#   {d}", flush=True)
        if not ok:
            self.failed += 1


def tail(path, limit=40):
    try:
        lines = open(path, errors="replace").read().rstrip("\n").split("\n")
    except OSError:
        return ""
    return "\n".join(lines[-limit:])


class Page:
    def __init__(self, args, path, blocks, tap):
        self.args, self.path, self.blocks, self.tap = args, path, blocks, tap
        self.tmp = tempfile.mkdtemp(prefix="cw-doc-examples-")
        self.work = os.path.join(self.tmp, "work")
        self.groups = []
        self.background = []

    def setup(self):
        os.mkdir(self.work)
        for e in os.listdir(self.args.source_root):
            if e != "build":
                os.symlink(os.path.join(self.args.source_root, e), os.path.join(self.work, e))
        os.symlink(self.args.build_root, os.path.join(self.work, "build"))
        for d in ("home", "runtime"):
            os.mkdir(os.path.join(self.tmp, d), 0o700)

        sock = os.path.join(self.tmp, "bus")
        conf = os.path.join(self.tmp, "bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{self.args.services_dir}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
""")
        env = dict(os.environ)
        for k in list(env):
            if k.startswith(("DBUS_STARTER_", "CHILDWATCH_TEST_", "MESON_")) or k in ("LD_PRELOAD",):
                del env[k]
        env.update({
            "HOME": os.path.join(self.tmp, "home"),
            "XDG_RUNTIME_DIR": os.path.join(self.tmp, "runtime"),
            "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + os.path.join(self.tmp, "no-system-bus"),
            "LC_ALL": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1",
            "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "cat", "PAGER": "cat",
        })
        ctl_dir = os.path.join(self.args.build_root, "src", "ctl")
        env["PATH"] = ctl_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        log = open(os.path.join(self.tmp, "dbus-daemon.log"), "w")
        self.bus = subprocess.Popen([self.args.dbus_daemon, "--config-file", conf, "--nofork", "--nopidfile",
                                     "--print-address=1"], stdout=subprocess.PIPE, stderr=log,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        address = self.bus.stdout.readline().decode().strip()
        if not address:
            raise DocError(f"dbus-daemon did not start: {tail(log.name)}")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        self.env = env

    def spawn(self, k, script_text):
        script = os.path.join(self.tmp, f"block-{k}.sh")
        with open(script, "w") as f:
            f.write(script_text)
        out = os.path.join(self.tmp, f"block-{k}.out")
        p = subprocess.Popen(["bash", "-e", script], cwd=self.work, env=self.env,
                             stdin=subprocess.DEVNULL, stdout=open(out, "w"), stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.groups.append(p.pid)
        return p, out

    def wait(self, p):
        try:
            return p.wait(timeout=BLOCK_TIMEOUT), None
        except subprocess.TimeoutExpired:
            kill_group(p.pid, signal.SIGKILL)
            p.wait()
            return None, f"still running after {BLOCK_TIMEOUT} s: killed"

    def run_sh(self, k, b):
        p, out = self.spawn(k, "\n".join(b.lines) + "\n")
        if b.background:
            # Like a second terminal: the page goes on once this one has started talking.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and p.poll() is None and os.path.getsize(out) == 0:
                time.sleep(0.05)
            self.background.append((b, p, out))
            return
        rc, why = self.wait(p)
        ok = rc == 0
        self.tap.result(ok, b.name(self.args.source_root),
                        None if ok else f"{why or f'exit status {rc}'}; output:\n{tail(out)}")

    def run_console(self, k, b):
        cmds = parse_console(b)
        outs = [os.path.join(self.tmp, f"block-{k}-cmd-{n}.out") for n in range(len(cmds))]
        status = os.path.join(self.tmp, f"block-{k}.failed")
        text = ["set +e"]
        for n, (cmd, _expected, _line) in enumerate(cmds):
            text += ["{", *cmd, f"}} >'{outs[n]}' 2>&1 </dev/null",
                     f"rc=$?; if [ $rc -ne 0 ]; then echo {n} $rc >'{status}'; exit $rc; fi"]
        p, out = self.spawn(k, "\n".join(text) + "\n")
        rc, why = self.wait(p)
        problems = []
        if rc != 0:
            failed = open(status).read().split() if os.path.exists(status) else None
            if failed:
                n, code = int(failed[0]), failed[1]
                problems.append(f"line {cmds[n][2]}: `{' '.join(cmds[n][0])}` exited with {code}; "
                                f"output:\n{tail(outs[n])}")
            else:
                problems.append(f"{why or f'exit status {rc}'}; output:\n{tail(out)}")
        for n, (cmd, expected, line) in enumerate(cmds):
            if not os.path.exists(outs[n]) or problems:
                break
            actual = normalize(open(outs[n], errors="replace").read())
            if not shape(expected).fullmatch(actual):
                problems.append(f"line {line}: `{' '.join(cmd)}` printed\n{actual.rstrip() or '(nothing)'}"
                                f"\nwhich does not match what the page shows:\n"
                                + ("\n".join(expected) or "(nothing)"))
        self.tap.result(not problems, b.name(self.args.source_root), "\n".join(problems) or None)

    def run(self):
        try:
            self.setup()
            for k, b in enumerate(self.blocks):
                if b.skip:
                    self.tap.result(True, b.name(self.args.source_root), directive=f"SKIP not-tested: {b.skip}")
                elif b.kind == "console":
                    self.run_console(k, b)
                else:
                    self.run_sh(k, b)
            for b, p, out in self.background:
                rc = p.poll()
                if rc is None:
                    kill_group(p.pid)
                    try:
                        p.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        kill_group(p.pid, signal.SIGKILL)
                        p.wait()
                problems = []
                if rc not in (None, 0):
                    problems.append(f"ended early with exit status {rc}")
                text = open(out, errors="replace").read()
                if b.output_contains and b.output_contains not in text:
                    problems.append(f"its output lacks {b.output_contains!r}")
                self.tap.result(not problems, b.name(self.args.source_root) + ", in the background",
                                "; ".join(problems) + f"; output:\n{tail(out)}" if problems else None)
        finally:
            for g in self.groups:
                kill_group(g)
            if getattr(self, "bus", None):
                self.bus.terminate()
                try:
                    self.bus.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.bus.kill()
                    self.bus.wait()
            stop_everything()
            if self.tap.failed and not self.args.keep:
                print(f"# logs of {os.path.relpath(self.path, self.args.source_root)} kept in {self.tmp}")
            elif not self.args.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)


def pages(root):
    found = [os.path.join(root, "README.md")]
    for d, dirs, files in os.walk(os.path.join(root, "docs")):
        dirs[:] = sorted(x for x in dirs if os.path.relpath(os.path.join(d, x), root) != "docs/examples")
        found += [os.path.join(d, f) for f in sorted(files) if f.endswith(".md")]
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--build-root", required=True)
    ap.add_argument("--services-dir", required=True, help="activation files for this build's service")
    ap.add_argument("--dbus-daemon", default="dbus-daemon")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--list", action="store_true", help="only list the examples")
    ap.add_argument("files", nargs="*", help="pages (default: README.md and docs/**/*.md)")
    a = ap.parse_args()
    a.source_root = os.path.abspath(a.source_root)
    a.build_root = os.path.abspath(a.build_root)
    a.services_dir = os.path.abspath(a.services_dir)

    tap = Tap()
    try:
        found = [(p, extract(p)) for p in (a.files or pages(a.source_root))]
    except (DocError, OSError) as e:
        print(f"Bail out! {e}")
        return 1
    if a.list:
        for p, blocks in found:
            for b in blocks:
                print(b.name(a.source_root) + (f"  not-tested: {b.skip}" if b.skip else
                                               "  background" if b.background else ""))
        return 0
    set_subreaper()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for p, blocks in found:
        if not blocks:
            continue
        print(f"# {os.path.relpath(p, a.source_root)}", flush=True)
        try:
            Page(a, p, blocks, tap).run()
        except DocError as e:
            tap.result(False, os.path.relpath(p, a.source_root), str(e))
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
