"""Turn an uploaded file into blocks of text, each under the headings it belongs to.

Supported: plain text, Markdown, HTML, PDF (pypdf), DOCX (python-docx) and CSV. Anything else, or a
file that cannot be read, raises `InvalidInputError` with a message fit for the document's status.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any, Final, Literal

from chat_core.errors import InvalidInputError

__all__ = ["SUPPORTED_EXTENSIONS", "Block", "FileKind", "ParsedDocument", "detect_kind", "parse_document"]

FileKind = Literal["text", "markdown", "html", "pdf", "docx", "csv"]

_BY_MEDIA_TYPE: Final[dict[str, FileKind]] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "csv",
}
_BY_EXTENSION: Final[dict[str, FileKind]] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "csv",
    ".tsv": "csv",
}
SUPPORTED_EXTENSIONS: Final = tuple(sorted(_BY_EXTENSION))
_ZIP_EXPANSION_LIMIT: Final = 20
"""A DOCX may unpack to at most this multiple of `max_bytes` (zip-bomb guard)."""


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph, list, table or code block, with the headings above it (outermost first)."""

    text: str
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """The text content of one file, in reading order."""

    kind: FileKind
    blocks: list[Block]


def detect_kind(filename: str, content_type: str | None) -> FileKind:
    """Decide how to read a file: a known extension wins, then the declared media type.

    Browsers and clients often send `application/octet-stream` or `text/plain` for Markdown and CSV,
    so the extension is the better signal when it is one we know.

    Raises:
        InvalidInputError: for a type this library cannot read.
    """
    extension = PurePosixPath(filename.lower()).suffix
    if extension in _BY_EXTENSION:
        return _BY_EXTENSION[extension]
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _BY_MEDIA_TYPE:
        return _BY_MEDIA_TYPE[media_type]
    shown = media_type or "unknown type"
    raise InvalidInputError(
        f"Unsupported file type {shown!r} ({filename!r}); supported: {', '.join(SUPPORTED_EXTENSIONS)}.",
        field="content_type",
    )


def parse_document(
    filename: str, content_type: str | None, data: bytes, *, max_bytes: int, max_pages: int
) -> ParsedDocument:
    """Extract the text of a file as heading-aware blocks.

    Args:
        filename: The uploaded file name (its extension picks the parser).
        content_type: The declared media type, used when the extension is unknown.
        data: The file's bytes.
        max_bytes: Larger files are refused before parsing.
        max_pages: PDFs with more pages are refused.

    Returns:
        The blocks in reading order; never empty.

    Raises:
        InvalidInputError: unsupported type, too large, corrupt, encrypted, or no text in it.
    """
    kind = detect_kind(filename, content_type)
    if len(data) > max_bytes:
        raise InvalidInputError(
            f"{filename!r} is {len(data):,} bytes; the limit is {max_bytes:,} bytes.", field="size"
        )
    parser = _PARSERS[kind]
    blocks = [block for block in parser(data, filename, max_bytes, max_pages) if block.text.strip()]
    if not blocks:
        hint = " (a scanned PDF? text recognition is not supported)" if kind == "pdf" else ""
        raise InvalidInputError(f"{filename!r} contains no extractable text{hint}.")
    return ParsedDocument(kind=kind, blocks=blocks)


