# ruff: noqa: RUF001 - the Chinese sentences are written with Chinese punctuation
"""The Chinese catalog and the language switch: the catalog complete and exact, the tour in zh.

The catalog is checked as data (every sentence translated, placeholders and the
kernel's own words kept, the glossary's terms used); the program is checked by
running it: the whole tour once in Chinese, a demo under LANG=zh_CN.UTF-8, help
and errors, ``--json`` the same in both languages.
"""

from __future__ import annotations

import argparse
import gettext
import io
import json
import os
import pathlib
import re
import shutil
import string
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from rawmmap import _i18n
from rawmmap._cli import main
from rawmmap._msgfmt import Entry, catalogs, compile_mo, parse_po, updated, write_po
from rawmmap._tour import LESSONS, demo_names, lesson_module, words

CATALOG = _i18n.LOCALEDIR / "zh_CN" / "LC_MESSAGES"
PO = CATALOG / "rawmmap.po"
MO = CATALOG / "rawmmap.mo"
GLOSSARY = CATALOG / "glossary.tsv"
CJK = re.compile(r"[\u3400-\u9fff]")

#: The kernel's and C's own words, kept exactly: flag and field names with an underscore
#: (MAP_SHARED, si_code, __atomic_fetch_add), signal names, errno names, calls `name(`,
#: man-page names `mmap(2)`, anything in backquotes, the commands (rawmmap maps).
KEPT = re.compile(
    r"`[^`]+`|\brawmmap (?:demo|maps|residency|pages)(?=:)|\b\w+\(\d\)|\b[A-Za-z_]\w*\("
    r"|\b\w*[A-Za-z]_\w*\b|\bSIG[A-Z]+\b|\bE[A-Z]{3,}\b"
)


def entries() -> list[Entry]:
    return [e for e in parse_po(PO.read_text(encoding="utf-8")) if e.msgid]


def placeholders(text: str) -> Counter[str]:
    """``{name!r:spec}`` fields and ``%(name)s`` / ``%s`` conversions, as written."""
    fields: Counter[str] = Counter()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            fields[f"{{{name}!{conversion or ''}:{spec or ''}}}"] += 1
    fields.update(re.findall(r"%(?:\([a-z_]+\))?[sdr]", text))
    return fields


def glossary() -> list[tuple[str, str, list[str]]]:
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        english, chinese, *rest = line.split("\t")
        avoid = [v for v in (rest[0].split(",") if rest else []) if v]
        rows.append((english, english if chinese == "=" else chinese, avoid))
    return rows


def term(english: str) -> re.Pattern[str]:
    """The English term as a whole word, any case, hyphen or space alike, plural allowed."""
    words_ = [re.escape(w) for w in re.split(r"[- ]", english)]
    return re.compile(r"(?<![\w-])" + r"[- ]".join(words_) + r"(?:s|es)?(?![\w-])", re.I)


# ---------------------------------------------------------------------- the catalog as data


def test_the_shipped_mo_is_the_po_compiled() -> None:
    assert compile_mo(parse_po(PO.read_text(encoding="utf-8"))) == MO.read_bytes(), (
        "rawmmap.mo is stale: run `python -m rawmmap._msgfmt`"
    )
    with MO.open("rb") as f:
        loaded = gettext.GNUTranslations(f)
    for e in entries():
        if e.msgid_plural is None:
            assert loaded.gettext(e.msgid) == e.msgstr[0]
        else:
            assert loaded.ngettext(e.msgid, e.msgid_plural, 2) == e.msgstr[0]
    assert loaded.info()["plural-forms"] == "nplurals=1; plural=0;"


def test_gnu_msgfmt_reads_the_catalog_the_same(tmp_path: pathlib.Path) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("GNU gettext's msgfmt is not installed (apt install gettext)")
    out = tmp_path / "gnu.mo"
    # --check: header, format strings (python-format, python-brace-format) against the msgid
    subprocess.run(["msgfmt", "--check", "-o", str(out), str(PO)], check=True)
    with out.open("rb") as f, MO.open("rb") as g:
        assert gettext.GNUTranslations(f)._catalog == gettext.GNUTranslations(g)._catalog  # type: ignore[attr-defined]


