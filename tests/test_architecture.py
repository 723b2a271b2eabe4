"""The house's one rule, checked: arrows point down (.importlinter, docs/architecture.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
         "--no-cache", "--no-logo", "--config", str(ROOT / ".importlinter")],
        cwd=cwd,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def test_every_import_points_down() -> None:
    done = lint_imports(ROOT / "src", ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The rule can fail: the bus importing a use case (as it once did) is caught, even
    when hidden behind TYPE_CHECKING."""
    shutil.copytree(ROOT / "src" / "tac", tmp_path / "tac")
    local_bus = tmp_path / "tac" / "bus" / "local.py"
    local_bus.write_text(
        local_bus.read_text().replace(
            "from tac.bus import Deliver, Repair",
            "from typing import TYPE_CHECKING\n\nfrom tac.bus import Deliver, Repair\n\n"
            "if TYPE_CHECKING:\n    from tac.chat import Chat  # noqa: F401\n",
        )
    )
    done = lint_imports(tmp_path, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "tac.bus.local -> tac.chat" in done.stdout
