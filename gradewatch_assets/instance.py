"""The Dagster instance folder (DAGSTER_HOME): created from the shipped dagster.yaml if missing."""

import shutil
from pathlib import Path

import gradewatch_assets

TEMPLATE_NAMES = ("dagster.yaml", "workspace.yaml")


def templates_dir() -> Path:
    """``dagster_home/`` of the checkout, or its copy inside the installed wheel."""
    package = Path(gradewatch_assets.__file__).resolve().parent
    for candidate in (package / "dagster_home", package.parent / "dagster_home"):
        if (candidate / "dagster.yaml").is_file():
            return candidate
    raise FileNotFoundError("dagster_home/dagster.yaml is missing from this installation")


def prepare_dagster_home(path: Path) -> Path:
    """Make ``path`` a usable DAGSTER_HOME; an existing dagster.yaml is left as it is."""
    path.mkdir(parents=True, exist_ok=True)
    source = templates_dir()
    for name in TEMPLATE_NAMES:
        if not (path / name).exists() and source.resolve() != path.resolve():
            shutil.copy(source / name, path / name)
    return path