def test_the_catalog_holds_exactly_the_sentences_the_code_marks() -> None:
    text, _mo = updated(PO)
    assert text == PO.read_text(encoding="utf-8"), (
        "the catalog differs from the code's sentences: run `python -m rawmmap._msgfmt` and "
        "translate the new entries"
    )
    ids = {e.msgid for e in entries()}
    assert "the demo ran to the end (it raised {kind}: {error})" in ids  # the tour's framework
    assert "usage: " in ids and "What happened:" in ids  # argparse's and the CLI's
    assert catalogs() == [PO]


def test_the_po_tools_round_trip() -> None:
    parsed = parse_po(PO.read_text(encoding="utf-8"))
    assert write_po(parsed) == PO.read_text(encoding="utf-8")
    odd = 'msgid "a \\"b\\"\\tc\\n"\nmsgstr "x\\\\y"\n'
    (e,) = parse_po(odd)
    assert (e.msgid, e.msgstr) == ('a "b"\tc\n', ["x\\y"])
    with pytest.raises(ValueError, match="parse_po: line 1: unknown keyword 'msgfoo'"):
        parse_po('msgfoo "x"\n')


def test_every_message_is_translated() -> None:
    for e in entries():
        assert all(e.msgstr) and "fuzzy" not in e.flags, f"not translated: {e.msgid!r}"
        if re.match(r"\w+\(", e.msgid) and e.msgstr[0] == e.msgid:
            continue  # a call line as strace would print it, kept whole
        leftover = KEPT.sub("", e.msgid)
        for english, _chinese, _avoid in glossary():
            if _chinese == english:
                leftover = term(english).sub("", leftover)
        leftover = re.sub(r"\{[^}]*\}|%\([a-z_]+\)[sdr]|%[sd]", "", leftover)
        if re.search(r"[A-Za-z]{2,}", leftover):  # English words of our own: Chinese expected
            assert CJK.search(e.msgstr[0]), f"no Chinese in the translation of {e.msgid!r}"


def test_placeholders_match() -> None:
    for e in entries():
        for msgstr in e.msgstr:
            assert placeholders(msgstr) == placeholders(e.msgid), e.msgid
            if "{" in e.msgid:
                values = {name: 1 for name in re.findall(r"\{(\w+)", e.msgid)}
                msgstr.format(**values)  # and it formats


def test_the_kernels_words_are_kept_exactly() -> None:
    for e in entries():
        for kept in KEPT.findall(e.msgid):
            assert kept in e.msgstr[0], f"{kept!r} of {e.msgid!r} is not in {e.msgstr[0]!r}"


def test_the_glossary_terms_are_used_consistently() -> None:
    rows = glossary()
    assert len(rows) >= 20
    used = Counter[str]()
    for e in entries():
        # {resident} is a value, `rawmmap residency` a command: neither is a word to translate
        sentence = KEPT.sub("", re.sub(r"\{[^}]*\}", "", e.msgid))
        for english, chinese, avoid in rows:
            if term(english).search(sentence):
                used[english] += 1
                assert chinese in e.msgstr[0], (
                    f"glossary: {english!r} is {chinese!r}, not in {e.msgstr[0]!r} ({e.msgid!r})"
                )
            for variant in avoid:
                assert variant not in e.msgstr[0], f"glossary: {variant!r} for {chinese!r}"
    # the terms the issue names are all there, and each is used at least once
    for chinese in ("页缓存", "缺页异常", "写时复制", "匿名映射", "私有映射", "脏页", "常驻内存"):
        assert any(c == chinese for _, c, _a in rows), chinese
    assert not [english for english, _c, _a in rows if not used[english]]


