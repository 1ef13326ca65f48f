"""`render --all` on every core: the same bytes as one process, and as the import that
rendered each meeting as it went (which rewrote neighbours' links one by one)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bench.bench_archive import write_archive

ROOT = Path(__file__).resolve().parent.parent


def _bot(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "-c", str(config)],
                          capture_output=True, text=True, cwd=config.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _config(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp}/{name}.db"\n'
                    f'[publish]\ndir = "{tmp}/out-{name}"\n'
                    'base_url = "https://minutes.example.org"\n')
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_render_all_on_two_processes_writes_what_one_and_the_import_write(
        tmp_path: Path) -> None:
    write_archive(tmp_path / "logs", 60, 30, 3)  # 60 meetings in 3 series, 12 years
    one, two, imported = (_config(tmp_path, n) for n in ("one", "two", "imported"))
    _bot(one, "import", str(tmp_path / "logs"), "--no-render")
    shutil.copy(tmp_path / "one.db", tmp_path / "two.db")
    _bot(imported, "import", str(tmp_path / "logs"))  # each meeting rendered as imported

    by_one = _bot(one, "render", "--all", "--jobs", "1").splitlines()
    by_two = _bot(two, "render", "--all", "--jobs", "2").splitlines()
    assert len(by_one) == 60
    assert all(row.split("\t")[1].startswith("https://") for row in by_one)
    assert by_two == by_one  # the same report, in the same order
    pages = _tree(tmp_path / "out-one")
    assert len(pages) > 60 * 6  # each meeting's outputs, and the archive's pages
    assert _tree(tmp_path / "out-two") == pages
    assert _tree(tmp_path / "out-imported") == pages

    # Rendered again over its own output: unchanged.
    again = _bot(two, "render", "--all", "--jobs", "2", "--quiet").splitlines()
    assert again == by_one
    assert _tree(tmp_path / "out-two") == pages


def test_render_refuses_a_negative_job_count(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "render", "--all",
                           "--jobs", "-1", "-c", str(_config(tmp_path, "x"))],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "--jobs must be 1 or more" in done.stderr


def test_render_into_a_relative_folder_succeeds(tmp_path: Path) -> None:
    """Without a base URL the minutes are named by relative paths: still a success."""
    write_archive(tmp_path / "logs", 2, 10, 1)
    config = tmp_path / "relative.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/r.db"\n'
                      '[publish]\ndir = "minutes"\n')
    _bot(config, "import", str(tmp_path / "logs"), "--no-render")
    rows = _bot(config, "render", "--all").splitlines()  # _bot asserts exit status 0
    assert [row.split("\t")[1].startswith("minutes/") for row in rows] == [True, True]
    assert (tmp_path / "minutes" / "index.html").exists()
