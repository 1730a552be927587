"""terraform/, checked offline: it parses (python-hcl2), every variable used is declared and every
declared one used, secrets are sensitive, the provider is pinned, the containers match
docker-compose.yml (commands, settings, ports, the db-init script), and `terraform fmt -check`
passes when a terraform binary is installed (`terraform validate` needs the provider download)."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap

import pytest

from tests.support.deploy import (
    DAGSTER_PG_VARS,
    PUBLISHED,
    ROOT,
    TERRAFORM_DIR,
    WEBAPP_ONLY,
    compose,
    hcl,
    service_env,
    services,
    settings_env_vars,
    terraform_blocks,
    terraform_files,
    terraform_locals,
    terraform_resources,
    terraform_text_without_comments,
)

# Terraform container resource -> compose service.
SAME_AS_COMPOSE = {"migrate": "migrate", "dagster_migrate": "dagster-migrate", "webapp": "webapp",
                   "dagster_code": "dagster-code", "dagster_webserver": "dagster-webserver",
                   "dagster_daemon": "dagster-daemon"}
SECRET_NAME = re.compile(r"password|secret|token|webhook|private_key")


def declared_variables() -> dict[str, dict]:
    return dict(terraform_blocks("variable"))


def used_variables() -> set[str]:
    used: set[str] = set()
    for path in terraform_files():
        used |= set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)", terraform_text_without_comments(path)))
    return used


def containers() -> dict[str, dict]:
    return terraform_resources("docker_container")


def test_every_file_parses() -> None:
    files = terraform_files()
    assert {p.name for p in files} >= {"versions.tf", "variables.tf", "main.tf", "outputs.tf"}
    for path in files:
        assert isinstance(hcl(path), dict), path


def test_every_variable_used_is_declared_and_every_declared_one_is_used() -> None:
    declared, used = set(declared_variables()), used_variables()
    assert used - declared == set(), "used but not declared"
    assert declared - used == set(), "declared but never used"


def test_every_variable_is_described_and_typed() -> None:
    for name, body in declared_variables().items():
        assert body.get("description"), name
        assert body.get("type"), name


def test_secrets_are_sensitive_and_have_no_real_default() -> None:
    secrets = {name for name in declared_variables() if SECRET_NAME.search(name)}
    assert secrets >= {"postgres_password", "gradewatch_db_password", "dagster_pg_password", "secret_key"}
    for name in secrets:
        body = declared_variables()[name]
        assert body.get("sensitive") is True, f"{name} must be sensitive"
        assert body.get("default", "") == "", f"{name} must not have a default value"


def test_versions_are_pinned() -> None:
    (terraform,) = hcl(TERRAFORM_DIR / "versions.tf")["terraform"]
    assert re.match(r">=\s*1\.\d+", terraform["required_version"]) and "<" in terraform["required_version"]
    (providers,) = terraform["required_providers"]
    docker = providers["docker"]
    assert docker["source"] == "kreuzwerker/docker"
    assert re.fullmatch(r"(~>|=)?\s*\d+\.\d+\.\d+", docker["version"]), "pin the provider to a release"


def test_the_provider_reaches_the_host_over_ssh_with_a_known_host_key() -> None:
    provider = hcl(TERRAFORM_DIR / "versions.tf")["provider"][0]["docker"]
    assert provider["host"] == "${var.docker_host}"
    ssh_opts = declared_variables()["ssh_opts"]["default"]
    assert "StrictHostKeyChecking=yes" in ssh_opts


def test_outputs_give_the_urls() -> None:
    outputs = dict(terraform_blocks("output"))
    assert {"webapp_url", "health_url", "dagster_ui_url", "kibana_url"} <= set(outputs)
    assert outputs["health_url"]["value"].endswith("/health")


# ---- the same stack as docker-compose.yml ---------------------------------------------------

def test_the_same_services_as_compose() -> None:
    names = {name.replace("_", "-") for name in containers()}
    assert names == set(services())


@pytest.mark.parametrize(("resource", "service"), sorted(SAME_AS_COMPOSE.items()))
def test_commands_and_health_checks_are_those_of_compose(resource: str, service: str) -> None:
    container, spec = containers()[resource], services()[service]
    assert container["command"] == spec["command"]
    if "healthcheck" in container:
        assert container["healthcheck"][0]["test"] == spec["healthcheck"]["test"]
    else:
        assert spec.get("healthcheck", {}).get("disable") or resource == "migrate"


def test_the_other_containers_match_compose_too() -> None:
    assert containers()["postgres"]["command"] == services()["postgres"]["command"]
    for name in ("postgres", "elasticsearch", "logstash", "kibana"):
        assert containers()[name]["healthcheck"][0]["test"] == services()[name]["healthcheck"]["test"], name
    assert containers()["db_init"]["entrypoint"][:-1] == services()["db-init"]["entrypoint"][:-1]
    assert containers()["kibana_import"]["entrypoint"] == services()["kibana-import"]["entrypoint"]
    logstash = dict(item.split("=", 1) for item in containers()["logstash"]["env"])
    assert logstash == service_env(services()["logstash"])
    assert set(terraform_locals()["db_init_env"]) == set(service_env(services()["db-init"]))


def env_of(resource: str) -> set[str]:
    """Names in the env of a container built as [for k, v in local.X : ...] from a locals map."""
    env = containers()[resource]["env"]
    match = re.search(r"local\.([a-z_]+)", str(env))
    assert match, f"{resource}: env is not built from a locals map"
    value = terraform_locals()[match.group(1)]
    if isinstance(value, dict):
        return set(value)
    merged = re.fullmatch(r"\$\{merge\(local\.([a-z_]+), \{(.*)\}\)\}", value, re.S)
    assert merged, f"{match.group(1)}: expected merge(local.x, {{...}})"
    extra = set(re.findall(r"([A-Z][A-Z0-9_]+)\s*=", merged.group(2)))
    return set(terraform_locals()[merged.group(1)]) | extra


@pytest.mark.parametrize("resource", sorted(SAME_AS_COMPOSE))
def test_every_setting_is_set_as_in_compose(resource: str) -> None:
    names = env_of(resource)
    expected = set(settings_env_vars()) - WEBAPP_ONLY
    if resource == "webapp":
        expected |= WEBAPP_ONLY
    else:
        assert WEBAPP_ONLY.isdisjoint(names), "the session secret is for the web app only"
    if resource.startswith("dagster"):
        expected |= DAGSTER_PG_VARS
    assert expected - names == set()
    assert names == set(service_env(services()[SAME_AS_COMPOSE[resource]])), "same names as compose"


def test_only_the_three_user_interfaces_publish_ports() -> None:
    published = {name.replace("_", "-"): c["ports"] for name, c in containers().items() if c.get("ports")}
    assert set(published) == set(PUBLISHED)
    for name, ports in published.items():
        (port,) = ports
        assert port["internal"] == PUBLISHED[name]
    assert published["dagster-webserver"][0]["ip"] == published["kibana"][0]["ip"] == "${var.admin_bind_address}"
    assert declared_variables()["admin_bind_address"]["default"] == "127.0.0.1"


def test_every_container_has_a_memory_limit_within_the_server() -> None:
    defaults = re.findall(r"(\w+)\s*=\s*optional\(number, (\d+)\)",
                          (TERRAFORM_DIR / "variables.tf").read_text().split('variable "memory_mb"')[1])
    limits = {name: int(mb) for name, mb in defaults}
    long_running = sum(v for k, v in limits.items() if k != "one_shot")
    assert long_running <= 13 * 1024
    for name, container in containers().items():
        assert container.get("memory"), f"{name} has no memory limit"
    for resource, service in SAME_AS_COMPOSE.items():
        if resource in limits:
            compose_limit = services()[service]["deploy"]["resources"]["limits"]["memory"]
            assert compose_limit in (f"{limits[resource]}m", f"{limits[resource] // 1024}g"), resource


def test_one_shots_must_succeed_before_the_apps_start() -> None:
    for name in ("db_init", "migrate", "dagster_migrate", "kibana_import"):
        container = containers()[name]
        assert container["must_run"] is False and container["attach"] is True
        (lifecycle,) = container["lifecycle"]
        assert "self.exit_code == 0" in lifecycle["postcondition"][0]["condition"]
    assert "docker_container.migrate" in str(containers()["webapp"]["depends_on"])
    assert "docker_container.dagster_migrate" in str(containers()["dagster_code"]["depends_on"])


def heredoc(name: str) -> str:
    """A `name = <<-EOT ... EOT` heredoc of terraform/, as Terraform reads it (indent stripped)."""
    for path in terraform_files():
        match = re.search(rf"^\s*{name}\s*=\s*<<-(\w+)\n(.*?)\n\s*\1\s*$", path.read_text(), re.S | re.M)
        if match:
            return textwrap.dedent(match.group(2)) + "\n"
    raise AssertionError(f"no heredoc {name}")


def test_the_db_init_script_is_the_one_of_compose() -> None:
    assert heredoc("db_init_sql") == compose()["configs"]["db-init-sql"]["content"]
    assert "${" not in heredoc("db_init_sql") and "%{" not in heredoc("db_init_sql")


def test_every_uploaded_file_of_elk_exists() -> None:
    paths = set()
    for path in terraform_files():
        paths |= set(re.findall(r'file\("\$\{local\.elk_dir\}/([^"]+)"\)', path.read_text()))
    assert len(paths) >= 7
    for relative in paths:
        assert (ROOT / "elk" / relative).is_file(), relative


def test_the_terraform_readme_exists_and_names_its_files() -> None:
    readme = (TERRAFORM_DIR / "README.md").read_text(encoding="utf-8")
    for path in terraform_files():
        assert f"`{path.name}`" in readme, path.name


def test_terraform_fmt_check() -> None:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("no terraform binary on this machine: only `terraform fmt -check` is skipped")
    result = subprocess.run([binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
