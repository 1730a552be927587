"""Offline readers for the deployment files (Dockerfile, docker-compose.yml, terraform/, workflows).

Everything here reads files of the repository; nothing is fetched and no container is started.
The JSON schemas the tests validate against are vendored in ``tests/schemas/``.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "schemas"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
TERRAFORM_DIR = ROOT / "terraform"
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
SETTINGS_FILE = ROOT / "gradewatch" / "settings.py"

# The services built from the project's own image, by role.
GRADEWATCH_SERVICES = ("migrate", "dagster-migrate", "webapp", "dagster-code", "dagster-webserver",
                       "dagster-daemon")
DAGSTER_SERVICES = ("dagster-migrate", "dagster-code", "dagster-webserver", "dagster-daemon")
LONG_RUNNING = ("postgres", "webapp", "dagster-code", "dagster-webserver", "dagster-daemon",
                "elasticsearch", "logstash", "kibana")
ONE_SHOT = ("db-init", "migrate", "dagster-migrate", "kibana-import")
# Only the web app, the Dagster UI and Kibana publish a port (service -> container port).
PUBLISHED = {"webapp": 5000, "dagster-webserver": 3000, "kibana": 5601}
# The one secret that only the web app may see.
WEBAPP_ONLY = frozenset({"GRADEWATCH_SECRET_KEY"})
# What dagster_home/dagster.production.yaml reads (the brief of issue 7), used when the file is absent.
DAGSTER_PG_VARS = frozenset({"DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER",
                             "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"})


# ---- YAML -----------------------------------------------------------------------------------

class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: ``on``/``yes``/``no`` stay strings (as GitHub reads them)."""


Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


@cache
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


# ---- Compose interpolation (https://docs.docker.com/reference/compose-file/interpolation/) ---

class InterpolationError(ValueError):
    pass


_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}"
                  r"|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    """Compose's substitution: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+r}."""

    def replace(match: re.Match[str]) -> str:
        escaped, braced, op, arg, bare = match.groups()
        if escaped:
            return "$"
        name = braced or bare
        value = env.get(name)
        unset_or_empty = value is None or value == ""
        if op in (":-", "-"):
            missing = unset_or_empty if op == ":-" else value is None
            return interpolate_text(arg, env) if missing else value
        if op in (":?", "?"):
            missing = unset_or_empty if op == ":?" else value is None
            if missing:
                raise InterpolationError(f"required variable {name} is missing: {arg}")
            return value
        if op in (":+", "+"):
            present = not unset_or_empty if op == ":+" else value is not None
            return interpolate_text(arg, env) if present else ""
        return value or ""

    return _VAR.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def variables_in(node: Any) -> set[str]:
    """Names of the variables a Compose document interpolates."""
    found: set[str] = set()
    if isinstance(node, str):
        for match in _VAR.finditer(node):
            escaped, braced, _op, arg, bare = match.groups()
            if not escaped:
                found.add(braced or bare)
            if arg:
                found |= variables_in(arg)
    elif isinstance(node, list):
        for item in node:
            found |= variables_in(item)
    elif isinstance(node, dict):
        for value in node.values():
            found |= variables_in(value)
    return found


def env_example() -> dict[str, str]:
    """``.env.example`` as NAME -> value, commented-out lines (``# NAME=value``) included."""
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def service_env(service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def memory_bytes(text: str | int) -> int:
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(text).strip().lower())
    assert match, f"not a memory size: {text!r}"
    return int(float(match.group(1)) * 1024 ** "bkmg".index(match.group(2) or "b"))


# ---- settings.py: every environment variable the code reads ---------------------------------

