"""The report's page: titled sections of paragraphs, tables, figures and lists, written as one
self-contained HTML dashboard and as Markdown.

The HTML file opens anywhere on its own: the table of contents links to anchors in the page,
figures sit in a responsive CSS grid, images are inlined as data URIs, and there is no external
style sheet, script or font. The Markdown file has the same sections and contents, with the
PNGs beside it.
"""
from __future__ import annotations

import base64
import html
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union


@dataclass
class Table:
    title: str  # "" for none
    head: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    caption: str
    path: Path  # a PNG, inlined into the HTML and linked from the Markdown


@dataclass
class Bullets:
    items: list[str]


Block = Union[str, Table, Figure, Bullets]  # a str is a paragraph; `code` marks names


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    subsections: list["Section"] = field(default_factory=list)


def slug(title: str) -> str:
    """The anchor of a heading as GitHub writes it: lower case, spaces to hyphens, other
    punctuation dropped (``Against the baseline`` -> ``against-the-baseline``)."""
    return re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")


def anchors(sections: list[Section]) -> dict[int, str]:
    """A unique anchor per section and subsection, keyed by ``id()``; a repeated title gets
    ``-1``, ``-2``, ... as GitHub numbers them."""
    seen: dict[str, int] = {}
    found: dict[int, str] = {}

    def walk(section: Section) -> None:
        base = slug(section.title) or "section"
        n = seen.get(base, 0)
        seen[base] = n + 1
        found[id(section)] = base if n == 0 else f"{base}-{n}"
        for sub in section.subsections:
            walk(sub)

    for section in sections:
        walk(section)
    return found


STYLE = (
    ":root{--muted:#555;--line:#d0d4da;--panel:#f6f7f9}"
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;color:#222;margin:0;line-height:1.4}"
    "header{padding:1em 1.5em;border-bottom:1px solid var(--line)}header h1{margin:0;font-size:150%}"
    ".layout{display:grid;grid-template-columns:minmax(12em,16em) minmax(0,1fr);gap:2em;padding:0 1.5em}"
    "nav{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto;padding:1em 0;font-size:92%}"
    "nav ol{padding-left:1.2em;margin:.3em 0}nav a{color:#1a4f8b;text-decoration:none}"
    "nav a:hover{text-decoration:underline}"
    "main{min-width:0;padding-bottom:3em}"
    "section{margin:1.5em 0;scroll-margin-top:1em}section section{margin:1em 0}"
    "#summary{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.5em 1.2em 1em}"
    "h2{border-bottom:1px solid var(--line);padding-bottom:.2em}h3{font-size:105%}"
    ".table{overflow-x:auto}table{border-collapse:collapse;font-size:90%;margin:.5em 0}"
    "td,th{border:1px solid var(--line);padding:3px 8px;text-align:right}th{background:#eef0f3}"
    "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}td:nth-child(-n+2){white-space:nowrap}"
    "caption{text-align:left;color:var(--muted);padding:.3em 0}"
    ".figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,26em),1fr));gap:1.2em}"
    "figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:.5em;background:#fff}"
    "figure.wide{grid-column:1/-1}"
    "figure img{width:100%;height:auto;display:block}figcaption{color:var(--muted);font-size:88%;margin-top:.3em}"
    "code{font-size:92%;background:#eef0f3;padding:0 .2em;border-radius:3px}"
    "@media (max-width:50em){.layout{grid-template-columns:minmax(0,1fr)}nav{position:static;max-height:none}}"
)


def _text(value: str) -> str:
    """A paragraph's text as HTML: escaped, with `names` in <code>."""
    parts = html.escape(value, quote=False).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show it as written
        return html.escape(value, quote=False)
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_table(table: Table) -> str:
    caption = f"<caption>{_text(table.title)}</caption>" if table.title else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.head)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in table.rows)
    return f'<div class="table"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


WIDE = 2.2  # a figure at least this many times wider than tall (side-by-side panels) spans the grid's row


def _aspect(png: bytes) -> float | None:
    """Width over height from a PNG's header (``None`` if it is not a PNG)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return None
    width, height = struct.unpack(">II", png[16:24])
    return width / height if height else None


def _html_figure(figure: Figure) -> str:
    png = figure.path.read_bytes()
    wide = " class='wide'" if (_aspect(png) or 0) >= WIDE else ""
    caption = html.escape(figure.caption)
    return (f'<figure{wide}><img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _html_blocks(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    figures: list[str] = []
    for block in [*blocks, None]:  # None flushes the last run of figures
        if isinstance(block, Figure):
            figures.append(_html_figure(block))
            continue
        if figures:
            out.append('<div class="figures">' + "".join(figures) + "</div>")
            figures = []
        if isinstance(block, str):
            out.append(f"<p>{_text(block)}</p>")
        elif isinstance(block, Table):
            out.append(_html_table(block))
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{_text(item)}</li>" for item in block.items) + "</ul>")
    return out


def _html_section(section: Section, ids: dict[int, str], level: int) -> str:
    parts = [f'<section id="{ids[id(section)]}"><h{level}>{html.escape(section.title)}</h{level}>',
             *_html_blocks(section.blocks), *(_html_section(s, ids, level + 1) for s in section.subsections),
             "</section>"]
    return "".join(parts)


def _html_contents(sections: list[Section], ids: dict[int, str]) -> str:
    items = []
    for section in sections:
        sub = _html_contents(section.subsections, ids) if section.subsections else ""
        items.append(f'<li><a href="#{ids[id(section)]}">{html.escape(section.title)}</a>{sub}</li>')
    return "<ol>" + "".join(items) + "</ol>"


def to_html(title: str, sections: list[Section]) -> str:
    """One self-contained HTML page: the title, a table of contents beside the sections (above
    them on a narrow screen), the sections in order."""
    ids = anchors(sections)
    body = "".join(_html_section(s, ids, 2) for s in sections)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1></header><div class='layout'>"
            f"<nav id='contents' aria-label='Contents'><strong>Contents</strong>{_html_contents(sections, ids)}</nav>"
            f"<main>{body}</main></div></body></html>\n")


def _md_blocks(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, str):
            out += [block, ""]
        elif isinstance(block, Table):
            out += ([block.title, ""] if block.title else []) + [
                "| " + " | ".join(block.head) + " |", "|" + "---|" * len(block.head),
                *("| " + " | ".join(r) + " |" for r in block.rows), ""]
        elif isinstance(block, Figure):
            out += [f"![{block.caption}]({block.path.name})", "", block.caption, ""]
        elif isinstance(block, Bullets):
            out += [*(f"- {item}" for item in block.items), ""]
    return out


def _md_section(section: Section, level: int) -> list[str]:
    out = ["#" * level + " " + section.title, "", *_md_blocks(section.blocks)]
    for sub in section.subsections:
        out += _md_section(sub, level + 1)
    return out


def _md_contents(sections: list[Section], ids: dict[int, str], depth: int = 0) -> list[str]:
    out = []
    for section in sections:
        out.append("  " * depth + f"- [{section.title}](#{ids[id(section)]})")
        out += _md_contents(section.subsections, ids, depth + 1)
    return out


def to_markdown(title: str, sections: list[Section]) -> str:
    """The same page as Markdown: the title, the contents as links to the headings, the sections."""
    ids = anchors(sections)
    lines = [f"# {title}", "", *_md_contents(sections, ids), ""]
    for section in sections:
        lines += _md_section(section, 2)
    return "\n".join(lines).rstrip("\n") + "\n"
