from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docx import Document as new_docx
from pypdf import PdfWriter

from chat_core.errors import InvalidInputError
from chat_rag.parsing import detect_kind, parse_document

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
LIMITS = {"max_bytes": 5_000_000, "max_pages": 50}


class TestDetectKind:
    @pytest.mark.parametrize(
        ("filename", "content_type", "kind"),
        [
            ("notes.md", "application/octet-stream", "markdown"),
            ("notes.md", "text/plain", "markdown"),
            ("data.CSV", None, "csv"),
            ("page", "text/html; charset=utf-8", "html"),
            ("report.pdf", "", "pdf"),
            ("letter.docx", None, "docx"),
            ("readme", "text/plain", "text"),
        ],
    )
    def test_extension_first_then_media_type(
        self, filename: str, content_type: str | None, kind: str
    ) -> None:
        assert detect_kind(filename, content_type) == kind

    def test_unsupported_type_names_the_type_and_the_supported_ones(self) -> None:
        with pytest.raises(InvalidInputError) as caught:
            detect_kind("photo.png", "image/png")
        assert "image/png" in caught.value.message
        assert ".pdf" in caught.value.message


class TestText:
    def test_paragraphs_are_unwrapped_but_lists_keep_their_lines(self) -> None:
        data = b"First line\nwraps here.\n\nItems:\n- one\n- two\n"
        blocks = parse_document("a.txt", "text/plain", data, **LIMITS).blocks
        assert [block.text for block in blocks] == ["First line wraps here.", "Items:\n- one\n- two"]

    def test_windows_1252_text_is_decoded(self) -> None:
        blocks = parse_document("a.txt", None, "Caf\u00e9 cr\u00e8me".encode("cp1252"), **LIMITS).blocks
        assert blocks[0].text == "Caf\u00e9 cr\u00e8me"

    def test_binary_data_is_refused(self) -> None:
        with pytest.raises(InvalidInputError, match="not a text file"):
            parse_document("a.txt", "text/plain", b"\x00\x01\x02binary", **LIMITS)

    def test_empty_file_is_refused(self) -> None:
        with pytest.raises(InvalidInputError, match="no extractable text"):
            parse_document("a.txt", "text/plain", b" \n\n ", **LIMITS)

    def test_file_over_the_size_limit_is_refused_before_parsing(self) -> None:
        with pytest.raises(InvalidInputError, match="limit is 10 bytes"):
            parse_document("a.txt", "text/plain", b"x" * 11, max_bytes=10, max_pages=1)


class TestMarkdown:
    def test_headings_build_the_path_and_code_is_not_a_heading(self) -> None:
        data = (
            b"---\ntitle: x\n---\n# Guide\n\nIntro **text** with a [link](http://x).\n\n## Setup\n\n"
            b"```sh\n# not a heading\nmake\n```\n\nSetext title\n------------\n\nBody.\n\n# Other\n\nLast."
        )
        blocks = parse_document("g.md", None, data, **LIMITS).blocks
        assert [(block.heading_path, block.text) for block in blocks] == [
            (("Guide",), "Intro text with a link."),
            (("Guide", "Setup"), "```sh\n# not a heading\nmake\n```"),
            (("Guide", "Setext title"), "Body."),
            (("Other",), "Last."),
        ]


class TestHtml:
    def test_headings_paragraphs_and_tables_without_scripts(self) -> None:
        data = (
            b"<html><head><title>t</title><script>var x = 1;</script></head><body>"
            b"<h1>Policy</h1><p>Hello &amp; welcome.</p><h2>Table</h2>"
            b"<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
            b"<style>p {}</style><ul><li>x</li><li>y</li></ul></body></html>"
        )
        blocks = parse_document("p.html", "text/html", data, **LIMITS).blocks
        assert blocks[0].heading_path == ("Policy",)
        assert blocks[0].text == "Hello & welcome."
        assert all("var x" not in block.text and "p {}" not in block.text for block in blocks)
        table = "\n".join(block.text for block in blocks if block.heading_path == ("Policy", "Table"))
        assert "a | b" in table
        assert "1 | 2" in table
        assert "x\ny" in table


