"""No swallowed errors: every `except` re-raises or says why it may not, and the list is documented."""

from pathlib import Path

from rules import ROOT, render_error_handling_doc, source_roots, suppressions

DOC = ROOT / "docs" / "error-handling.md"


def all_suppressions() -> list:  # type: ignore[type-arg]
    return [found for directory in source_roots().values() for found in suppressions(directory)]


def test_every_suppression_is_justified() -> None:
    unjustified = [f"{s.path.relative_to(ROOT)}:{s.line}" for s in all_suppressions() if not s.reason]
    assert not unjustified, "except blocks that neither re-raise nor carry '# JUSTIFICATION:':\n" + "\n".join(
        unjustified
    )


def test_the_doc_lists_every_justified_suppression() -> None:
    expected = render_error_handling_doc(all_suppressions())
    assert DOC.exists(), "docs/error-handling.md is missing: run `make error-doc`"
    assert DOC.read_text() == expected, "docs/error-handling.md is stale: run `make error-doc`"


class TestRuleCatchesSwallowing:
    def check(self, tmp_path: Path, code: str) -> list[str | None]:
        (tmp_path / "m.py").write_text(code)
        return [s.reason for s in suppressions(tmp_path)]

    def test_bare_pass_is_reported_unjustified(self, tmp_path: Path) -> None:
        assert self.check(tmp_path, "try:\n    x()\nexcept Exception:\n    pass\n") == [None]

    def test_log_and_continue_is_reported(self, tmp_path: Path) -> None:
        assert self.check(
            tmp_path, "try:\n    x()\nexcept ValueError as e:\n    log(e)\n    return_value = []\n"
        ) == [None]

    def test_reraise_is_fine(self, tmp_path: Path) -> None:
        assert (
            self.check(tmp_path, "try:\n    x()\nexcept KeyError as e:\n    raise ValueError() from e\n")
            == []
        )

    def test_conditional_reraise_counts(self, tmp_path: Path) -> None:
        assert (
            self.check(tmp_path, "try:\n    x()\nexcept OSError as e:\n    if e.errno != 2:\n        raise\n")
            == []
        )

    def test_raise_inside_a_nested_function_does_not_count(self, tmp_path: Path) -> None:
        code = "try:\n    x()\nexcept OSError:\n    def later():\n        raise\n"
        assert self.check(tmp_path, code) == [None]

    def test_justification_on_the_except_line_or_the_next(self, tmp_path: Path) -> None:
        code = (
            "try:\n    x()\nexcept A:  # JUSTIFICATION: optional telemetry\n    pass\n"
            "try:\n    y()\nexcept B:\n    # JUSTIFICATION: titles are optional\n    pass\n"
        )
        assert self.check(tmp_path, code) == ["optional telemetry", "titles are optional"]

    def test_contextlib_suppress_counts_as_a_suppression(self, tmp_path: Path) -> None:
        assert self.check(tmp_path, "import contextlib\nwith contextlib.suppress(OSError):\n    x()\n") == [
            None
        ]

    def test_the_register_names_the_enclosing_function(self, tmp_path: Path) -> None:
        code = "class A:\n    def f(self):\n        try:\n            x()\n        except E:  # JUSTIFICATION: why\n            pass\n"
        (tmp_path / "m.py").write_text(code)
        found = suppressions(tmp_path)
        assert [s.scope for s in found] == ["A.f"]
        assert "| `m.py` | `A.f` | why |" in render_error_handling_doc(found, root=tmp_path)
