"""The README stays true for a newcomer: every setting is documented."""

from __future__ import annotations

from pathlib import Path

from tac.settings import Settings


def test_readme_lists_every_setting(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    missing = [
        f"TAC_{name.upper()}"
        for name in Settings.model_fields
        if f"`TAC_{name.upper()}`" not in readme
    ]
    assert missing == []


def test_readme_shows_the_screenshot(repo_root: Path) -> None:
    assert "docs/screenshot.png" in (repo_root / "README.md").read_text()
    assert (repo_root / "docs" / "screenshot.png").exists()
