"""Turn extracted text into clean prose with page and section maps.

Text extracted from a PDF (.txt, detected by ``text_layout``) has a fixed shape: each wrapped line of a
paragraph is followed by a blank line, table cells sit on consecutive lines, a line starting with a single
space opens a new page, and running headers, bare page numbers and figure captions interrupt the flow. Plain
text (.txt) has paragraphs of consecutive lines. Every other reader emits one shared layout instead: form feeds
separate pages and Markdown ``#`` lines are headings; PDF readers separate visual lines by blank lines, like an
extraction's wrapped lines, while DOCX and HTML readers write whole paragraphs on consecutive lines.
Everything here is a pure function of the input text so it can be tested on real excerpts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from assistant.ingest.formats import FORMATS
from assistant.ingest.headings import is_plain_heading
from assistant.ingest.lines import Line, scan_lines
from assistant.ingest.tables import (
    BULLETS,
    is_cell_row,
    is_label_row,
    is_prose_paragraph,
    is_single_cjk,
    is_table_row,
    merge_spans,
)
from assistant.language import CN_NUMERAL, heading_labels
from assistant.types import CleanDocument, Heading, RawDocument

# A section title in an extracted PDF: a numbered part ("第三节", "Section 4") or a part every kind of document may
# have, named alone on its line. Anything else a document calls a section is declared in its settings (headings).
PART_NAMES = "摘要|概要|前言|引言|序言|附录|结论|结语|目录|Summary|Abstract|Preface|Introduction|Conclusions?|Appendix"
SECTION_RE = re.compile(rf"^(第[{CN_NUMERAL}\d]{{1,4}}[节章部篇]|(?:Section|Chapter|Part) \d+|{PART_NAMES})$")
EXTRACTED_SHARE = 0.7  # of a PDF extraction's lines, this many are followed by a blank line (plain text: ~0.2-0.6)
SENTENCE_END = "。！？；!?;：:…"
CLOSERS = "”’」』）)\"'"
PUNCTUATION_RE = re.compile(r"[，。、；：！？,.;:!?|•“”（）()【】《》%/·\-]")
LATIN_WORD = re.compile(r"[A-Za-z0-9]")
LATIN_CLOSERS = ".,;:!?)]\"'"  # ASCII punctuation a Latin sentence or clause ends with before a line break
TITLE_LINE_MAX = 14
SUBHEADING_MAX = 12
PROSE_LINE_MIN = 12
NARROW_LINE_MIN = 7  # narrow-column prose in the report's figures ("将改变未来的工")
WRAP_PUNCTUATION_RE = re.compile(r"[，。、；：！？（）“”]")
LIST_ITEM_RE = re.compile(r"^(?:\d{1,2}[.)、]|[a-z][.)]|\([a-z0-9]{1,3}\)|[•·*-]|-{2,}>)\s")  # starts its own line


def join_wrapped(left: str, right: str) -> str:
    """Join two halves of a hard-wrapped line: no space between CJK, one space where Latin text meets Latin text,
    also after punctuation ("patents." + "States" → "patents. States"); never after a hyphen or slash, which
    may break a word."""
    if not left or not right:
        return left + right
    if LATIN_WORD.match(right[0]) and (LATIN_WORD.match(left[-1]) or left[-1] in LATIN_CLOSERS):
        return f"{left} {right}"
    return left + right


def ends_sentence(line: str, marks: str = SENTENCE_END) -> bool:
    stripped = line.rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in marks


def is_heading_like(line: str, max_chars: int) -> bool:
    """Short, unpunctuated text: the shape of a title or sub-heading in the report."""
    return 2 <= len(line) <= max_chars and not PUNCTUATION_RE.search(line) and not line.isdigit()


def is_subheading(lines: list["Line"], i: int) -> bool:
    """A short standalone line followed by a full-width prose line; figure labels fail the second test."""
    line = lines[i]
    following = lines[i + 1] if i + 1 < len(lines) else None
    return (
        not line.tight
        and is_heading_like(line.text, SUBHEADING_MAX)
        and not any(c.isdigit() for c in line.text)
        and following is not None
        and len(following.text) > PROSE_LINE_MIN
    )


@dataclass(frozen=True)
class Layout:
    """How a reader's text marks pages, and which line endings finish a wrapped sentence."""

    page_marks: bool = False  # a PDF's extracted text; otherwise form feeds separate pages and '#' lines are headings
    sentence_end: str = SENTENCE_END  # a wrapped line ending in one of these is not continued by the next
    paragraphs: bool = False  # plain text: consecutive lines are one paragraph, blank lines separate paragraphs


LAYOUTS: dict[str, Layout] = {
    "text": Layout(page_marks=True),  # text extracted from a PDF: a blank line after every visual line
    "plain": Layout(sentence_end=SENTENCE_END + ".", paragraphs=True),
    "markdown": Layout(),
    "pdf": Layout(sentence_end=SENTENCE_END + "."),  # any PDF may be English, where a full stop ends a sentence
    "docx": Layout(),
    "html": Layout(),
}


