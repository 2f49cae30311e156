#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the man pages of childwatch as troff (man macros), with python3 alone.

  mkman.py interface XML -o PAGE.5 --version V --name NAME --description TEXT
      The reference page of a D-Bus interface, generated from the introspection
      XML and its gtk-doc comments (the syntax gdbus-codegen reads): a synopsis
      of every interface, then every method, signal and property with its
      arguments, type, access and text. Fails when an interface, member or
      argument has no documentation, when a comment names an argument that does
      not exist, or when a #reference names an interface or member that does not
      exist, so the page cannot drift from the XML, nor the XML lose its docs.

  mkman.py page MARKDOWN -o PAGE.N --version V
      A hand-written page from a small markdown dialect (see md_page()).

Only constructs that this script knows are accepted; anything else is an error
rather than silently dropped text.
"""

import argparse
import re
import sys
import textwrap
import xml.etree.ElementTree as ET


class DocError(Exception):
    pass


# ---- troff ------------------------------------------------------------------------------------------

def esc(text, code=False):
    """Escapes text for troff. In code, '-' is a minus and quotes stay ASCII, so that
    options and commands can be copied from the rendered page."""
    text = text.replace("\\", "\\e")
    if code:
        text = text.replace("-", "\\-").replace("'", "\\(aq").replace("`", "\\(ga")
    return text


def fill(text, width=100):
    """One paragraph of troff text as lines; none may start with a control character."""
    lines = textwrap.wrap(" ".join(text.split()), width, break_long_words=False,
                          break_on_hyphens=False)
    return [("\\&" + l) if l[:1] in (".", "'") else l for l in lines]


def verbatim(lines):
    """Lines for no-fill mode, as given (code)."""
    out = []
    for l in lines:
        l = esc(l, code=True)
        out.append(("\\&" + l) if l[:1] in (".", "'") or l == "" else l)
    return out


def th(name, section, version, manual):
    # No hyphenation and no justification: D-Bus names and options stay whole and copyable.
    return [f'.TH "{name.upper()}" "{section}" "" "childwatch {version}" "{manual}"', ".nh", ".ad l"]


# ---- D-Bus interface page ---------------------------------------------------------------------------

class Doc:
    """A gtk-doc comment as gdbus-codegen parses it: 'Symbol:' line, '@key: value' lines, body."""

    def __init__(self, comment, where):
        lines = comment.split("\n")
        self.symbol = None
        self.params = {}
        body = []
        state = "begin"
        for line in lines:
            s = line.strip()
            if state == "begin":
                if not s:
                    continue
                if not s.endswith(":") or " " in s:
                    raise DocError(f"{where}: a doc comment starts with 'Symbol:', not {s!r}")
                self.symbol = s[:-1]
                state = "params"
            elif state == "params" and s.startswith("@"):
                key, sep, value = s[1:].partition(": ")
                if not sep or not value.strip():
                    raise DocError(f"{where}: '@{key}' needs ': text'")
                if key in self.params:
                    raise DocError(f"{where}: @{key} documented twice")
                self.params[key] = value.strip()
            else:
                state = "body"
                body.append(line)
        self.body = "\n".join(body).strip()
        self.since = self.params.pop("since", None)
        self.short = self.params.pop("short_description", None)
        self.deprecated = self.params.pop("deprecated", None)


def docs_of(parent, where):
    """Each child element of parent with the doc comment right before it (or None)."""
    last_comment = None
    for child in parent:
        if child.tag is ET.Comment:
            last_comment = child.text
            continue
        yield child, (Doc(last_comment, f"{where} before <{child.tag} name={child.get('name')!r}>")
                      if last_comment is not None else None)
        last_comment = None


class Interface:
    def __init__(self, elem, doc):
        self.name = elem.get("name")
        self.doc = doc
        self.methods, self.signals, self.properties = [], [], []
        for child, cdoc in docs_of(elem, self.name):
            if child.tag == "annotation":
                continue
            kind = {"method": self.methods, "signal": self.signals, "property": self.properties}.get(child.tag)
            if kind is None:
                raise DocError(f"{self.name}: unexpected <{child.tag}>")
            kind.append(Member(child, cdoc, self.name))


class Member:
    def __init__(self, elem, doc, iface):
        self.kind = elem.tag
        self.name = elem.get("name")
        self.type = elem.get("type")
        self.access = elem.get("access")
        self.doc = doc
        self.where = f"{iface}.{self.name}"
        self.args = [(a.get("direction", "in" if self.kind == "method" else None), a.get("type"), a.get("name"))
                     for a in elem if a.tag == "arg"]
        self.annotations = {a.get("name"): a.get("value") for a in elem if a.tag == "annotation"}
        if doc is None:
            raise DocError(f"{self.where}: {self.kind} without a doc comment")
        if doc.symbol != self.name:
            raise DocError(f"{self.where}: the doc comment right before it is for {doc.symbol!r}, "
                           f"not for {self.name!r}")
        names = {a[2] for a in self.args}
        for d, t, n in self.args:
            if not n:
                raise DocError(f"{self.where}: an argument without a name")
            if n not in doc.params:
                raise DocError(f"{self.where}: argument {n!r} is not documented (@{n}: ...)")
        for p in doc.params:
            if p not in names:
                raise DocError(f"{self.where}: @{p} documents no argument")
        if not doc.body:
            raise DocError(f"{self.where}: the doc comment has no text")


class InterfacePage:
    REF = re.compile(r"#([A-Za-z_][A-Za-z0-9_.]*[A-Za-z0-9_])(?:(::?)([A-Za-z_][A-Za-z0-9_-]*))?"
                     r"|@([A-Za-z_][A-Za-z0-9_]*)"
                     r"|%([A-Z_][A-Z0-9_]*)")

    FONTS = {"literal": "B", "constant": "B", "function": "B", "type": "B", "command": "B",
             "emphasis": "I", "parameter": "I", "replaceable": "I", "filename": "I"}

    def __init__(self, path):
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        root = ET.parse(path, parser=parser).getroot()
        if root.tag != "node":
            raise DocError(f"{path}: the root element is <{root.tag}>, not <node>")
        self.interfaces = []
        for elem, doc in docs_of(root, path):
            if elem.tag != "interface":
                raise DocError(f"{path}: unexpected <{elem.tag}> in <node>")
            name = elem.get("name")
            if doc is None or doc.symbol != name:
                raise DocError(f"{name}: no doc comment 'Interface.Name:' right before the interface")
            if doc.params:
                raise DocError(f"{name}: unknown @{next(iter(doc.params))} in the interface's comment")
            if not doc.short or not doc.body:
                raise DocError(f"{name}: the interface needs @short_description and text")
            self.interfaces.append(Interface(elem, doc))
        self.by_name = {i.name: i for i in self.interfaces}

    # -- inline text ----------------------------------------------------------------------------------

    def ref(self, m, iface, member):
        """troff for one gtk-doc reference, checked against the XML."""
        name, sep, part, param, const = m.groups()
        if param is not None:
            if member is None or param not in {a[2] for a in member.args}:
                raise DocError(f"{member.where if member else iface.name}: @{param} names no argument here")
            return f"\\fI{esc(param, code=True)}\\fR"
        if const is not None:
            return f"\\fB{esc(const, code=True)}\\fR"
        target = self.by_name.get(name)
        if target is None and part is None and "." in name:
            # #org.example.Iface.Method() (or without #) names a method
            prefix, method = name.rsplit(".", 1)
            target = self.by_name.get(prefix)
            if target is not None and method in {x.name for x in target.methods}:
                short = method if target is iface else f"{prefix.rsplit('.', 1)[-1]}.{method}"
                return f"\\fB{esc(short, code=True)}\\fR"
            target = None
        if target is None:
            raise DocError(f"{(member or iface).where if member else iface.name}: #{name} names no interface "
                           "(nor method) of this file")
        if part is None:
            return f"\\fB{esc(name, code=True)}\\fR"
        kinds = target.signals if sep == "::" else target.properties
        if part not in {x.name for x in kinds}:
            what = "signal" if sep == "::" else "property"
            raise DocError(f"{member.where if member else iface.name}: #{name}{sep}{part} names no {what} of {name}")
        short = part if target is iface else f"{name.rsplit('.', 1)[-1]}.{part}"
        return f"\\fB{esc(short, code=True)}\\fR"

    def inline(self, text, iface, member):
        out, pos = [], 0
        for m in self.REF.finditer(text):
            out.append(esc(text[pos:m.start()]))
            out.append(self.ref(m, iface, member))
            pos = m.end()
        out.append(esc(text[pos:]))
        return "".join(out)

    def inline_elem(self, elem, iface, member):
        """Text of an element with inline DocBook children."""
        out = [self.inline(elem.text or "", iface, member)]
        for c in elem:
            out.append(self.inline_one(c, iface, member))
            out.append(self.inline(c.tail or "", iface, member))
        return "".join(out)

    def inline_one(self, elem, iface, member):
        """One inline DocBook element, without its tail."""
        font = self.FONTS.get(elem.tag)
        if font is None:
            raise DocError(f"{(member or iface).name}: <{elem.tag}> is not supported inline")
        return f"\\f{font}" + self.inline_elem(elem, iface, member) + "\\fR"

    # -- blocks ---------------------------------------------------------------------------------------

    def body(self, text, iface, member):
        """A doc comment's body (paragraphs and DocBook blocks) as troff lines."""
        try:
            frag = ET.fromstring(f"<doc>{text}</doc>")
        except ET.ParseError as e:
            raise DocError(f"{(member or iface).name}: the doc comment is not valid DocBook text: {e}")
        out, para = [], []

        def flush():
            t = "".join(para)
            para.clear()
            for p in re.split(r"\n\s*\n", t):
                if p.strip():
                    out.append(".PP")
                    out.extend(fill(p))

        def add_text(t):
            # Blank lines separate paragraphs; keep them through inline formatting.
            chunks = re.split(r"(\n\s*\n)", t)
            for c in chunks:
                para.append("\n\n" if re.fullmatch(r"\n\s*\n", c) else self.inline(c, iface, member))

        add_text(frag.text or "")
        for c in frag:
            if c.tag in ("variablelist", "itemizedlist", "para", "programlisting"):
                flush()
                out.extend(self.block(c, iface, member))
            else:
                para.append(self.inline_one(c, iface, member))
            add_text(c.tail or "")
        flush()
        return out

    def block(self, elem, iface, member):
        name = (member or iface).name
        if elem.tag == "para":
            return [".PP"] + fill(self.inline_elem(elem, iface, member))
        if elem.tag == "programlisting":
            return [".PP", ".RS 4", ".nf"] + verbatim((elem.text or "").strip("\n").split("\n")) + [".fi", ".RE"]
        out = [".RS 4"]
        for entry in elem:
            if elem.tag == "variablelist":
                if entry.tag != "varlistentry":
                    raise DocError(f"{name}: <{entry.tag}> in <variablelist>")
                terms = [e for e in entry if e.tag == "term"]
                items = [e for e in entry if e.tag == "listitem"]
                if len(terms) != 1 or len(items) != 1:
                    raise DocError(f"{name}: a <varlistentry> needs one <term> and one <listitem>")
                out.append(".TP")
                term = re.sub(r"(?<!\\)-", r"\\-", self.inline_elem(terms[0], iface, member))
                out.extend(fill("\\fB" + term + "\\fR"))
                out.extend(self.listitem(items[0], iface, member))
            else:  # itemizedlist
                if entry.tag != "listitem":
                    raise DocError(f"{name}: <{entry.tag}> in <itemizedlist>")
                out.append(".IP \\(bu 2")
                out.extend(self.listitem(entry, iface, member))
        out.append(".RE")
        return out

    def listitem(self, item, iface, member):
        out = []
        if (item.text or "").strip():
            raise DocError(f"{(member or iface).name}: text outside <para> in <listitem>")
        for i, p in enumerate(item):
            if p.tag != "para":
                raise DocError(f"{(member or iface).name}: <{p.tag}> in <listitem> (only <para>)")
            if i > 0:
                out.append(".IP")
            out.extend(fill(self.inline_elem(p, iface, member)))
        return out

    # -- the page -------------------------------------------------------------------------------------

    @staticmethod
    def signature(m, with_dir):
        if not m.args:
            return "()"
        width = max(len(a[1]) for a in m.args)
        parts = []
        for d, t, n in m.args:
            parts.append((f"{d:<3} " if with_dir else "") + f"{t:<{width}} {n}")
        return "(" + (",\n" + " " * (len(m.name) + 5)).join(parts) + ")"

    def synopsis(self, iface):
        lines = [f"interface {iface.name} {{"]
        for title, members in (("methods", iface.methods), ("signals", iface.signals)):
            if members:
                lines.append(f"  {title}:")
                for m in members:
                    lines.extend(("    " + m.name + self.signature(m, m.kind == "method") + ";").split("\n"))
        if iface.properties:
            lines.append("  properties:")
            for p in iface.properties:
                for k, v in p.annotations.items():
                    lines.append(f'    @{k}("{v}")')
                access = {"read": "readonly ", "write": "writeonly ", "readwrite": ""}[p.access]
                lines.append(f"    {access}{p.type} {p.name};")
        lines.append("};")
        return lines

    def member_section(self, iface, m):
        out = [".PP"]
        if m.kind == "property":
            access = {"read": "read-only", "write": "write-only", "readwrite": "read-write"}[m.access]
            emits = m.annotations.get("org.freedesktop.DBus.Property.EmitsChangedSignal", "true")
            change = {"const": "constant", "true": "changes emit PropertiesChanged",
                      "invalidates": "changes emit PropertiesChanged without the value",
                      "false": "changes are not announced"}[emits]
            out.append(f"\\fB{esc(m.name, code=True)}\\fR (\\fB{esc(m.type, code=True)}\\fR, {access}, {change})")
        else:
            args = ", ".join(
                (f"{d} " if m.kind == "method" else "") + f"\\fB{esc(t, code=True)}\\fR \\fI{esc(n, code=True)}\\fR"
                for d, t, n in m.args)
            out.append(f"\\fB{esc(m.name, code=True)}\\fR({args})")
        out.append(".RS 4")
        if m.args:
            seen = set()
            for d, t, n in m.args:
                if n in seen:  # an in and an out argument of the same name share their text
                    continue
                seen.add(n)
                out.append(".TP")
                out.append(f"\\fI{esc(n, code=True)}\\fR")
                out.extend(fill(self.inline(m.doc.params[n], iface, m)))
        out.extend(self.body(m.doc.body, iface, m))
        notes = []
        if m.doc.since:
            notes.append(f"Added in version {esc(m.doc.since)}.")
        if m.doc.deprecated or "org.freedesktop.DBus.Deprecated" in m.annotations:
            notes.append("Deprecated" + (f": {self.inline(m.doc.deprecated, iface, m)}" if m.doc.deprecated else "."))
        other = {k: v for k, v in m.annotations.items()
                 if k not in ("org.freedesktop.DBus.Property.EmitsChangedSignal", "org.freedesktop.DBus.Deprecated")}
        for k, v in other.items():
            notes.append(f"Annotation \\fB{esc(k, code=True)}\\fR = {esc(v)}.")
        if notes:
            out.append(".PP")
            out.extend(fill(" ".join(notes)))
        out.append(".RE")
        return out

    def render(self, name, description, version, source, installed_as):
        out = [f'.\\" Generated by docs/man/mkman.py from {source}; do not edit.']
        out += th(name, "5", version, "childwatch")
        out += [".SH NAME", f"{esc(name)} \\- {esc(description)}", ".SH SYNOPSIS", ".nf"]
        for i, iface in enumerate(self.interfaces):
            if i:
                out.append("")
            out += verbatim(self.synopsis(iface))
        out.append(".fi")
        out += [".SH DESCRIPTION", ".PP"]
        where = f" (installed as {esc(installed_as)})" if installed_as else ""
        out += fill(f"This page is generated from {esc(source)}, the introspection data of the service{where}, "
                    "and its documentation comments. It describes these interfaces:")
        for iface in self.interfaces:
            out += [".TP", f"\\fB{esc(iface.name, code=True)}\\fR"] + fill(esc(iface.doc.short))
        for iface in self.interfaces:
            out += [f'.SH "INTERFACE {esc(iface.name, code=True)}"']
            out += self.body(iface.doc.body, iface, None)
            if iface.doc.since:
                out += [".PP", f"Added in version {esc(iface.doc.since)}."]
            for title, members in (("Methods", iface.methods), ("Signals", iface.signals),
                                   ("Properties", iface.properties)):
                if members:
                    out.append(f".SS {title}")
                    for m in members:
                        out += self.member_section(iface, m)
        out += [".SH SEE ALSO", ".PP",
                "\\fBchildwatchd\\fR(8), \\fBchildwatchctl\\fR(1), \\fBbusctl\\fR(1), \\fBgdbus\\fR(1),",
                "the D-Bus specification, https://dbus.freedesktop.org/doc/dbus\\-specification.html"]
        return out


