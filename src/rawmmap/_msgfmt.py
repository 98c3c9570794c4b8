"""The message catalogs' tools in pure Python: extract the sentences, read a .po, write a .mo.

GNU gettext's ``msgfmt`` and Python's ``Tools/i18n/msgfmt.py`` are not always
installed, so rawmmap carries the little it needs (the formats: the GNU gettext
manual, "The Format of PO Files" and "The Format of GNU MO Files").

``python -m rawmmap._msgfmt`` brings every catalog up to date with the code:
the sentences the code marks (see :func:`extract`) are merged into each
``.po`` (translations kept, new sentences added with an empty ``msgstr``,
sentences no longer in the code dropped) and the ``.mo`` is compiled from it.
``python -m rawmmap._msgfmt --check`` changes nothing and exits 1 if a
catalog is out of date.
"""

from __future__ import annotations

import ast
import pathlib
import struct
import sys
from dataclasses import dataclass, field

from ._i18n import DOMAIN, LOCALEDIR

__all__ = ["Entry", "catalogs", "compile_mo", "extract", "main", "parse_po", "write_po"]

PACKAGE = pathlib.Path(__file__).parent
#: Where the sentences are: the tour's modules and the command line.
SOURCES = ("_tour/*.py", "_cli.py", "_i18n.py", "_html.py")
#: Calls whose literal arguments are sentences: name → which positional arguments.
MARKERS: dict[str, tuple[int, ...]] = {
    "saw": (0,), "check": (0,), "not_applicable": (0, 1), "aside": (0,), "pages": (0,),
    "address_space": (0,), "words": (0,), "N_": (0,), "_": (0,), "gettext_": (0,),
}  # fmt: skip
#: Module constants in capitals that are not sentences (and are not translated).
NOT_SENTENCES = {"DOMAIN", "PAGE", "LESSONS", "READ", "_CSS"}


@dataclass
class Entry:
    """One message of a catalog."""

    msgid: str
    msgstr: list[str]  # one string, or one per plural form
    msgid_plural: str | None = None
    flags: set[str] = field(default_factory=set)
    comments: list[str] = field(default_factory=list)  # translator's (#) and references (#:)

    @property
    def key(self) -> str:
        """The .mo key: the msgid, with the plural after a NUL."""
        return self.msgid if self.msgid_plural is None else f"{self.msgid}\0{self.msgid_plural}"


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r", "a": "\a", "b": "\b"}


def _unquote(text: str, where: str) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"rawmmap._msgfmt.parse_po: {where}: expected a quoted string")
    out, chars = [], iter(text[1:-1])
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            if nxt not in _ESCAPES:
                raise ValueError(f"rawmmap._msgfmt.parse_po: {where}: unknown escape \\{nxt}")
            out.append(_ESCAPES[nxt])
        else:
            out.append(c)
    return "".join(out)


