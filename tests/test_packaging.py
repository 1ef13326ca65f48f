"""The distribution as a user installs it: one package, `openminutes`, that runs a
meeting from a fresh install outside the repository."""

from __future__ import annotations

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
