"""The ``rawmmap`` command: the tour, single demos, ``maps`` and ``residency``.

Every subcommand takes ``--json`` for scripting; ``--no-color`` (or the
``NO_COLOR`` environment variable, or output that is not a terminal) turns
colour off; ``--lang zh|en`` chooses the language (else LC_ALL, LC_MESSAGES,
LANG; see ``rawmmap._i18n``).  Every sentence here is marked ``_()``;
``--json`` keeps the same keys and codes in every language.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import stat
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from . import __version__
from ._constants import errno_name
from ._i18n import LANGUAGES, from_environment, ngettext, speaking
from ._i18n import gettext_ as _
from ._introspect import VMA, bar, file_residency, vmas
from ._tour import Lesson, demo_names, find, lesson_module, run_demo, source, words


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


def _print_lesson(number: int, lesson: Lesson, style: _Style, out: TextIO) -> None:
    print(style(f"━━ {number}. {lesson.title} ━━", "1"), file=out)
    print(f"{style(_('What:'), '1')} {lesson.what}", file=out)
    if lesson.calls:
        print(style(_("The calls:"), "1"), file=out)
        for call in lesson.calls:
            print(f"    {style(call, '36')}", file=out)
    print(style(_("What happened:"), "1"), file=out)
    for seen in lesson.happened:
        print(f"  • {seen}", file=out)
    print(f"{style(_('Why:'), '1')} {lesson.why}", file=out)
    print(f"{style(_('Read:'), '1')} {', '.join(lesson.man)}", file=out)
    for check in lesson.checks:
        if check.ok is None:
            print(f"  {style(_('– not applicable here:'), '33')} {check.claim}", file=out)
            print(f"      {check.reason}", file=out)
            continue
        mark = style("✔", "32") if check.ok else style(_("✘ DIFFERED:"), "31")
        print(f"  {mark} {check.claim}", file=out)
    print(file=out)


def _run_lessons(names: list[str], args: argparse.Namespace, style: _Style) -> int:
    lessons, numbered = [], []
    for i, name in enumerate(names, 1):
        number = demo_names().index(name) + 1 if len(names) == 1 else i
        lesson = run_demo(name)
        lessons.append(lesson)
        numbered.append((number, lesson))
        if not args.json:
            _print_lesson(number, lesson, style, sys.stdout)
            sys.stdout.flush()
    failed = [lesson.name for lesson in lessons if not lesson.ok]
    if args.html:  # the page is written whatever the lessons found: it shows that too
        from ._html import write_html

        try:
            write_html(args.html, numbered, title=_("The rawmmap tour") if len(names) > 1
                       else _("A rawmmap lesson"))  # fmt: skip
        except OSError as exc:
            print(_("rawmmap: cannot write {file}: {error}").format(file=args.html,
                  error=exc.strerror), file=sys.stderr)  # fmt: skip
            return 1
        sys.stdout.flush()
        print(_("rawmmap: wrote {file}").format(file=args.html), file=sys.stderr)
    if args.json:
        json.dump(
            {"lessons": [x.as_dict() for x in lessons], "ok": not failed}, sys.stdout, indent=1
        )
        print()
    elif failed:
        print(style(_("{failed} of {total} lessons differed from what is taught: {names}").format(
            failed=len(failed), total=len(lessons), names=", ".join(failed)), "31;1"))  # fmt: skip
    elif len(lessons) > 1:
        print(style(_("All {total} lessons behaved as taught.").format(total=len(lessons)),
                    "32;1"))  # fmt: skip
    else:
        print(style(_("The lesson behaved as taught."), "32;1"))
    not_shown = sum(c.ok is None for lesson in lessons for c in lesson.checks)
    if not_shown and not args.json:
        print(ngettext("({n} claim could not be shown on this machine: see “not applicable "
                       "here” above.)", "({n} claims could not be shown on this machine: see "
                       "“not applicable here” above.)", not_shown).format(n=not_shown))  # fmt: skip
    return 1 if failed else 0


def _cmd_tour(args: argparse.Namespace, style: _Style) -> int:
    return _run_lessons(demo_names(), args, style)


def _cmd_demo(args: argparse.Namespace, style: _Style) -> int:
    name = find(args.name) if args.name else None
    if args.name and name is None:
        print(_("rawmmap demo: no demo {name!r}; see `rawmmap demo --list`").format(
            name=args.name), file=sys.stderr)  # fmt: skip
        return 2
    if args.list or name is None:
        names = [name] if name else demo_names()
        if args.json:
            json.dump(names, sys.stdout)
            print()
        else:
            for n in names:
                number = demo_names().index(n) + 1
                module = lesson_module(n)
                title = words(module.TITLE, **getattr(module, "VALUES", {}))
                print(f"{number:2}. {n:28} {title}")
        return 0
    if args.source:
        print(source(name), end="")
        return 0
    return _run_lessons([name], args, style)


def _cmd_maps(args: argparse.Namespace, style: _Style) -> int:
    try:
        areas = vmas(args.pid)
    except FileNotFoundError:
        print(_("rawmmap maps: no process {pid}").format(pid=args.pid), file=sys.stderr)
        return 1
    except OSError as exc:
        print(_("rawmmap maps: cannot read /proc/{pid}/maps: {error}").format(
            pid=args.pid, error=exc.strerror), file=sys.stderr)  # fmt: skip
        return 1
    if args.json:
        json.dump([{"start": v.start, "end": v.end, "size": v.size, "perms": v.perms,
                    "offset": v.offset, "dev": v.dev, "inode": v.inode, "path": v.path,
                    "kind": v.kind} for v in areas], sys.stdout, indent=1)  # fmt: skip
        print()
        return 0
    print(style(f"{_('Address'):>16} {_('Kbytes'):>9} {_('Mode'):5} {_('Offset'):>10}  "
                f"{_('Mapping')}", "1"))  # fmt: skip
    for v in areas:
        print(f"{v.start:016x} {v.size // 1024:>9} {v.perms:5} {v.offset:>10x}  {v.kind}")
    total = sum(v.size for v in areas) // 1024
    print(style(f"{_('total'):>16} {total:>9}K", "1"))
    return 0


def _residency_error(path: str, exc: OSError) -> str:
    """What went wrong with one file, in words (the errno stays in ``--json``)."""
    if exc.errno == errno.ENODEV:  # mmap(2): this kind of file cannot be mapped
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            is_dir = False
        return _("is a directory") if is_dir else _("cannot be mapped (not a regular file)")
    return exc.strerror or str(exc)


def _cmd_residency(args: argparse.Namespace, style: _Style) -> int:
    results: list[dict[str, Any]] = []
    status = 0
    for path in args.files:
        try:
            r = file_residency(path)
        except OSError as exc:
            error = _residency_error(path, exc)
            code = errno_name(exc.errno or 0)
            results.append({"path": path, "error": error, "errno": code})
            if not args.json:
                print(_("rawmmap residency: {path}: {error}").format(path=path, error=error),
                      file=sys.stderr)  # fmt: skip
            status = 1
            continue
        results.append({"path": r.path, "size": r.size, "resident": r.resident,
                        "total": r.total, "pages": [int(p) for p in r.pages]})  # fmt: skip
        if args.json:
            continue
        if r.total == 0:
            print(_("empty file: no pages  {path}").format(path=r.path))
        else:
            percent = 100 * r.resident / r.total
            print(f"[{bar(r.pages)}] " + _("{resident}/{total} pages resident ({percent:.0f}%)  "
                  "{path}").format(resident=r.resident, total=r.total, percent=percent,
                                   path=r.path))  # fmt: skip
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    return status


def _cmd_pages(args: argparse.Namespace, style: _Style) -> int:
    """``rawmmap pages [PID] [ADDR[-END] | --mapping PATH]``: each page's state from pagemap."""
    from ._pages import STATES, pages, text_row

    pid, span = None, None
    for word in args.target:
        if "-" in word or word.lower().startswith("0x"):
            try:
                lo, _sep, hi = word.partition("-")
                span = (int(lo, 16), int(hi, 16) if hi else int(lo, 16) + 1)
            except ValueError:
                print(_("rawmmap pages: bad address range {word!r} (hex: ADDR or START-END)"
                        ).format(word=word), file=sys.stderr)  # fmt: skip
                return 2
        elif word.isdigit() and pid is None:
            pid = int(word)
        else:
            print(_("rawmmap pages: {word!r} is neither a PID nor a hex 0xADDR[-END]").format(
                word=word), file=sys.stderr)  # fmt: skip
            return 2
    try:
        chosen = [v for v in vmas(pid) if args.mapping in (None, v.path, os.path.basename(v.path))]
        spans: list[tuple[VMA | None, int, int]] = [(v, v.start, v.end) for v in chosen]
        if span is not None:
            spans = [(v, max(lo, span[0]), min(hi, span[1])) for v, lo, hi in spans
                     if lo < span[1] and span[0] < hi]  # fmt: skip
            if not spans and args.mapping is None:  # nothing mapped there: pagemap still answers
                spans = [(None, *span)]
        if not spans:
            print(_("rawmmap pages: no mapping {path!r} in process {pid}").format(
                path=args.mapping, pid=pid or os.getpid()), file=sys.stderr)  # fmt: skip
            return 1
        ranges = [(v, lo, hi, pages(lo, hi - lo, pid)) for v, lo, hi in spans]
    except (OSError, ValueError) as exc:
        print(f"rawmmap pages: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump({"pid": pid or os.getpid(), "ranges": [
            {"start": lo, "end": hi, "perms": v.perms if v else None, "path": v.path if v else None,
             "pages": [p.as_dict() for p in infos]} for v, lo, hi, infos in ranges
        ]}, sys.stdout, indent=1)  # fmt: skip
        print()
        return 0
    legend = "  ".join(f"{char} {state}" for state, (char, _colour) in STATES.items())
    print(style(_("one character per page: {legend}").format(legend=legend), "2"))
    for v, lo, hi, infos in ranges:
        what = f"{v.perms} {v.kind}" if v else _("not mapped")
        counts = ", ".join(f"{n} {state}" for state in STATES
                           if (n := sum(p.state == state for p in infos)))  # fmt: skip
        print(style(f"{lo:016x}-{hi:016x} " + _("{what}: {n} pages ({counts})").format(
            what=what, n=len(infos), counts=counts), "1"))  # fmt: skip
        if len(infos) <= 64 and span is not None:
            for p in infos:
                pfn = "-" if p.pfn is None else f"{p.pfn:#x}"
                print(f"  {p.address:016x} {STATES[p.state][0]} {p.state:8} pfn {pfn:>10}"
                      f"{'  soft-dirty' if p.soft_dirty else ''}  {p.flags}".rstrip())  # fmt: skip
            continue
        row = text_row(infos)
        for i in range(0, len(row), 64):
            print(f"  {row[i : i + 64]}")
    return 0


