"""The GitHub workflows, checked offline against the vendored workflow schema (SchemaStore's
github-workflow.json) and against what the issue asks: lint then tests on PostgreSQL, a deploy on
the self-hosted runner, least-privilege permissions, pinned actions, concurrency groups."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import pytest

from tests.support.deploy import WORKFLOWS_DIR, dockerfile, load_yaml, schema, services

WORKFLOWS = {"ci": WORKFLOWS_DIR / "ci.yml", "deploy": WORKFLOWS_DIR / "deploy.yml"}


def workflow(name: str) -> dict:
    return load_yaml(WORKFLOWS[name])


def validator() -> jsonschema.Validator:
    spec = schema("github-workflow.json")
    cls = jsonschema.validators.validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


def steps(name: str) -> list[dict]:
    return [step for job in workflow(name)["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_validates_against_the_github_workflow_schema(name: str) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(workflow(name))]
    assert errors == []


def test_the_schema_check_rejects_a_broken_workflow() -> None:
    broken = copy.deepcopy(workflow("ci"))
    del broken["jobs"]["lint"]["runs-on"]
    assert list(validator().iter_errors(broken))
    broken = copy.deepcopy(workflow("ci"))
    broken["jobs"]["lint"]["steps"][0]["uses_"] = broken["jobs"]["lint"]["steps"][0].pop("uses")
    assert list(validator().iter_errors(broken))


def test_on_is_read_as_a_key_not_as_a_boolean() -> None:
    assert "on" in workflow("ci") and True not in workflow("ci")


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_permissions_are_read_only(name: str) -> None:
    assert workflow(name)["permissions"] == {"contents": "read"}
    for job in workflow(name)["jobs"].values():
        assert "write" not in str(job.get("permissions", "")), "no job asks for more"


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_action_is_pinned_to_a_commit_with_its_version(name: str) -> None:
    text = WORKFLOWS[name].read_text(encoding="utf-8")
    uses = re.findall(r"uses:\s*(\S+)(.*)$", text, re.M)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{ref}: pin to a full commit SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", comment), f"{ref}: say which version the SHA is"
    # The same action is pinned to the same commit everywhere.
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS.values():
        for ref in re.findall(r"uses:\s*(\S+)", path.read_text(encoding="utf-8")):
            action, sha = ref.split("@")
            pins.setdefault(action, set()).add(sha)
    assert all(len(shas) == 1 for shas in pins.values()), pins


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_concurrency_groups_and_timeouts(name: str) -> None:
    concurrency = workflow(name)["concurrency"]
    assert concurrency["group"]
    for job in workflow(name)["jobs"].values():
        assert 0 < job["timeout-minutes"] <= 90


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_checkouts_keep_no_credentials(name: str) -> None:
    checkouts = [s for s in steps(name) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_no_expression_is_pasted_into_a_script(name: str) -> None:
    """Event data in `run:` is a script-injection hole; values reach scripts through env."""
    for step in steps(name):
        assert "${{" not in step.get("run", ""), step.get("name")


def test_ci_lints_then_tests_against_postgresql() -> None:
    jobs = workflow("ci")["jobs"]
    assert set(jobs) == {"lint", "test"}
    lint_runs = " ".join(s.get("run", "") for s in jobs["lint"]["steps"])
    assert "ruff check" in lint_runs and "terraform fmt -check" in lint_runs and "checkov" in lint_runs
    test = jobs["test"]
    assert test["needs"] == "lint"
    assert [s["run"] for s in test["steps"] if "run" in s][-1] == "make test"
    postgres = test["services"]["postgres"]
    assert postgres["image"] == services()["postgres"]["image"], "the same PostgreSQL as production"
    assert "--health-cmd" in postgres["options"]
    url = test["env"]["GRADEWATCH_TEST_POSTGRES_URL"]
    assert url == "postgresql+psycopg://postgres@postgres:5432/postgres", "the service, by its name"
    # The fixtures reach PostgreSQL through tests/support/databases.py.
    databases = (Path(__file__).parents[1] / "support" / "databases.py").read_text(encoding="utf-8")
    assert '"GRADEWATCH_TEST_POSTGRES_URL"' in databases, "the tests read that variable"
    assert workflow("ci")["concurrency"]["cancel-in-progress"] is True


def test_ci_tests_run_on_the_python_and_debian_of_the_image() -> None:
    makefile = (WORKFLOWS_DIR.parents[1] / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:.*\n(\t.*\n)*\t.*\$\(UV\) run pytest", makefile, re.M)
    test = workflow("ci")["jobs"]["test"]
    base = [i.value.split()[0] for i in dockerfile() if i.keyword == "FROM"][-1]
    assert test["container"]["image"] == base
    ci_steps = test["steps"]
    assert any(s.get("uses", "").startswith("astral-sh/setup-uv@") for s in ci_steps)
    installs = " ".join(s.get("run", "") for s in ci_steps)
    assert "chromium" in installs and "make" in installs, "what .ci/run installs on a bare machine"
    ci_run = (WORKFLOWS_DIR.parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci_run


def test_deploy_runs_on_the_self_hosted_runner_only_from_trusted_events() -> None:
    deploy = workflow("deploy")
    assert set(deploy["on"]) <= {"workflow_dispatch", "push"}, "never pull_request on a self-hosted runner"
    assert set(deploy["on"]["push"]) == {"tags"}
    (job,) = deploy["jobs"].values()
    assert "self-hosted" in job["runs-on"]
    assert job["environment"] == "production"
    assert deploy["concurrency"]["cancel-in-progress"] is False, "never cancel a rollout half-way"


def test_deploy_builds_migrates_rolls_out_and_smoke_tests_health() -> None:
    runs = [s.get("run", "") for s in steps("deploy")]
    order = [
        next(i for i, r in enumerate(runs) if "compose" in r and " build " in r),
        next(i for i, r in enumerate(runs) if "run --rm --no-deps migrate" in r),
        next(i for i, r in enumerate(runs) if "up --detach --remove-orphans" in r),
        next(i for i, r in enumerate(runs) if "curl" in r and "$HEALTH_URL" in r),
    ]
    assert order == sorted(order)
    text = "\n".join(runs)
    for service in re.findall(r"run --rm --no-deps (\S+)", text):
        assert service in services(), service
    env = workflow("deploy")["jobs"]["deploy"]["env"]
    assert env["HEALTH_URL"].endswith(":5000/health")
    assert env["GRADEWATCH_IMAGE_TAG"] == "${{ github.sha }}"
