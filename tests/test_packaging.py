"""The distribution as a user installs it: one package, `openminutes`, that runs a
meeting from a fresh install outside the repository."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_only_openminutes_and_runs_a_meeting(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True,
                   capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("openminutes-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"openminutes", wheel.name.split("-py3")[0]
                                                 + ".dist-info"}
    for data in ("openminutes/templates/minutes.html.j2", "openminutes/storage/alembic.ini",
                 "openminutes/templates/static/localtime.js"):
        assert data in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    where = subprocess.run(
        [sys.executable, "-c", "import openminutes.chat.base as b; print(b.__file__)"],
        cwd=away, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(target)), where  # the installed copy, not the repository
    version = subprocess.run([sys.executable, "-m", "openminutes", "--version"],
                             cwd=away, env=env, capture_output=True, text=True)
    assert version.stdout.startswith("openminutes "), version.stderr
    meeting = subprocess.run(
        [sys.executable, "-m", "openminutes", "run"], cwd=away, env=env,
        input="#startmeeting packaged\n#agreed it installs\n#endmeeting\n",
        capture_output=True, text=True, timeout=120)
    assert meeting.returncode == 0, meeting.stderr
    assert list((away / "minutes" / "packaged").rglob("*.html"))


def _dockerignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule, as far as .dockerignore uses it: a pattern matches the path or a
    folder above it; `**/` matches in any folder."""
    parts = relative.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        for candidate in candidates:
            if fnmatch.fnmatch(candidate, pattern) or (
                    pattern.startswith("**/") and fnmatch.fnmatch(candidate.split("/")[-1],
                                                                  pattern[3:])):
                return True
    return False


def test_the_docker_build_context_installs_into_a_fresh_virtualenv(tmp_path: Path) -> None:
    """No image can be built here, so the build is followed step by step: the context
    the Dockerfile's COPY receives once .dockerignore has filtered it, then its
    `pip install .` into a fresh virtualenv, then `openminutes --version` and a meeting."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY . ./" in dockerfile
    assert "RUN pip install . " in dockerfile
    assert "USER openminutes" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    patterns = [ln.strip().rstrip("/") for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    context = tmp_path / "context"
    for relative in tracked:
        source = ROOT / relative
        if _dockerignored(relative, patterns) or not (source.exists() or source.is_symlink()):
            continue
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)
    assert not (context / "tests").exists()
    assert (context / "openminutes" / "chat").is_symlink()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "."], cwd=context,
                               capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    away = tmp_path / "data"
    away.mkdir()
    version = subprocess.run([str(venv / "bin" / "openminutes"), "--version"], cwd=away,
                             capture_output=True, text=True, check=True)
    assert version.stdout.strip().startswith("openminutes 0.")
    meeting = subprocess.run([str(venv / "bin" / "openminutes"), "run"], cwd=away,
                             input="#startmeeting docker\n#agreed the image runs\n#endmeeting\n",
                             capture_output=True, text=True, timeout=120)
    assert meeting.returncode == 0, meeting.stderr
    assert list((away / "minutes" / "docker").rglob("*.html"))