class TestPdf:
    def test_example_policy_has_headings_from_font_sizes_and_no_page_footers(self) -> None:
        data = (EXAMPLES / "travel-expense-policy.pdf").read_bytes()
        blocks = parse_document("travel-expense-policy.pdf", "application/pdf", data, **LIMITS).blocks
        paths = {block.heading_path for block in blocks}
        assert ("Harbourline Travel and Expense Policy", "3. Booking travel", "3.3 Hotels") in paths
        assert not any("page 2" in block.text for block in blocks)
        assert any("EUR 0.30 per kilometre" in block.text for block in blocks)

    def test_page_limit(self) -> None:
        data = (EXAMPLES / "travel-expense-policy.pdf").read_bytes()
        with pytest.raises(InvalidInputError, match="pages; the limit is 2"):
            parse_document("p.pdf", "application/pdf", data, max_bytes=10**7, max_pages=2)

    def test_corrupt_pdf_is_an_invalid_input(self) -> None:
        data = (EXAMPLES / "travel-expense-policy.pdf").read_bytes()[:600]
        with pytest.raises(InvalidInputError, match="not a readable PDF") as raised:
            parse_document("p.pdf", "application/pdf", data, **LIMITS)
        assert (
            raised.value.message == "'p.pdf' is not a readable PDF."
        )  # pypdf's error class stays in the cause

    def test_pdf_without_text_says_why(self) -> None:
        writer = PdfWriter()
        writer.add_blank_page(width=200, height=200)
        buffer = io.BytesIO()
        writer.write(buffer)
        with pytest.raises(InvalidInputError, match="scanned PDF"):
            parse_document("scan.pdf", "application/pdf", buffer.getvalue(), **LIMITS)

    def test_password_protected_pdf_is_refused(self) -> None:
        writer = PdfWriter(clone_from=io.BytesIO((EXAMPLES / "travel-expense-policy.pdf").read_bytes()))
        writer.encrypt(user_password="secret", algorithm="RC4-128")
        buffer = io.BytesIO()
        writer.write(buffer)
        with pytest.raises(InvalidInputError, match="password-protected"):
            parse_document("locked.pdf", "application/pdf", buffer.getvalue(), **LIMITS)


class TestDocx:
    def test_headings_lists_and_tables(self) -> None:
        document = new_docx()
        document.add_heading("Onboarding", level=0)
        document.add_heading("First week", level=1)
        document.add_paragraph("Meet your buddy on Monday.")
        document.add_paragraph("Laptop", style="List Bullet")
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "Day", "Task"
        table.cell(1, 0).text, table.cell(1, 1).text = "Tue", "Security training"
        buffer = io.BytesIO()
        document.save(buffer)
        blocks = parse_document("o.docx", None, buffer.getvalue(), **LIMITS).blocks
        assert [(block.heading_path, block.text) for block in blocks] == [
            (("Onboarding", "First week"), "Meet your buddy on Monday."),
            (("Onboarding", "First week"), "- Laptop"),
            (("Onboarding", "First week"), "Day | Task\nTue | Security training"),
        ]

    def test_a_zip_that_is_not_a_docx_is_refused(self) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "hi")
        with pytest.raises(InvalidInputError, match="not a readable DOCX"):
            parse_document("x.docx", None, buffer.getvalue(), **LIMITS)

    def test_zip_bomb_is_refused(self) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("word/document.xml", b"0" * 2_000_000)
        with pytest.raises(InvalidInputError, match="refused as unsafe"):
            parse_document("x.docx", None, buffer.getvalue(), max_bytes=50_000, max_pages=1)


class TestCsv:
    def test_rows_become_labelled_blocks(self) -> None:
        data = b"name;city;phone\nAda;London;\nGrace;New York;555\n"
        blocks = parse_document("people.csv", "text/csv", data, **LIMITS).blocks
        assert [block.text for block in blocks] == [
            "name: Ada; city: London",
            "name: Grace; city: New York; phone: 555",
        ]