def _pid(text: str) -> int:
    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("a process id is a number, got {text!r}").format(text=text)) from None
    if pid <= 0:
        raise argparse.ArgumentTypeError(_("a process id is > 0, got {pid}").format(pid=pid))
    return pid


def _options(top: bool) -> argparse.ArgumentParser:
    """--json, --no-color and --lang, accepted before and after the command.

    Only the top level has defaults: a subcommand's default would overwrite a
    value given before the command (``rawmmap --json residency F``).
    """
    common = argparse.ArgumentParser(add_help=False)
    default: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    common.add_argument("--json", action="store_true", help=_("machine-readable output"),
                        **default)  # fmt: skip
    common.add_argument("--no-color", action="store_true", help=_("no ANSI colours"), **default)
    common.add_argument("--lang", choices=sorted(LANGUAGES), help=_(
        "the language: zh (Simplified Chinese) or en (default: from LC_ALL, LC_MESSAGES, LANG)"
    ), **default)  # fmt: skip
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _options(top=False)
    parser = argparse.ArgumentParser(
        prog="rawmmap",
        description=_("See what the kernel does with a memory mapping: lessons, maps, residency."),
        parents=[_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help=_("show program's version number and exit"))  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    tour = sub.add_parser("tour", parents=[common], help=_("run every lesson, each checked"))
    tour.add_argument("--html", metavar="FILE",
                      help=_("also write one self-contained HTML page"))  # fmt: skip
    tour.set_defaults(func=_cmd_tour)
    demo = sub.add_parser("demo", parents=[common], help=_("run one lesson (--list to list them)"))
    demo.add_argument("name", nargs="?", help=_("the lesson's name or number"))
    demo.add_argument("--list", action="store_true",
                      help=_("list the lessons (or the one named)"))  # fmt: skip
    demo.add_argument("--source", action="store_true", help=_("print the lesson's source code"))
    demo.add_argument("--html", metavar="FILE",
                      help=_("also write the lesson as an HTML page"))  # fmt: skip
    demo.set_defaults(func=_cmd_demo)
    maps = sub.add_parser("maps", parents=[common], help=_("a process's mappings, like pmap"))
    maps.add_argument("pid", nargs="?", type=_pid,
                      help=_("process id (default: this process)"))  # fmt: skip
    maps.set_defaults(func=_cmd_maps)
    res = sub.add_parser("residency", parents=[common],
                         help=_("page-cache residency, like vmtouch"))  # fmt: skip
    res.add_argument("files", nargs="+", help=_("files to inspect"))
    res.set_defaults(func=_cmd_residency)
    pg = sub.add_parser("pages", parents=[common], help=_("every page's state, from pagemap"))
    pg.add_argument(
        "target",
        nargs="*",
        metavar="PID | 0xADDR[-END]",
        help=_("process id (default: this one); hex address or range (default: all)"),
    )
    pg.add_argument("--mapping", metavar="PATH", help=_("only the VMAs of PATH (or its name)"))
    pg.set_defaults(func=_cmd_pages)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rawmmap`` and ``python -m rawmmap``; returns the exit status."""
    with speaking(_language(sys.argv[1:] if argv is None else argv, os.environ)):
        return _main(argv)


def _language(argv: list[str], environ: Mapping[str, str]) -> str:
    """The language asked for: ``--lang`` (its last valid use) wins over the environment."""
    chosen = None
    for i, word in enumerate(argv):
        if word == "--":
            break
        value = argv[i + 1] if word == "--lang" and i + 1 < len(argv) else word[7:]
        if (word == "--lang" or word.startswith("--lang=")) and value in LANGUAGES:
            chosen = value
    return chosen or from_environment(environ)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    color = not args.no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
    try:
        result: int = args.func(args, _Style(color))
    except BrokenPipeError:  # e.g. `rawmmap maps | head`: not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return result
