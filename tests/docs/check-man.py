#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks the built man pages, TAP output:
  - `groff -man -z -ww PAGE` and `man --warnings -l PAGE` print no warning, and no line of the
    page rendered 80 columns wide is wider than that;
  - --help-check PAGE=PROGRAM: the options in the terms of PAGE's OPTIONS section are exactly
    those that `PROGRAM --help` lists;
  - --commands-check PAGE=PROGRAM: the subsections of PAGE's COMMANDS section (their first
    word) are exactly the commands of the "Commands:" part of `PROGRAM --help`, and the terms
    of each subsection name exactly the options of `PROGRAM COMMAND --help` that are not
    global options.
  - --exit-status-check PAGE=PROGRAM: the terms of PAGE's EXIT STATUS section are exactly
    the codes of the "Exit status:" part of `PROGRAM --help`.
  So neither page can drift from its program.
  - --api-summary XML=MARKDOWN: every method, signal and property of the interface XML is
    named (in backticks) in the hand-written summary MARKDOWN (docs/api.md).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][A-Za-z0-9-]*)")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, name, diag=None):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}", flush=True)
        if diag:
            for d in diag.rstrip("\n").split("\n"):
                print(f"#   {d}", flush=True)
        if not ok:
            self.failed += 1


def plain(troff):
    """The text of a troff line without escapes (fonts, \\-, \\e, \\(aq, \\&)."""
    t = re.sub(r"\\f[BIRP]", "", troff)
    t = t.replace("\\-", "-").replace("\\(aq", "'").replace("\\(ga", "`").replace("\\&", "").replace("\\:", "")
    return t.replace("\\e", "\\")


