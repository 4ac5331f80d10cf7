import pytest

from chat_core.errors import InvalidInputError
from chat_core.files import UploadPolicy, check_upload, sanitize_document_name, sanitize_filename

POLICY = UploadPolicy()


class TestCheckUpload:
    def test_defaults_are_the_originals(self) -> None:
        assert POLICY.max_file_bytes == 4 * 1024 * 1024
        assert POLICY.user_quota_bytes == 1024**3
        assert POLICY.max_files_per_message == 5
        assert "application/pdf" in POLICY.allowed_types
        assert "image/webp" in POLICY.allowed_types

    def test_accepts_an_allowed_file(self) -> None:
        check_upload(POLICY, filename="report.pdf", mime_type="application/pdf", size_bytes=1000)

    def test_accepts_a_mime_type_with_parameters(self) -> None:
        check_upload(POLICY, filename="a.txt", mime_type="text/plain; charset=utf-8", size_bytes=10)

    def test_exactly_at_the_size_limit(self) -> None:
        check_upload(POLICY, filename="a.txt", mime_type="text/plain", size_bytes=POLICY.max_file_bytes)

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"filename": "a.exe", "mime_type": "application/x-msdownload", "size_bytes": 10}, "mimeType"),
            (
                {"filename": "a.txt", "mime_type": "text/plain", "size_bytes": 4 * 1024 * 1024 + 1},
                "sizeBytes",
            ),
            ({"filename": "a.txt", "mime_type": "text/plain", "size_bytes": 0}, "sizeBytes"),
            ({"filename": "", "mime_type": "text/plain", "size_bytes": 1}, "filename"),
            ({"filename": "x" * 256, "mime_type": "text/plain", "size_bytes": 1}, "filename"),
        ],
    )
    def test_refusals_name_the_field(self, kwargs: dict[str, object], field: str) -> None:
        with pytest.raises(InvalidInputError) as caught:
            check_upload(POLICY, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field

    def test_custom_policy(self) -> None:
        policy = UploadPolicy(allowed_types=frozenset({"text/plain"}), max_file_bytes=5)
        with pytest.raises(InvalidInputError):
            check_upload(policy, filename="a.pdf", mime_type="application/pdf", size_bytes=1)


class TestSanitize:
    @pytest.mark.parametrize(
        ("raw", "clean"),
        [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\notes.txt", "notes.txt"),
            ('we"ird<name>.txt', "we_ird_name_.txt"),
            ("..", "file"),
            ("", "file"),
            ("ｆｕｌｌ.txt", "full.txt"),
        ],
    )
    def test_filename_is_safe_for_keys(self, raw: str, clean: str) -> None:
        assert sanitize_filename(raw) == clean

    def test_long_names_are_capped(self) -> None:
        assert len(sanitize_filename("a" * 1000 + ".txt")) == 200

    def test_document_name_keeps_only_what_providers_accept(self) -> None:
        assert sanitize_document_name("My Report (v2) [final].pdf") == "My Report (v2) [final]_pdf"
        assert sanitize_document_name("a/b/ünïcode.md") == "_n_code_md"
        assert sanitize_document_name("") == "document"