# ---------------------------------------------------------------------- choosing the language


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL first
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),  # then LC_MESSAGES
        ({"LC_ALL": "", "LANG": "zh_CN"}, "zh"),  # empty means unset
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_language_from_the_environment(environ: dict[str, str], lang: str) -> None:
    assert _i18n.from_environment(environ) == lang


def test_a_missing_or_damaged_catalog_means_english(tmp_path: pathlib.Path) -> None:
    sentence = "SIGBUS on an empty file"
    with _i18n.speaking("zh", tmp_path):  # no catalog there at all
        assert words(sentence) == sentence
    broken = tmp_path / "zh_CN" / "LC_MESSAGES"
    broken.mkdir(parents=True)
    (broken / "rawmmap.mo").write_bytes(b"\xde\x12\x04\x95 not a catalog")
    with _i18n.speaking("zh", tmp_path):
        assert words(sentence) == sentence
    with _i18n.speaking("zh"):
        assert words(sentence) == "空文件上的 SIGBUS"
    assert words(sentence) == sentence and _i18n.language() == "en"  # restored after
    assert argparse._ is gettext.gettext  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"_i18n.use: lang must be one of \['en', 'zh'\]"):
        _i18n.use("fr")


def run(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(environ, NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "rawmmap", *args], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=300)  # fmt: skip


def test_LANG_zh_CN_makes_the_demo_speak_chinese() -> None:
    zh = run("demo", "sigbus-empty-file", LANG="zh_CN.UTF-8")
    assert zh.returncode == 0, zh.stderr
    assert "━━ 1. 空文件上的 SIGBUS ━━" in zh.stdout and "这节课的表现与所教一致。" in zh.stdout
    assert "ftruncate(3, " in zh.stdout  # the strace line as it is
    en = run("demo", "sigbus-empty-file", LANG="zh_CN.UTF-8", LC_ALL="C.UTF-8")
    assert "━━ 1. SIGBUS on an empty file ━━" in en.stdout and not CJK.search(en.stdout)
    forced = run("demo", "1", "--lang", "en", LANG="zh_CN.UTF-8")  # --lang beats the locale
    assert "The lesson behaved as taught." in forced.stdout


def test_the_whole_tour_in_chinese() -> None:
    """One run of the tour in zh: every lesson passes, and no line is left in English but
    the kernel's own (the calls) and the man-page names."""
    done = run("tour", "--lang", "zh")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    out = done.stdout
    assert f"全部 {len(LESSONS)} 节课的表现都与所教一致。" in out
    assert "DIFFERED" not in out and "✘" not in out
    english = []
    in_calls = False
    for line in out.splitlines():
        if line.startswith("调用："):
            in_calls = True
            continue
        if line.startswith("发生了什么："):
            in_calls = False
        if in_calls:
            assert line.startswith("    ") and re.search(r"\w\(.*\)", line), line
            continue
        if line.strip() and not CJK.search(line):
            english.append(line)
    assert not english, "lines left in English:\n" + "\n".join(english)
    # every lesson's title, what, why came from the catalog
    for module in map(lesson_module, demo_names()):
        with _i18n.speaking("zh"):
            title = words(module.TITLE, **getattr(module, "VALUES", {}))
        assert CJK.search(title) and f". {title} ━━" in out