def sections(page):
    """({SECTION: [terms of its .TP items]}, {(SECTION, subsection): [terms]}), as plain text."""
    by_sh, by_ss, sh, ss = {}, {}, None, None
    lines = open(page, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(r'\.S([HS])\s+"?(.*?)"?\s*$', line)
        if m and m.group(1) == "H":
            sh, ss = m.group(2).strip().upper(), None
            by_sh.setdefault(sh, [])
        elif m:
            ss = plain(m.group(2)).strip()
            by_ss.setdefault((sh, ss), [])
        elif line.startswith(".TP") and sh is not None and i + 1 < len(lines):
            term = plain(lines[i + 1])
            by_sh[sh].append(term)
            if ss is not None:
                by_ss[(sh, ss)].append(term)
    return by_sh, by_ss


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def help_text(program):
    rc, out, err = run([program, "--help"])
    if rc != 0:
        raise RuntimeError(f"{program} --help exited with {rc}: {err}")
    return out


def help_options(text):
    opts = set()
    for line in text.split("\n"):
        words = line.split()
        for w in words:
            if not w.startswith("-"):
                break
            w = re.split(r"[=\[]", w.rstrip(","), maxsplit=1)[0]
            if OPTION.fullmatch(w):
                opts.add(w)
    return opts


def help_commands(text):
    cmds, inside = set(), False
    for line in text.split("\n"):
        if re.match(r"^\S.*:\s*$", line):
            inside = re.match(r"^commands:\s*$", line.strip(), re.I) is not None
            continue
        if inside:
            m = re.match(r"^\s+([a-z][a-z0-9-]*)\b", line)
            if m:
                cmds.add(m.group(1))
            elif line.strip() and not line.startswith(" "):
                inside = False
    return cmds


def help_exit_codes(text):
    codes, inside = set(), False
    for line in text.split("\n"):
        if re.match(r"^\S.*:\s*$", line):
            inside = re.match(r"^exit status:\s*$", line.strip(), re.I) is not None
            continue
        if inside:
            m = re.match(r"^\s+(\d+(?:[-+]\w+)?)\s", line)
            if m:
                codes.add(m.group(1))
            elif line.strip() and not line.startswith(" "):
                inside = False
    return codes


def compare(tap, name, documented, listed, what, page, program):
    missing = sorted(listed - documented)
    stale = sorted(documented - listed)
    diag = []
    if missing:
        diag.append(f"in `{os.path.basename(program)} --help` but not in {os.path.basename(page)}: "
                    + ", ".join(missing))
    if stale:
        diag.append(f"in {os.path.basename(page)} but not in `{os.path.basename(program)} --help`: "
                    + ", ".join(stale))
    if not listed and what in ("options", "commands", "exit codes"):
        diag.append(f"found no {what} in `{program} --help`")
    tap.result(not diag, name, "\n".join(diag) or None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groff", default="groff")
    ap.add_argument("--man", default="man")
    ap.add_argument("--help-check", action="append", default=[], metavar="PAGE=PROGRAM")
    ap.add_argument("--commands-check", action="append", default=[], metavar="PAGE=PROGRAM")
    ap.add_argument("--exit-status-check", action="append", default=[], metavar="PAGE=PROGRAM")
    ap.add_argument("--api-summary", action="append", default=[], metavar="XML=MARKDOWN")
    ap.add_argument("pages", nargs="+")
    a = ap.parse_args()

    for tool in (a.groff, a.man):
        if not shutil.which(tool):
            print(f"1..0 # SKIP {tool} is missing (Debian: groff-base, man-db)")
            return 77
    tap = Tap()
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    env.pop("MAN_KEEP_FORMATTING", None)
    for page in a.pages:
        name = os.path.basename(page)
        rc, _out, err = run([a.groff, "-man", "-z", "-ww", page], env)
        tap.result(rc == 0 and not err.strip(), f"{name}: groff -man -z -ww", err or None)
        rc, out, err = run([a.man, "--warnings", "-E", "UTF-8", "-l", page], env)
        wide = [l for l in out.split("\n") if len(l) > 80]
        diag = err + "".join(f"wider than 80 columns: {l}\n" for l in wide)
        tap.result(rc == 0 and not diag.strip() and out.strip() != "", f"{name}: man --warnings -l",
                   diag or (None if rc == 0 else f"exit status {rc}"))

    for check in a.help_check:
        page, program = check.split("=", 1)
        name = f"{os.path.basename(page)}: OPTIONS as in {os.path.basename(program)} --help"
        try:
            documented = set()
            for term in sections(page)[0].get("OPTIONS", []):
                documented |= set(OPTION.findall(term))
            compare(tap, name, documented, help_options(help_text(program)), "options", page, program)
        except (RuntimeError, OSError) as e:
            tap.result(False, name, str(e))

    for check in a.commands_check:
        page, program = check.split("=", 1)
        name = f"{os.path.basename(page)}: COMMANDS as in {os.path.basename(program)} --help"
        try:
            top = help_text(program)
            by_ss = sections(page)[1]
            subsections = {title.split()[0]: terms for (sh, title), terms in by_ss.items()
                           if sh == "COMMANDS" and title.split()}
            listed = help_commands(top)
            compare(tap, name, set(subsections), listed, "commands", page, program)
        except (RuntimeError, OSError) as e:
            tap.result(False, name, str(e))
            continue
        global_options = help_options(top)
        for command in sorted(listed & set(subsections)):
            name = f"{os.path.basename(page)}: options of {command} as in {os.path.basename(program)} {command} --help"
            rc, out, _err = run([program, command, "--help"])
            if rc != 0:
                print(f"# {program} {command} --help exits {rc}: no options of its own to check")
                continue
            documented = set()
            for term in subsections[command]:
                documented |= set(OPTION.findall(term))
            compare(tap, name, documented - global_options, help_options(out) - global_options,
                    "options of the command", page, f"{program} {command}")

    for check in a.exit_status_check:
        page, program = check.split("=", 1)
        name = f"{os.path.basename(page)}: EXIT STATUS as in {os.path.basename(program)} --help"
        try:
            documented = {t.split()[0] for t in sections(page)[0].get("EXIT STATUS", []) if t.split()}
            compare(tap, name, documented, help_exit_codes(help_text(program)), "exit codes", page, program)
        except (RuntimeError, OSError) as e:
            tap.result(False, name, str(e))

    for check in a.api_summary:
        xml, md = check.split("=", 1)
        text = open(md, encoding="utf-8").read()
        missing = []
        for iface in ET.parse(xml).getroot().iter("interface"):
            for member in iface:
                if member.tag in ("method", "signal", "property") and f"`{member.get('name')}`" not in text:
                    missing.append(f"{iface.get('name').rsplit('.', 1)[-1]}.{member.get('name')}")
        tap.result(not missing, f"{os.path.basename(md)} names every member of {os.path.basename(xml)}",
                   ("missing: " + ", ".join(missing)) if missing else None)

    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
