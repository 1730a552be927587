"""The Dockerfile and .dockerignore, checked offline (no Docker engine runs here): multi-stage
build from the lock file, pinned bases, a non-root user, a health check, one image for all
roles, and a build context that carries what the build needs and no secret."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from tests.support.deploy import GRADEWATCH_SERVICES, ROOT, container_files, dockerfile, services

PINNED = re.compile(r"^(?P<name>[a-z0-9./_-]+):(?P<tag>[0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9._-]*)"
                    r"@sha256:[0-9a-f]{64}$")


def instructions(keyword: str) -> list[str]:
    return [i.value for i in dockerfile() if i.keyword == keyword]


def final_stage() -> list:
    last = max(i.stage for i in dockerfile())
    return [i for i in dockerfile() if i.stage == last]


def test_the_build_has_a_builder_stage_and_a_runtime_stage() -> None:
    froms = instructions("FROM")
    assert len(froms) >= 2
    assert froms[0].endswith(" AS builder") and froms[-1].endswith(" AS runtime")


def test_every_base_image_is_pinned_by_exact_version_and_digest() -> None:
    images = [value.split()[0] for value in instructions("FROM")]
    images += [re.search(r"--from=(\S+)", value).group(1) for value in instructions("COPY")
               if "--from=" in value and "/" in re.search(r"--from=(\S+)", value).group(1)]
    assert images
    for image in images:
        assert PINNED.match(image), f"{image} is not pinned by exact version and sha256 digest"
    bases = {value.split()[0] for value in instructions("FROM")}
    assert len(bases) == 1, "builder and runtime share one base, so the venv's Python matches"


def test_the_python_of_the_image_satisfies_requires_python() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = re.search(r"python:(\d+)\.(\d+)\.\d+", instructions("FROM")[0])
    minor = (int(version.group(1)), int(version.group(2)))
    low = re.search(r">=\s*(\d+)\.(\d+)", project["requires-python"])
    high = re.search(r"<\s*(\d+)\.(\d+)", project["requires-python"])
    assert (int(low.group(1)), int(low.group(2))) <= minor < (int(high.group(1)), int(high.group(2)))


def test_dependencies_come_from_the_lock_file_without_dev_tools() -> None:
    syncs = [sync for run in instructions("RUN") for sync in re.findall(r"uv sync [^&]*", run)]
    assert len(syncs) == 2, "one layer for the dependencies, one for the project"
    for sync in syncs:
        assert "--locked" in sync and "--no-dev" in sync
    assert "--no-install-project" in syncs[0] and "--no-editable" in syncs[1]
    copies = instructions("COPY")
    assert any(value.split()[:2] == ["pyproject.toml", "uv.lock"] for value in copies)


def test_the_uv_of_the_image_is_the_one_of_ci() -> None:
    uv = re.search(r"astral-sh/uv:(\d+\.\d+\.\d+)@", " ".join(instructions("COPY"))).group(1)
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert re.findall(r'^\s+version: "(\d+\.\d+\.\d+)"', ci, re.M) == [uv, uv]


def test_the_runtime_stage_carries_no_build_tools() -> None:
    runtime = final_stage()
    text = " ".join(i.value for i in runtime)
    assert "apt-get" not in text and " uv " not in f" {text} " and "/src" not in text
    assert any(i.keyword == "COPY" and i.value.startswith("--from=builder /opt/venv") for i in runtime)


def test_the_image_runs_as_an_unprivileged_numeric_user() -> None:
    users = [i.value for i in final_stage() if i.keyword == "USER"]
    assert users, "the runtime stage sets a USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and (not gid or int(gid) >= 1000)
    assert any(f"--uid {uid}" in i.value for i in final_stage() if i.keyword == "RUN")
    for name in GRADEWATCH_SERVICES:
        assert "user" not in services()[name], f"{name} must not override the image's user"


def test_the_image_has_a_health_check_of_the_default_role() -> None:
    (check,) = instructions("HEALTHCHECK")
    assert "--interval=" in check and "--timeout=" in check
    assert "CMD [" in check and "/health" in check
    cmd = instructions("CMD")[-1]
    assert cmd == '["gradewatch", "serve", "--host", "0.0.0.0", "--port", "5000"]'


def test_one_image_serves_every_role() -> None:
    images = {services()[name]["image"] for name in GRADEWATCH_SERVICES}
    assert images == {"${GRADEWATCH_IMAGE:-gradewatch}:${GRADEWATCH_IMAGE_TAG:-local}"}
    builds = [name for name in GRADEWATCH_SERVICES if "build" in services()[name]]
    assert builds == ["migrate"] and services()["migrate"]["build"]["dockerfile"] == "Dockerfile"
    for name in GRADEWATCH_SERVICES:
        assert services()[name]["pull_policy"] == "never", "never pull `gradewatch` from Docker Hub"


def test_the_image_carries_the_production_dagster_instance_and_the_docker_workspace() -> None:
    files = container_files()
    env = " ".join(instructions("ENV"))
    home = re.search(r"DAGSTER_HOME=(\S+)", env).group(1)
    assert files[f"{home}/dagster.yaml"] == ROOT / "dagster_home" / "dagster.production.yaml"
    assert files[f"{home}/workspace.yaml"] == ROOT / "dagster_home" / "workspace.docker.yaml"
    for source in files.values():
        assert source.is_file(), f"the build needs {source.relative_to(ROOT)}, which does not exist yet"


def test_every_copied_source_exists() -> None:
    for value in instructions("COPY"):
        if value.startswith("--from"):
            continue
        *sources, _target = [part for part in value.split() if not part.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_the_wheel_carries_the_migrations() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    force = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force.get("migrations") == "gradewatch/migrations"
    assert set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]) >= {
        "gradewatch", "gradewatch_assets", "webapp"}


# ---- .dockerignore ---------------------------------------------------------------------------

def dockerignore_rules() -> list[tuple[bool, str]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((negate, line[1:] if negate else line))
    return rules


def _matches(pattern: str, path: str) -> bool:
    pattern = pattern.rstrip("/")
    candidates = [path, *[str(p) for p in Path(path).parents if str(p) != "."]]
    for candidate in candidates:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatch.fnmatchcase("/".join(candidate.split("/")[i:]), tail)
                   for i in range(len(candidate.split("/")))):
                return True
        elif fnmatch.fnmatchcase(candidate, pattern):
            return True
    return False


def ignored(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path (or a parent of it) decides."""
    verdict = False
    for negate, pattern in dockerignore_rules():
        if _matches(pattern, path):
            verdict = not negate
    return verdict