def test_help_and_errors_in_chinese(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        main(["--lang", "zh", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("用法：rawmmap") and "显示此帮助信息并退出" in out
    assert "运行全部课程，逐一检查" in out and "界面语言" in out
    with pytest.raises(SystemExit) as exit_:
        main(["maps", "-5", "--lang=zh"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "rawmmap maps：错误：参数 pid：进程号必须 > 0，得到的是 -5" in err
    assert main(["demo", "nosuch", "--lang", "zh"]) == 2
    assert "没有演示 'nosuch'" in capsys.readouterr().err
    assert main(["pages", "0xzz", "--lang", "zh"]) == 2
    assert "rawmmap pages：错误的地址范围 '0xzz'" in capsys.readouterr().err
    assert main(["pages", "--mapping", "/no/such", "--lang", "zh"]) == 1
    assert "rawmmap pages：进程" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--lang", "fr"])  # not a language we have: argparse says so, in English
    assert "invalid choice: 'fr'" in capsys.readouterr().err


def test_maps_residency_and_the_lesson_list_in_chinese(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    assert main(["maps", "--lang", "zh"]) == 0
    head, *_rest, total = capsys.readouterr().out.splitlines()
    assert head.split() == ["地址", "千字节", "权限", "偏移", "映射"] and "合计" in total
    empty = tmp_path / "empty"
    empty.touch()
    assert main(["residency", "--lang", "zh", str(empty), str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"空文件：没有页  {empty}\n"
    assert captured.err == f"rawmmap residency：{tmp_path}：是一个目录\n"
    assert main(["demo", "--list", "--lang", "zh", "mprotect"]) == 0
    assert capsys.readouterr().out.split(None, 2)[2] == "mprotect 与 SIGSEGV 的 si_code\n"


def keys_and_codes(value: Any) -> Any:
    """The JSON with every sentence replaced by its type: keys, names, codes, numbers stay."""
    if isinstance(value, dict):
        return {k: keys_and_codes(v) if k not in ("title", "what", "why", "claim", "reason",
                                                  "error", "happened", "calls") else
                "text" for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [keys_and_codes(v) for v in value]
    return value


def test_json_is_the_same_in_both_languages(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    outputs = {}
    for lang in ("en", "zh"):
        assert main(["demo", "sigbus-empty-file", "--json", "--lang", lang]) == 0
        lesson = json.loads(capsys.readouterr().out)
        assert main(["residency", "--json", "--lang", lang, str(tmp_path)]) == 1
        residency = json.loads(capsys.readouterr().out)
        assert main(["demo", "--list", "--json", "--lang", lang]) == 0
        names = json.loads(capsys.readouterr().out)
        outputs[lang] = (lesson, residency, names)
    (en_lesson, en_res, en_names), (zh_lesson, zh_res, zh_names) = outputs["en"], outputs["zh"]
    assert keys_and_codes(en_lesson) == keys_and_codes(zh_lesson)
    assert en_lesson["lessons"][0]["name"] == "sigbus-empty-file" and en_lesson["ok"] is True
    assert len(en_lesson["lessons"][0]["calls"]) == len(zh_lesson["lessons"][0]["calls"])
    assert keys_and_codes(en_res) == keys_and_codes(zh_res) == [
        {"path": str(tmp_path), "error": "text", "errno": "ENODEV"}
    ]
    assert en_names == zh_names
    assert CJK.search(zh_lesson["lessons"][0]["title"])  # the sentences follow --lang


def test_the_html_page_says_its_language(tmp_path: pathlib.Path) -> None:
    page = tmp_path / "lesson.html"
    with io.StringIO() as out:
        sys_stdout, sys.stdout = sys.stdout, out
        try:
            assert main(["demo", "mprotect", "--lang", "zh", "--html", str(page)]) == 0
        finally:
            sys.stdout = sys_stdout
    html = page.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "<h3>发生了什么</h3>" in html


def test_the_chinese_readme() -> None:
    root = pathlib.Path(__file__).parent.parent
    english = (root / "README.md").read_text(encoding="utf-8")
    chinese = (root / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "[简体中文](README.zh-CN.md)" in english and "[English](README.md)" in chinese

    def quick_start(text: str, heading: str) -> list[str]:
        after = text[text.index(heading) :]
        return after.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()

    en_lines, zh_lines = quick_start(english, "## Quick start"), quick_start(chinese, "## 快速开始")
    assert zh_lines == [en_lines[0] + " --lang zh", en_lines[1]]
    for section in ("## 切换语言", "## 命令行", "LANG=zh_CN.UTF-8", "--lang zh"):
        assert section in chinese