# ---- hand-written pages (markdown dialect) ----------------------------------------------------------

INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\*(.+?)\*|\[([^\]]+)\]\(([^)]+)\)|\\([\\`*_\[\]])")
FENCE = re.compile(r"\s*(```|~~~)")
ITEM = re.compile(r"(\*|\d+\.) ")


def md_inline(text, code=False):
    """troff for markdown inline text; code: '-' as minus (within ** **: names of commands)."""
    out, pos = [], 0
    for m in INLINE.finditer(text):
        out.append(esc(text[pos:m.start()], code))
        span, strong, em, ltext, _url, escaped = m.groups()
        if span is not None:
            # \: after a slash: a long path may break there rather than run off the page.
            out.append("\\fB" + esc(span, code=True).replace("/", "/\\:") + "\\fR")
        elif strong is not None:
            out.append(f"\\fB{md_inline(strong, code=True)}\\fR")
        elif em is not None:
            out.append(f"\\fI{md_inline(em, code)}\\fR")
        elif ltext is not None:
            out.append(md_inline(ltext, code))
        else:
            out.append(esc(escaped, code))
        pos = m.end()
    out.append(esc(text[pos:], code))
    return "".join(out)


def md_page(path, version, defines):
    """troff for a hand-written page in a markdown dialect that GitHub renders too:

    # name(section) - description      the first line (after comments)
    ## SECTION, ### Subsection
    paragraphs; `code`, *emphasis*, **strong**, [text](link) (the text is kept)
    * `--option=`*ARG*:                a definition (.TP): a list item whose first line
      Description, indented 2.         is a code span ... ending in a colon
    * text, 1. text                    bullet and numbered items
      (blank line, then indented text or a fence: more of the same item)
    ```sh ... ```                      code, verbatim; the examples test runs sh/console
    <!-- ... -->                       dropped (SPDX, test markers)
    Anything else (tables, deeper headings, stray indentation) is an error.
    """
    text = open(path, encoding="utf-8").read()
    for key, value in defines.items():
        text = text.replace(f"@{key}@", value)
    left = re.search(r"@[A-Za-z_]+@", text)
    if left:
        raise DocError(f"{path}: {left.group(0)} is not defined (-D)")
    lines = text.split("\n")
    n = len(lines)
    i = 0

    def err(msg):
        raise DocError(f"{path}:{i + 1}: {msg}")

    def indent_of(line):
        return len(line) - len(line.lstrip())

    def block_start(line):
        s = line.strip()
        return (not s or s.startswith("<!--") or FENCE.match(line) or line.startswith("#")
                or (indent_of(line) == 0 and ITEM.match(line)))

    while i < n and (not lines[i].strip() or lines[i].startswith("<!--")):
        while "-->" not in lines[i] and lines[i].strip():
            i += 1
        i += 1
    m = re.fullmatch(r"# ([A-Za-z0-9_.-]+)\((\d)\) - (.+)", lines[i] if i < n else "")
    if not m:
        err("the page must start with '# name(section) - description'")
    name, section, description = m.groups()
    out = [f'.\\" Generated by docs/man/mkman.py from {path.split("/docs/")[-1]}; do not edit.']
    out += th(name, section, version, "childwatch")
    out += [".SH NAME", f"{esc(name)} \\- {md_inline(description)}"]
    i += 1
    in_item = False
    while i < n:
        line = lines[i]
        s = line.strip()
        ind = indent_of(line)
        if s.startswith("<!--"):
            while "-->" not in lines[i]:
                i += 1
            i += 1
            continue
        if not s:
            i += 1
            continue
        if ind == 0:
            in_item = False
        elif not in_item:
            err("indented text outside a list item (a code block needs a fence)")
        if FENCE.match(line):
            fence = s[:3]
            code = []
            i += 1
            while i < n and not lines[i].strip().startswith(fence):
                if lines[i][:ind].strip():
                    err("a code block line left of its fence")
                code.append(lines[i][ind:])
                i += 1
            if i == n:
                err("unterminated code block")
            if in_item:
                out += [".IP", ".nf"] + verbatim(code) + [".fi"]
            else:
                out += [".PP", ".RS 4", ".nf"] + verbatim(code) + [".fi", ".RE"]
            i += 1
            continue
        if line.startswith("### "):
            out.append(f'.SS "{md_inline(s[4:])}"')
            i += 1
            continue
        if line.startswith("## "):
            out.append(f'.SH "{esc(s[3:])}"')
            i += 1
            continue
        if line.startswith("#"):
            err("only '##' and '###' headings may follow the title")
        if line.startswith("|"):
            err("tables are not supported in man page sources")
        m = ITEM.match(line) if ind == 0 else None
        if m:
            first = line[m.end():]
            text = []
            i += 1
            while i < n and indent_of(lines[i]) >= 2 and not block_start(lines[i]):
                text.append(lines[i].strip())
                i += 1
            if m.group(1) == "*" and first.startswith("`") and first.endswith(":"):
                out += [".TP", md_inline(first[:-1])]
            else:
                out.append(f".IP {m.group(1)} 4" if m.group(1) != "*" else ".IP \\(bu 2")
                text.insert(0, first)
            if text:
                out += fill(md_inline(" ".join(text)))
            in_item = True
            continue
        text = []
        while i < n and not block_start(lines[i]) and (indent_of(lines[i]) > 0) == (ind > 0):
            text.append(lines[i].strip())
            i += 1
        out += [".IP" if in_item else ".PP"] + fill(md_inline(" ".join(text)))
    return out


# ---- main -------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("interface", "page"))
    ap.add_argument("input")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--name", help="interface: the page name (the bus name)")
    ap.add_argument("--description", help="interface: the NAME line's description")
    ap.add_argument("--source", help="interface: the XML's path as the page names it")
    ap.add_argument("--installed-as", help="interface: where the XML is installed")
    ap.add_argument("-D", dest="defines", action="append", default=[], metavar="KEY=VALUE",
                    help="page: replace @KEY@ by VALUE (paths of the installation)")
    a = ap.parse_args()
    try:
        if a.kind == "interface":
            if not a.name or not a.description:
                ap.error("interface needs --name and --description")
            page = InterfacePage(a.input)
            lines = page.render(a.name, a.description, a.version, a.source or a.input, a.installed_as)
        else:
            defines = dict(d.split("=", 1) for d in a.defines)
            lines = md_page(a.input, a.version, defines)
    except (DocError, ET.ParseError, OSError) as e:
        print(f"mkman.py: {e}", file=sys.stderr)
        return 1
    with open(a.output, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