@pytest.mark.parametrize("path", [
    "pyproject.toml", "uv.lock", "README.md", "gradewatch/settings.py", "gradewatch/cli/serve.py",
    "gradewatch_assets/definitions.py", "webapp/templates/pages/base.html", "webapp/static/gradewatch.css",
    "migrations/env.py", "dagster_home/dagster.production.yaml", "dagster_home/workspace.docker.yaml",
])
def test_the_build_context_carries_what_the_build_copies(path: str) -> None:
    assert not ignored(path)


@pytest.mark.parametrize("path", [
    ".env", "var/gradewatch.db", ".git/config", ".venv/bin/python", "tests/conftest.py",
    "dagster_home/dagster.yaml", "terraform/terraform.tfstate", "students.csv",
    "gradewatch/__pycache__/settings.cpython-311.pyc", "gradewatch/exports/fall.csv", "webapp/.env",
])
def test_the_build_context_leaves_out_secrets_data_and_tooling(path: str) -> None:
    assert ignored(path)


def test_every_copy_source_survives_the_dockerignore() -> None:
    for value in instructions("COPY"):
        if value.startswith("--from"):
            continue
        *sources, _target = [part for part in value.split() if not part.startswith("--")]
        for source in sources:
            path = ROOT / source
            files = [path] if path.is_file() else [p for p in path.rglob("*.py") if "__pycache__" not in p.parts]
            assert files, source
            for file in files[:20]:
                assert not ignored(str(file.relative_to(ROOT))), f"{file} would be left out of the build"
