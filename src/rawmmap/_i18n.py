"""The language rawmmap speaks: the standard library's gettext over the package's catalogs.

English is the source language: every sentence is written in English in the
code and looked up here.  The Chinese catalog is
``locale/zh_CN/LC_MESSAGES/rawmmap.po`` (the source, edited by hand, with the
glossary ``glossary.tsv`` beside it) and ``rawmmap.mo`` (compiled from it by
``python -m rawmmap._msgfmt``, shipped in the package; a test checks the two
agree).  The language is chosen by ``rawmmap --lang zh|en``, else by the
environment (:func:`from_environment`), else English; a missing or unreadable
catalog means English, never an error.  See gettext(3) and locale(7).
"""

from __future__ import annotations

import argparse
import contextlib
import gettext
import pathlib
import struct
from collections.abc import Iterator, Mapping

__all__ = [
    "DOMAIN", "LANGUAGES", "LOCALEDIR", "N_", "from_environment", "gettext_", "language",
    "ngettext", "speaking", "use",
]  # fmt: skip

DOMAIN = "rawmmap"
LOCALEDIR = pathlib.Path(__file__).parent / "locale"
#: ``--lang`` value → the catalog's locale name (None: the source language, no catalog).
LANGUAGES: dict[str, str | None] = {"en": None, "zh": "zh_CN"}

_current = "en"
_translation: gettext.NullTranslations = gettext.NullTranslations()


def N_(text: str) -> str:  # gettext's own name for "mark, translate later"
    """Mark ``text`` for the catalog without translating it now (it is translated where shown)."""
    return text


def from_environment(environ: Mapping[str, str]) -> str:
    """``"zh"`` or ``"en"`` from LC_ALL, else LC_MESSAGES, else LANG (the first one set), as
    locale(7) orders them: ``zh_CN.UTF-8`` (any ``zh…``) means Chinese, anything else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def use(lang: str, localedir: pathlib.Path | str | None = None) -> None:
    """Speak ``lang`` (a key of :data:`LANGUAGES`) from now on; no catalog found → English."""
    global _current, _translation
    if lang not in LANGUAGES:
        raise ValueError(
            f"rawmmap._i18n.use: lang must be one of {sorted(LANGUAGES)}, got {lang!r}"
        )
    locale = LANGUAGES[lang]
    _current = lang
    if locale is None:
        _translation = gettext.NullTranslations()
        return
    try:
        _translation = gettext.translation(
            DOMAIN, str(localedir or LOCALEDIR), languages=[locale], fallback=True
        )
    except (OSError, ValueError, struct.error):  # a damaged .mo: English, not a traceback
        _translation = gettext.NullTranslations()


def language() -> str:
    """The language in use: ``"en"`` or ``"zh"``."""
    return _current


def gettext_(text: str) -> str:
    """``text`` in the language in use (itself when the catalog has no translation)."""
    return _translation.gettext(text)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a sentence about ``n`` things, in the language in use."""
    return _translation.ngettext(singular, plural, n)


@contextlib.contextmanager
def speaking(lang: str, localedir: pathlib.Path | str | None = None) -> Iterator[None]:
    """Speak ``lang`` inside the block, argparse's own messages too; the previous one after."""
    global _current, _translation
    before = _current, _translation
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    use(lang, localedir)
    # argparse looks its words up through gettext's default domain, i.e. the environment:
    # for the block, its module-level _() and ngettext() ask our catalog instead
    argparse._ = gettext_  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]
        _current, _translation = before


#: argparse's sentences a user of ``rawmmap`` can meet (their msgids, as argparse spells them),
#: marked here so that the catalog holds them too.
ARGPARSE = [
    N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"), N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"), N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("expected one argument"), N_("argument %(argument_name)s: %(message)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("show program's version number and exit"),
]  # fmt: skip