def _decode_text(data: bytes, filename: str) -> str:
    if b"\x00" in data[:8192]:
        raise InvalidInputError(f"{filename!r} is not a text file (it contains binary data).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue  # JUSTIFICATION: try the next encoding; the loop's else clause raises.
    raise InvalidInputError(f"{filename!r} is not valid UTF-8 or Windows-1252 text.")


_LIST_OR_TABLE_LINE = re.compile(r"^\s*(?:[-*+\u2022]\s|\d+[.)]\s|\|)")


def _unwrap(lines: list[str]) -> str:
    """Join hard-wrapped lines into one line; list items and table rows keep their own lines."""
    text = ""
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not text:
            text = stripped
        elif _LIST_OR_TABLE_LINE.match(line):
            text = f"{text}\n{stripped}"
        else:
            text = f"{text} {stripped}"
    return text


def _paragraphs(text: str) -> Iterator[str]:
    for paragraph in re.split(r"\n\s*\n", text):
        if paragraph.strip():
            yield _unwrap(paragraph.split("\n"))


def _parse_text(data: bytes, filename: str, _max_bytes: int, _max_pages: int) -> Iterator[Block]:
    for paragraph in _paragraphs(_decode_text(data, filename)):
        yield Block(paragraph)


# --- Markdown -------------------------------------------------------------------------------------------

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


def _inline_markdown(text: str) -> str:
    return _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", _IMAGE.sub(r"\1", text)))


class _HeadingStack:
    """The current heading path, as (level, title) pairs."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> None:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        if title:
            self._stack.append((level, title))

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._stack)


def _parse_markdown(data: bytes, filename: str, _max_bytes: int, _max_pages: int) -> Iterator[Block]:
    lines = _decode_text(data, filename).split("\n")
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is not None:
            lines = lines[end + 1 :]
    headings = _HeadingStack()
    paragraph: list[str] = []
    fence: str | None = None

    def flush() -> Iterator[Block]:
        if paragraph:
            is_code = _FENCE.match(paragraph[0]) is not None
            text = "\n".join(paragraph) if is_code else _unwrap(paragraph)
            yield Block(_inline_markdown(text).strip(), headings.path)
            paragraph.clear()

    for line in lines:
        if fence is not None:
            paragraph.append(line)
            if line.strip().startswith(fence):
                fence = None
                yield from flush()
            continue
        if match := _FENCE.match(line):
            yield from flush()
            fence = match.group(1)[:3]
            paragraph.append(line)
            continue
        if match := _ATX_HEADING.match(line):
            yield from flush()
            headings.push(len(match.group(1)), _inline_markdown(match.group(2) or "").strip())
            continue
        if (match := _SETEXT.match(line)) and len(paragraph) == 1:
            title = paragraph.pop()
            headings.push(1 if match.group(1).startswith("=") else 2, _inline_markdown(title).strip())
            continue
        if not line.strip():
            yield from flush()
            continue
        paragraph.append(line.rstrip())
    yield from flush()


# --- HTML -----------------------------------------------------------------------------------------------

_HTML_SKIP: Final = frozenset({"script", "style", "noscript", "template", "head", "svg", "nav", "footer"})
_HTML_BLOCK: Final = frozenset(
    {
        "p", "div", "section", "article", "main", "aside", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table",
        "pre", "blockquote", "br", "hr", "figure", "figcaption", "header", "form", "body",
    }
)  # fmt: skip
_HTML_HEADINGS: Final = {f"h{level}": level for level in range(1, 7)}


class _HtmlBlocks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._headings = _HeadingStack()
        self._text: list[str] = []
        self._skip_depth = 0
        self._heading_level: int | None = None

    def _flush(self) -> None:
        text = re.sub(r"[ \t\r\f\v]+", " ", "".join(self._text))
        text = re.sub(r" *\n *", "\n", text).strip()
        self._text.clear()
        if not text:
            return
        if self._heading_level is not None:
            self._headings.push(self._heading_level, text.replace("\n", " "))
        else:
            self.blocks.append(Block(text, self._headings.path))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_SKIP:
            self._skip_depth += 1
        elif tag in _HTML_HEADINGS:
            self._flush()
            self._heading_level = _HTML_HEADINGS[tag]
        elif tag in ("td", "th"):
            self._text.append(" | ")
        elif tag in _HTML_BLOCK:
            if tag in ("li", "tr", "br", "dt", "dd"):
                self._text.append("\n")
            else:
                self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _HTML_HEADINGS:
            self._flush()
            self._heading_level = None
        elif tag in _HTML_BLOCK and tag not in ("li", "tr", "br", "dt", "dd"):
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def _parse_html(data: bytes, filename: str, _max_bytes: int, _max_pages: int) -> Iterator[Block]:
    parser = _HtmlBlocks()
    parser.feed(_decode_text(data, filename))
    parser.close()
    yield from parser.blocks


# --- PDF ------------------------------------------------------------------------------------------------


def _parse_pdf(data: bytes, filename: str, _max_bytes: int, max_pages: int) -> Iterator[Block]:
    from pypdf import PdfReader  # imported here: only PDF ingestion pays for it
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInputError(f"{filename!r} is password-protected; upload an unprotected copy.")
        page_count = len(reader.pages)
        if page_count > max_pages:
            raise InvalidInputError(
                f"{filename!r} has {page_count:,} pages; the limit is {max_pages:,}.", field="size"
            )
        pages = [_pdf_page_lines(page) for page in reader.pages]
    except InvalidInputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        # pypdf reports malformed files through a mix of its own and builtin exception types.
        raise InvalidInputError(f"{filename!r} is not a readable PDF.") from exc
    yield from _pdf_blocks(_without_page_furniture(pages))


@dataclass(frozen=True, slots=True)
class _PdfLine:
    text: str
    size: float


def _pdf_page_lines(page: Any) -> list[_PdfLine]:
    """Lines of a page with the font size each was drawn in (headings are larger than body text)."""
    runs: list[tuple[str, float]] = []

    def visit(text: str, _cm: Any, tm: Any, _font: Any, font_size: float) -> None:
        scale = abs(float(tm[3])) if tm and float(tm[3]) else 1.0
        runs.append((text, round(float(font_size) * scale, 1)))

    page.extract_text(visitor_text=visit)
    lines: list[_PdfLine] = []
    current: list[str] = []
    size = 0.0
    for text, run_size in runs:
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if part.strip():
                current.append(part)
                size = max(size, run_size)
            if index < len(parts) - 1 and current:
                lines.append(_PdfLine(" ".join("".join(current).split()), size))
                current, size = [], 0.0
    if current:
        lines.append(_PdfLine(" ".join("".join(current).split()), size))
    return [line for line in lines if line.text]


def _without_page_furniture(pages: list[list[_PdfLine]]) -> list[list[_PdfLine]]:
    """Drop running headers and footers: lines that recur on several pages once digits are ignored."""
    if len(pages) < 2:
        return pages

    def shape(line: _PdfLine) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    seen: Counter[str] = Counter()
    for page in pages:
        seen.update({shape(line) for line in page})
    repeated = {text for text, count in seen.items() if count >= max(2, len(pages) // 2)}
    return [[line for line in page if shape(line) not in repeated] for page in pages]


def _pdf_blocks(pages: list[list[_PdfLine]]) -> Iterator[Block]:
    """Group lines into paragraphs and use font sizes above the body size as heading levels."""
    weights: Counter[float] = Counter()
    for page in pages:
        for line in page:
            weights[line.size] += len(line.text)
    if not weights:
        return
    body_size = weights.most_common(1)[0][0]
    heading_sizes = sorted({size for size in weights if size >= body_size * 1.15}, reverse=True)
    level_of = {size: level for level, size in enumerate(heading_sizes[:6], start=1)}
    headings = _HeadingStack()
    paragraph: list[str] = []
    path = headings.path

    def flush() -> Iterator[Block]:
        if paragraph:
            yield Block(_join_pdf_lines(paragraph), path)
            paragraph.clear()

    for page in pages:
        for line in page:
            level = level_of.get(line.size)
            if level is not None and len(line.text) <= 200:
                yield from flush()
                headings.push(level, line.text)
                path = headings.path
                continue
            if paragraph and _ends_paragraph(paragraph[-1], line.text):
                yield from flush()
            paragraph.append(line.text)
    yield from flush()


def _ends_paragraph(previous: str, following: str) -> bool:
    """A line ending a sentence followed by a list item or a short line usually ends a paragraph."""
    bullet = re.match(r"^(?:[-*\u2022]|\d+[.)])\s", following) is not None
    return bullet or (previous.endswith((".", ":", "?", "!")) and len(previous) < 60)


def _join_pdf_lines(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line  # a word hyphenated across lines
        elif re.match(r"^(?:[-*\u2022]|\d+[.)])\s", line):
            text = f"{text}\n{line}" if text else line
        else:
            text = f"{text} {line}" if text else line
    return text


# --- DOCX -----------------------------------------------------------------------------------------------


def _parse_docx(data: bytes, filename: str, max_bytes: int, _max_pages: int) -> Iterator[Block]:
    from docx import Document as open_docx  # imported here: only DOCX ingestion pays for it
    from docx.opc.exceptions import PackageNotFoundError

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > max_bytes * _ZIP_EXPANSION_LIMIT:
            raise InvalidInputError(f"{filename!r} expands to {unpacked:,} bytes; it is refused as unsafe.")
        document = open_docx(io.BytesIO(data))
        blocks = list(_docx_blocks(document))
    except InvalidInputError:
        raise
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise InvalidInputError(f"{filename!r} is not a readable DOCX file.") from exc
    yield from blocks


def _docx_blocks(document: Any) -> Iterator[Block]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    headings = _HeadingStack()
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            style = (item.style.name if item.style is not None else "") or ""
            text = item.text.strip()
            if style == "Title":
                headings.push(1, text)
            elif match := re.fullmatch(r"Heading (\d)", style):
                headings.push(int(match.group(1)) + 1, text)
            elif text:
                prefix = "- " if style.startswith("List") else ""
                yield Block(prefix + text, headings.path)
        elif isinstance(item, Table):
            rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in item.rows]
            yield Block("\n".join(row for row in rows if row.strip(" |")), headings.path)


# --- CSV ------------------------------------------------------------------------------------------------


def _parse_csv(data: bytes, filename: str, _max_bytes: int, _max_pages: int) -> Iterator[Block]:
    text = _decode_text(data, filename)
    try:
        dialect: type[csv.Dialect] | str = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = "excel"  # JUSTIFICATION: no delimiter could be sniffed; plain comma CSV is the fallback.
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise InvalidInputError(f"{filename!r} is not a readable CSV file.") from exc
    if not rows:
        return
    header = [cell.strip() for cell in rows[0]]
    for row in rows[1:]:
        cells = [
            f"{header[i]}: {cell.strip()}" if i < len(header) and header[i] else cell.strip()
            for i, cell in enumerate(row)
            if cell.strip()
        ]
        yield Block("; ".join(cells))
    if len(rows) == 1:
        yield Block("; ".join(header))


_PARSERS: Final[dict[FileKind, Callable[[bytes, str, int, int], Iterator[Block]]]] = {
    "text": _parse_text,
    "markdown": _parse_markdown,
    "html": _parse_html,
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "csv": _parse_csv,
}