@cache
def settings_env_vars() -> frozenset[str]:
    """Names ``gradewatch/settings.py`` reads: the string argument next to ``env`` in each call
    (``_optional(env, "X")``, ``_number(env, "X", ...)``) and ``env.get("X")`` / ``env["X"]``."""
    tree = ast.parse(SETTINGS_FILE.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            args = node.args
            for first, second in itertools.pairwise(args):
                if isinstance(first, ast.Name) and first.id == "env" and isinstance(second, ast.Constant):
                    names.add(second.value)
            func = node.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == "env" and args and isinstance(args[0], ast.Constant)):
                names.add(args[0].value)
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
              and node.value.id == "env" and isinstance(node.slice, ast.Constant)):
            names.add(node.slice.value)
    return frozenset(name for name in names if isinstance(name, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", name))


def dagster_instance_env_vars() -> frozenset[str]:
    """The ``env:`` references of dagster_home/dagster.production.yaml (the brief's list if absent)."""
    path = ROOT / "dagster_home" / "dagster.production.yaml"
    if not path.exists():
        return DAGSTER_PG_VARS
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "env" and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(load_yaml(path))
    return frozenset(found)


# ---- Dockerfile -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    stage: int


def dockerfile() -> list[Instruction]:
    """Instructions of the Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, value = full.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, value.strip(), stage))
    return instructions


def container_files() -> dict[str, Path]:
    """Container path -> repository file, for the files the final stage COPYs from the context."""
    final = max(i.stage for i in dockerfile())
    mapping: dict[str, Path] = {}
    for instruction in dockerfile():
        if instruction.keyword != "COPY" or instruction.stage != final:
            continue
        parts = [p for p in instruction.value.split() if not p.startswith("--")]
        if any(p.startswith("--from") for p in instruction.value.split()):
            continue
        *sources, target = parts
        for source in sources:
            mapping[target if not target.endswith("/") else target + Path(source).name] = ROOT / source
    return mapping


# ---- console scripts and their click commands ------------------------------------------------

def project_scripts() -> dict[str, str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def runtime_distributions() -> set[str]:
    """Names of the project's runtime dependencies (normalised), not the dev group."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    return {re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0].lower().replace("_", "-") for dep in deps}


def console_script_command(name: str) -> click.Command:
    """The click command behind console script ``name``: the project's own, or one installed by
    a runtime dependency (dagster, dagster-webserver)."""
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts")}
    assert name in scripts, f"{name} is not an installed console script"
    ep = scripts[name]
    dist = ep.dist.name.lower().replace("_", "-") if ep.dist else ""
    own = project_scripts()
    assert name in own or dist in runtime_distributions(), (
        f"{name} comes from {dist!r}, which is not a runtime dependency of the project")
    if name in own:
        assert own[name] == ep.value, f"{name}: installed entry point differs from pyproject"
    module = importlib.import_module(ep.module)
    command = getattr(module, "cli", None)
    assert isinstance(command, click.Command), f"{ep.module} has no click command `cli`"
    return command


def parse_command_line(argv: Sequence[str]) -> tuple[click.Command, dict[str, Any]]:
    """Parse ``argv`` with the real click command of its console script, without running it:
    an unknown sub-command or option, or a missing required one, raises click.UsageError."""
    command = console_script_command(argv[0])
    name, args = argv[0], list(argv[1:])
    while True:
        ctx = command.make_context(name, args)
        if not isinstance(command, click.Group):
            return command, ctx.params
        # click < 9 keeps the sub-command in _protected_args; click 9 leaves everything in args.
        name, sub, args = command.resolve_command(ctx, [*getattr(ctx, "_protected_args", []), *ctx.args])
        assert sub is not None, f"{argv}: no sub-command {name}"
        command = sub


# ---- Terraform ------------------------------------------------------------------------------

def terraform_files() -> list[Path]:
    return sorted(TERRAFORM_DIR.glob("*.tf"))


def terraform_text_without_comments(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = []
    for line in text.splitlines():
        # Drop # and // comments that are not inside a string (good enough for these files).
        out, in_string = [], False
        i = 0
        while i < len(line):
            char = line[i]
            if char == '"' and (i == 0 or line[i - 1] != "\\"):
                in_string = not in_string
            if not in_string and (char == "#" or line.startswith("//", i)):
                break
            out.append(char)
            i += 1
        lines.append("".join(out))
    return "\n".join(lines)


@cache
def hcl(path: Path) -> dict[str, Any]:
    """One .tf file parsed by python-hcl2 (cached: the files do not change during a test run)."""
    import hcl2

    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False,
                                        with_comments=False, preserve_heredocs=False)
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=options)


def terraform_blocks(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, body) of every ``kind`` block (variable, output, locals...) in terraform/."""
    for path in terraform_files():
        for block in hcl(path).get(kind, []):
            if kind == "locals":
                yield path.name, block
            else:
                yield from block.items()


def terraform_resources(rtype: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in terraform_files():
        for block in hcl(path).get("resource", []):
            for kind, bodies in block.items():
                if kind == rtype:
                    found.update(bodies)
    return found


def terraform_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _name, block in terraform_blocks("locals"):
        merged.update(block)
    return merged


def hcl_string_list(value: Any) -> list[str]:
    """A list of HCL strings as parsed (quotes stripped)."""
    assert isinstance(value, list), f"not a list: {value!r}"
    return [str(item) for item in value]
