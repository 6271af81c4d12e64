"""The built wheel installs one top-level name, ``leadledger``, with its schemas inside."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_has_one_top_level_package_and_ships_the_schemas(tmp_path: Path) -> None:
    # Build from a clean copy: setuptools reuses a build/ folder, which may be stale.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT, source, symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*cache*", "__pycache__"),
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("leadledger-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == {"leadledger"}
    for module in ("domain/lead.py", "projections/attribution.py", "consumers/relay.py"):
        assert f"leadledger/{module}" in names
    shipped = {n.removeprefix("leadledger/schemas/") for n in names if n.endswith(".avsc")}
    schemas = ROOT / "schemas"
    assert shipped == {str(p.relative_to(schemas)) for p in schemas.rglob("*.avsc")}
    assert "history/touch/v1.avsc" in shipped