def _quote(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    lines = body.split("\n")
    parts = [line + "\\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    if len(parts) <= 1 and len(body) < 70:
        return f'"{parts[0] if parts else ""}"'
    return '""\n' + "\n".join(f'"{p}"' for p in parts)


def parse_po(text: str) -> list[Entry]:
    """The entries of a .po file (obsolete ``#~`` entries left out)."""
    entries: list[Entry] = []
    fields: dict[str, str] = {}
    flags: set[str] = set()
    comments: list[str] = []
    current: str | None = None

    def finish() -> None:
        nonlocal fields, flags, comments, current
        if "msgid" in fields:
            plural = fields.get("msgid_plural")
            if plural is None:
                msgstr = [fields.get("msgstr", "")]
            else:
                msgstr = [fields[k] for k in sorted(f for f in fields if f.startswith("msgstr["))]
            entries.append(Entry(fields["msgid"], msgstr, plural, flags, comments))
        elif fields:
            raise ValueError(f"rawmmap._msgfmt.parse_po: an entry without msgid: {fields}")
        fields, flags, comments, current = {}, set(), [], None

    for number, line in enumerate(text.splitlines(), 1):
        where = f"line {number}"
        if not line.strip():
            finish()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#,"):
            if current is not None and current != "comment":
                finish()
            flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
        elif line.startswith("#"):
            if current is not None:
                finish()
            comments.append(line)
        elif line.startswith('"'):
            if current is None or current == "comment":
                raise ValueError(f"rawmmap._msgfmt.parse_po: {where}: a string outside an entry")
            fields[current] += _unquote(line, where)
        else:
            keyword, _, rest = line.partition(" ")
            if keyword == "msgid" and "msgid" in fields:
                finish()
            if keyword not in ("msgid", "msgid_plural", "msgstr", "msgctxt") and not (
                keyword.startswith("msgstr[") and keyword.endswith("]")
            ):
                raise ValueError(f"rawmmap._msgfmt.parse_po: {where}: unknown keyword {keyword!r}")
            if keyword == "msgctxt":
                raise ValueError(f"rawmmap._msgfmt.parse_po: {where}: msgctxt is not supported")
            current = keyword
            fields[keyword] = _unquote(rest, where)
    finish()
    return entries


def compile_mo(entries: list[Entry]) -> bytes:
    """The GNU .mo file of ``entries``: translated, non-fuzzy ones only (as msgfmt does)."""
    table = {
        e.key.encode(): "\0".join(e.msgstr).encode()
        for e in entries
        if all(e.msgstr) and "fuzzy" not in e.flags
    }
    keys = sorted(table)
    n = len(keys)
    start = 7 * 4 + 16 * n  # header, then the two tables of (length, offset)
    originals, translations, data = [], [], bytearray()
    for k in keys:
        originals.append((len(k), start + len(data)))
        data += k + b"\0"
    for k in keys:
        v = table[k]
        translations.append((len(v), start + len(data)))
        data += v + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, start)
    pairs = b"".join(struct.pack("<2I", *p) for p in originals + translations)
    return header + pairs + bytes(data)


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def extract(package: pathlib.Path = PACKAGE) -> dict[str, tuple[str | None, list[str]]]:
    """Every sentence the code marks: msgid → (msgid_plural or None, where it is).

    A sentence is a string literal that is a module constant in capitals (a
    lesson's TITLE, WHAT, WHY, ...), an argument of a marking call
    (:data:`MARKERS`: ``lesson.saw("...")``, ``words("...")``, ``N_("...")``,
    ``_("...")``; a ``reason=`` keyword; the labels of ``lesson.pages``), or the
    two of ``ngettext(singular, plural, n)``.
    """
    found: dict[str, tuple[str | None, list[str]]] = {}

    def add(text: str | None, where: str, plural: str | None = None) -> None:
        if text:
            found.setdefault(text, (plural, []))[1].append(where)

    for pattern in SOURCES:
        for path in sorted(package.glob(pattern)):
            relative = path.relative_to(package.parent).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for statement in tree.body:
                if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                    target = statement.targets[0]
                    if (isinstance(target, ast.Name) and target.id.lstrip("_").isupper()
                            and target.id not in NOT_SENTENCES):  # fmt: skip
                        add(_literal(statement.value), relative)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                where = relative  # no line numbers: moving a line must not stale the catalog
                if name == "ngettext" and len(node.args) >= 2:
                    add(_literal(node.args[0]), where, _literal(node.args[1]))
                    continue
                if name not in MARKERS:
                    continue
                for i in MARKERS[name]:
                    if i < len(node.args):
                        add(_literal(node.args[i]), where)
                for kw in node.keywords:
                    if kw.arg == "reason":
                        add(_literal(kw.value), where)
                if name == "pages" and len(node.args) > 1 and isinstance(node.args[1], ast.List):
                    for row in node.args[1].elts:
                        if isinstance(row, ast.Tuple) and row.elts:
                            add(_literal(row.elts[0]), where)
    return found


def catalogs(localedir: pathlib.Path = LOCALEDIR) -> list[pathlib.Path]:
    """The .po files of the package."""
    return sorted(localedir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def write_po(entries: list[Entry]) -> str:
    """The text of a .po file holding ``entries`` (the header entry first)."""
    blocks = []
    for e in entries:
        lines = list(e.comments)
        if e.flags:
            lines.append("#, " + ", ".join(sorted(e.flags)))
        lines.append(f"msgid {_quote(e.msgid)}")
        if e.msgid_plural is None:
            lines.append(f"msgstr {_quote(e.msgstr[0])}")
        else:
            lines.append(f"msgid_plural {_quote(e.msgid_plural)}")
            lines += [f"msgstr[{i}] {_quote(s)}" for i, s in enumerate(e.msgstr)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def updated(po: pathlib.Path) -> tuple[str, bytes]:
    """The catalog ``po`` brought up to date with the code, and its compiled .mo."""
    old = {e.key: e for e in parse_po(po.read_text(encoding="utf-8"))}
    header = old.get("")
    entries = [header] if header else []
    for msgid, (plural, where) in extract().items():
        e = old.get(msgid if plural is None else f"{msgid}\0{plural}")
        translator = [c for c in e.comments if not c.startswith("#:")] if e else []
        refs = [f"#: {' '.join(sorted(set(where)))}"]
        flags = set(e.flags) if e else set()
        if "%(" in msgid or "%s" in msgid:
            flags.add("python-format")
        elif "{" in msgid:
            flags.add("python-brace-format")
        msgstr = e.msgstr if e else [""]  # one form: the Chinese catalog's nplurals is 1
        entries.append(Entry(msgid, msgstr, plural, flags, translator + refs))
    text = write_po(entries)
    return text, compile_mo(parse_po(text))


def main(argv: list[str] | None = None) -> int:
    """``python -m rawmmap._msgfmt [--check]``: see the module's docstring."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for po in catalogs():
        text, mo = updated(po)
        mo_path = po.with_suffix(".mo")
        same_mo = mo_path.exists() and mo_path.read_bytes() == mo
        if po.read_text(encoding="utf-8") == text and same_mo:
            continue
        stale.append(po)
        if not check:
            po.write_text(text, encoding="utf-8")
            mo_path.write_bytes(mo)
            print(f"updated {po} and {mo_path.name}")
    if check and stale:
        print("out of date (run python -m rawmmap._msgfmt): " + ", ".join(map(str, stale)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