class _Builder:
    """Accumulates cleaned text with the offsets of page starts and headings."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.parts: list[str] = []
        self.length = 0
        self.page_starts: list[tuple[int, int]] = []
        self.headings: list[Heading] = []
        self.last_line = ""
        self.closed = True  # True after a heading: the next line never continues the previous one
        self.paragraph_start = 0
        self.paragraph_has_table_line = False
        self.table_spans: list[tuple[int, int]] = []
        self.seams: list[int] = []
        self.page_opened: int | None = 0  # where the current page's first line starts (None: it continued a line)
        self.title_start = -1  # where the last section title starts

    def close_paragraph(self) -> None:
        """Classify the paragraph just finished: prose, or a table/figure block kept apart from prose."""
        text = "".join(self.parts)[self.paragraph_start :] if self.parts else ""
        if text.strip() and not is_prose_paragraph(
            text, finished=ends_sentence(text, self.layout.sentence_end), has_table_line=self.paragraph_has_table_line
        ):
            self.table_spans.append((self.paragraph_start, self.length))
        self.paragraph_has_table_line = False

    def _record_page(self, page: int) -> None:
        if not self.page_starts or self.page_starts[-1][1] != page:
            offset = self.length
            self.page_starts.append((offset, page))
            if self.layout.page_marks and self.headings and self.headings[-1].heading:
                # A sub-heading's scope ends with its page: the report's layout gives no other end marker.
                self.headings.append(Heading(offset, self.headings[-1].section))

    def append(
        self,
        text: str,
        page: int,
        *,
        new_line: bool,
        table_line: bool = False,
        seam: bool = False,
        cells: bool = False,
        opens_page: bool = False,
    ) -> None:
        """Add a line: on a new line, or joined to the last one (as wrapped text, or as the next cell of a row)."""
        if new_line or not self.parts:
            if self.parts:
                self.close_paragraph()
                self.parts.append("\n")
                self.length += 1
            self.paragraph_start = self.length
        if opens_page:
            self.page_opened = self.length if new_line or not self.parts else None
        if seam:  # joined or not: a run of rows or a sentence across this point is not what the reader sees
            self.seams.append(self.length)
        self._record_page(page)
        if not new_line and self.parts:
            merged = f"{self.last_line} {text}" if cells else join_wrapped(self.last_line, text)
            addition = merged[len(self.last_line):]
        else:
            addition = text
        self.paragraph_has_table_line |= table_line
        self.parts.append(addition)
        self.length += len(addition)
        self.last_line = (self.last_line + addition) if not new_line else text
        self.closed = False

    def heading(
        self, text: str, page: int, section: str, heading: str = "", *, seam: bool = False, opens_page: bool = False
    ) -> None:
        self.close_paragraph()
        self.paragraph_start = self.length + (1 if self.parts else 0)
        self.headings.append(Heading(self.length + (1 if self.parts else 0), section, heading))
        self.append(text, page, new_line=True, seam=seam, opens_page=opens_page)
        self.paragraph_start = self.length  # a heading is neither prose nor table
        self.closed = True

    def claim_page(self, section: str) -> None:
        """The lines of this page before a section title belong to that section: the report's sections open on a
        new page, and its PDF order puts the opening page's side boxes before the title ("首先，基础设施层是…").

        Left alone before the first section (the document's title page), when the page began mid-line, and when it
        holds a sub-heading or another section's title before this one.
        """
        start = self.page_opened
        if start is None or self.title_start < 0 or start <= self.title_start or any(h.heading for h in self.headings if h.start >= start):
            return
        kept = [h for h in self.headings if h.start < start]
        self.headings = [*kept, Heading(start, section)]

    def continues(self) -> bool:
        """Whether the next blank-separated line is the wrapped remainder of the current one."""
        return bool(self.parts) and not self.closed and not ends_sentence(self.last_line, self.layout.sentence_end)

    def text(self) -> str:
        return "".join(self.parts)


def text_layout(raw: str) -> str:
    """A .txt file's layout, read from its lines: "text" (what PDF extraction writes) when it opens with a page mark
    (one space before the first line) or nearly every line is followed by a blank line, else "plain" (paragraphs of
    consecutive lines)."""
    lines = raw.replace("\r\n", "\n").split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return "plain"
    first = lines[content[0]]
    followed = sum(1 for i in content if i + 1 < len(lines) and not lines[i + 1].strip())
    page_mark = first.startswith(" ") and not first.startswith("  ")
    return "text" if page_mark or followed / len(content) >= EXTRACTED_SHARE else "plain"


def clean_raw(raw: RawDocument) -> CleanDocument:
    return clean(raw.text, raw.doc_id, layout=LAYOUTS[text_layout(raw.text) if raw.loader == "text" else raw.loader])


def clean(raw: str, doc_id: str = "", *, layout: Layout | None = None) -> CleanDocument:
    """Clean one document; ``layout`` defaults to the one for ``doc_id``'s format (read from the text for .txt)."""
    if layout is None:
        document_format = FORMATS.get(PurePosixPath(doc_id).suffix.lower())
        loader = document_format.loader if document_format else "text"
        layout = LAYOUTS[text_layout(raw) if loader == "text" else loader]
    page_marks = layout.page_marks
    lines = scan_lines(raw, page_marks=page_marks)
    out = _Builder(layout)
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.markdown_heading:
            if line.markdown_heading <= 2:
                section = line.text
                out.heading(line.text, line.page, section)
            else:
                out.heading(line.text, line.page, section, line.text)
            i += 1
            continue
        if page_marks and SECTION_RE.match(line.text):
            title_lines = [line.text]
            j = i + 1
            while (
                j < len(lines)
                and len(title_lines) < 3
                and SECTION_RE.match(line.text).group(1).startswith("第")
                and is_heading_like(lines[j].text, TITLE_LINE_MAX)
                and not lines[j].after_noise  # a title never continues across a removed page number
                and not is_table_row(lines[j].text)
            ):
                title_lines.append(lines[j].text)
                j += 1
            section = title_lines[0] + (" " + "".join(title_lines[1:]) if len(title_lines) > 1 else "")
            if not line.page_break:
                out.claim_page(section)
            out.heading(section, line.page, section, seam=line.after_noise, opens_page=line.page_break)
            out.title_start = out.headings[-1].start
            i = j
            continue
        continues = out.continues()
        if page_marks and not continues and is_subheading(lines, i):
            out.heading(line.text, line.page, section, line.text, seam=line.after_noise, opens_page=line.page_break)
            i += 1
            continue
        if page_marks:
            place_tabular(out, lines, i)
            i += 1
            continue
        if layout.paragraphs:
            if is_plain_heading(lines, i):
                # Numbered parts are sections; an unnumbered title inside one ("** 使用帮助 **") is its sub-heading.
                if heading_labels(line.text) or not heading_labels(section):
                    section = line.text
                    out.heading(line.text, line.page, section)
                else:
                    out.heading(line.text, line.page, section, line.text)
            else:
                new_line = not line.tight or out.closed or LIST_ITEM_RE.match(line.text) is not None
                out.append(line.text, line.page, new_line=new_line, opens_page=line.page_break)
            i += 1
            continue
        if line.tight:
            # Table rows stay on their own lines; vertical labels (one character per line) are rejoined.
            new_line = not (is_single_cjk(line.text) and is_single_cjk(lines[i - 1].text))
        else:
            new_line = not continues or line.text.startswith(("•", "- ", "* ")) or "|" in line.text[:12]
        out.append(line.text, line.page, new_line=new_line, seam=line.after_noise, opens_page=line.page_break)
        i += 1
    out.close_paragraph()
    text = out.text()
    return CleanDocument(
        doc_id=doc_id,
        text=text,
        page_starts=tuple(out.page_starts) or ((0, 1),),
        headings=tuple(out.headings),
        tables=merge_spans(out.table_spans, text) if page_marks else (),
        seams=tuple(out.seams),
    )


def wraps(previous: str, line: str) -> bool:
    """Whether a blank-separated line can be the wrapped remainder of ``previous``: the report's prose lines run
    full width, its narrow columns carry punctuation; figure labels ("生成式AI技术栈", "基础设施/硬件") do neither."""
    width = len("".join(previous.split()))
    return width >= PROSE_LINE_MIN or (width >= NARROW_LINE_MIN and bool(WRAP_PUNCTUATION_RE.search(previous + line)))


def place_tabular(out: _Builder, lines: list[Line], i: int) -> None:
    """The report's layout: table cells and rows stay on lines of their own, apart from prose.

    Tight lines (no blank line between) join: wrapped prose as wrapped text, cells of one
    table row with a space, vertical one-character labels directly. A row that ends in
    bullets, a new "label|" item or a finished sentence ends the line. Blank-separated lines
    join only as wrapped prose, never into or out of a table.
    """
    line = lines[i]
    finished = ends_sentence(line.text, out.layout.sentence_end)
    table_line = is_cell_row(line.text, finished=finished)
    previous = lines[i - 1] if i else None
    in_table = out.paragraph_has_table_line or table_line
    starts_item = line.text.startswith(tuple(BULLETS)) or "|" in line.text[:12]
    ends_row = out.last_line.rstrip().endswith(tuple(BULLETS)) or ends_sentence(out.last_line, out.layout.sentence_end)
    cells = False
    if out.closed or not out.parts:
        new_line = True
    elif line.tight and previous is not None and is_single_cjk(line.text) and is_single_cjk(previous.text):
        new_line = False
    elif line.tight:
        new_line = ends_row or starts_item or is_label_row(line.text) or (previous is not None and is_label_row(previous.text))
        cells = in_table
    else:
        wrapped = previous is not None and wraps(previous.text, line.text)
        new_line = in_table or not wrapped or not out.continues() or starts_item
    out.append(
        line.text, line.page, new_line=new_line, table_line=table_line, seam=line.after_noise, cells=cells, opens_page=line.page_break
    )
