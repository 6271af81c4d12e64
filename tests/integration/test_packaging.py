"""The built wheel installs one top-level name, ``leadledger``, with its schemas inside, and
building or installing it prints none of setuptools' warnings about undeclared packages."""

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What setuptools prints for a folder Python could import that `packages` does not list
# (once per schema folder: about 950 lines on a fresh `scripts/setup.sh`).
UNDECLARED = ("Package would be ignored", "is absent from the `packages`")


def clean_copy(tmp_path: Path) -> Path:
    """Build from a clean copy: setuptools reuses a build/ folder, which may be stale."""
    source = tmp_path / "source"
    shutil.copytree(
        ROOT, source, symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*cache*", "__pycache__"),
    )  # fmt: skip
    return source


def test_wheel_has_one_top_level_package_and_ships_the_schemas(tmp_path: Path) -> None:
    source = clean_copy(tmp_path)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    for warning in UNDECLARED:
        assert warning not in built.stdout + built.stderr
    [wheel] = tmp_path.glob("leadledger-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == {"leadledger"}
    for module in ("domain/lead.py", "projections/attribution.py", "consumers/relay.py"):
        assert f"leadledger/{module}" in names
    assert not [n for n in names if "__pycache__" in n]
    shipped = {n.removeprefix("leadledger/schemas/") for n in names if n.endswith(".avsc")}
    schemas = ROOT / "schemas"
    assert shipped == {str(p.relative_to(schemas)) for p in schemas.rglob("*.avsc")}
    assert "history/touch/v1.avsc" in shipped
    static = ROOT / "leadledger" / "api" / "static"
    assert {n.removeprefix("leadledger/api/static/") for n in names if "/static/" in n} == {
        str(p.relative_to(static)) for p in static.rglob("*") if p.is_file()
    }  # the dashboard page ships; its chart library comes from npm, never the wheel


def test_editable_install_prints_no_undeclared_package_warnings(tmp_path: Path) -> None:
    """What `scripts/setup.sh` runs (`pip install -e .`), into a new environment."""
    source = clean_copy(tmp_path)
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "-e", str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    for warning in UNDECLARED:
        assert warning not in installed.stdout + installed.stderr
    found = subprocess.run(
        [str(python), "-c",
         "from importlib.resources import files; "
         "print(files('leadledger.schemas').joinpath('history/touch/v1.avsc').is_file())"],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert found.stdout.strip() == "True"
