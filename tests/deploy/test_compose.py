"""docker-compose.yml, checked offline: the Compose specification's JSON schema (vendored), the
commands against the real CLIs, the settings against gradewatch/settings.py, start-up order,
published ports, memory, users, and the elk/ mounts. No Docker engine is needed."""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path

import click
import jsonschema
import pytest

from tests.support.deploy import (
    DAGSTER_SERVICES,
    GRADEWATCH_SERVICES,
    LONG_RUNNING,
    ONE_SHOT,
    PUBLISHED,
    ROOT,
    WEBAPP_ONLY,
    InterpolationError,
    compose,
    container_files,
    dagster_instance_env_vars,
    dockerfile,
    env_example,
    interpolate,
    load_yaml,
    memory_bytes,
    parse_command_line,
    schema,
    service_env,
    services,
    settings_env_vars,
    variables_in,
)

# Inside its container a server listens on every interface of that container.
ANY = "0.0.0.0"  # noqa: S104
SECRETS = ("POSTGRES_PASSWORD", "GRADEWATCH_DB_PASSWORD", "DAGSTER_PG_PASSWORD", "GRADEWATCH_SECRET_KEY")


def filled_env() -> dict[str, str]:
    """.env.example with every secret filled in, as an operator would."""
    env = {name: value for name, value in env_example().items() if value}
    env.update({name: f"{index:02d}" + "ab" * 31 for index, name in enumerate(SECRETS)})
    return env


def validator() -> jsonschema.Validator:
    spec = schema("compose-spec.json")
    cls = jsonschema.validators.validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


def errors(document: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]


# ---- the specification -------------------------------------------------------------------

def test_compose_file_validates_against_the_compose_specification() -> None:
    assert errors(compose()) == []


def test_compose_file_still_validates_once_interpolated_with_the_env_example() -> None:
    assert errors(interpolate(compose(), filled_env())) == []


def test_the_schema_check_rejects_what_compose_rejects() -> None:
    broken = copy.deepcopy(compose())
    broken["services"]["webapp"]["restart_policy"] = "always"  # not a service key
    assert any("restart_policy" in e for e in errors(broken))
    broken = copy.deepcopy(compose())
    broken["services"]["webapp"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert errors(broken)


def test_every_required_secret_stops_compose_when_it_is_missing() -> None:
    for secret in SECRETS:
        env = filled_env()
        del env[secret]
        with pytest.raises(InterpolationError, match=secret):
            interpolate(compose(), env)


def test_every_interpolated_variable_is_documented_in_the_env_example() -> None:
    documented = set(env_example())
    assert variables_in(compose()) - documented == set()


def test_the_env_example_commits_no_secret() -> None:
    example = env_example()
    for name in SECRETS:
        assert example.get(name) == "", f"{name} must be empty in .env.example"
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


# ---- commands ------------------------------------------------------------------------------

def as_repo_paths(argv: list[str]) -> list[str]:
    """Container paths of files the image carries, replaced by the repository files they come from."""
    files = {path: str(source) for path, source in container_files().items()}
    return [files.get(arg, arg) for arg in argv]


def gradewatch_commands() -> dict[str, list[str]]:
    return {name: services()[name]["command"] for name in GRADEWATCH_SERVICES}


@pytest.mark.parametrize("service", GRADEWATCH_SERVICES)
def test_every_service_command_is_a_real_command_of_the_project(service: str) -> None:
    argv = gradewatch_commands()[service]
    assert isinstance(argv, list), "exec form, so that signals reach the process"
    command, params = parse_command_line(as_repo_paths(argv))
    assert isinstance(command, click.Command)
    module = params.get("module_name")
    if module:  # the code location: importable, and it defines `defs`
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, f"{module} is not importable"
        assert re.search(r"^defs\s*=", Path(spec.origin).read_text(encoding="utf-8"), re.M), (
            f"{module} defines no `defs`")


def test_the_commands_are_the_ones_of_the_issue() -> None:
    commands = gradewatch_commands()
    assert commands["migrate"] == ["gradewatch", "db", "upgrade"]
    assert commands["webapp"] == ["gradewatch", "serve", "--host", ANY, "--port", "5000"]
    assert commands["dagster-code"][:9] == ["dagster", "code-server", "start", "-h", ANY, "-p", "4000",
                                            "-m", "gradewatch_assets.definitions"]
    assert commands["dagster-webserver"][:5] == ["dagster-webserver", "-h", ANY, "-p", "3000"]
    assert commands["dagster-daemon"][:2] == ["dagster-daemon", "run"]


@pytest.mark.parametrize("service", [*GRADEWATCH_SERVICES, "postgres"])
def test_every_healthcheck_command_is_real(service: str) -> None:
    check = services()[service].get("healthcheck", {})
    if check.get("disable"):
        assert service in ONE_SHOT
        return
    test = check["test"]
    assert test[0] == "CMD", "exec form: no shell needed in the image"
    argv = test[1:]
    if argv[0] == "python":
        assert argv[1] == "-c"
        compile(argv[2], "<healthcheck>", "exec")
        port = re.search(r"127\.0\.0\.1:(\d+)/", argv[2]).group(1)
        assert f"--port {port}" in " ".join(services()[service]["command"]) or (
            f"-p {port}" in " ".join(services()[service]["command"]))
    elif argv[0] in ("dagster", "dagster-daemon"):
        parse_command_line(argv)
    else:
        assert argv[0] == "pg_isready"


def test_the_workspace_points_at_the_code_location_service() -> None:
    workspace = load_yaml(ROOT / "dagster_home" / "workspace.docker.yaml")
    (entry,) = workspace["load_from"]
    grpc = entry["grpc_server"]
    _command, params = parse_command_line(services()["dagster-code"]["command"])
    assert grpc["host"] == "dagster-code" and "dagster-code" in services()
    assert grpc["port"] == params["port"] == 4000
    assert grpc["location_name"] == params["location_name"] == "gradewatch"
    for service in ("dagster-webserver", "dagster-daemon"):
        command = services()[service]["command"]
        workspace_path = command[command.index("-w") + 1]
        assert container_files()[workspace_path].name == "workspace.docker.yaml"


# ---- settings ------------------------------------------------------------------------------

def test_the_settings_parser_finds_the_variables_of_the_spec() -> None:
    assert {"GRADEWATCH_DATABASE_URL", "DAGSTER_HOME", "LOGSTASH_HOST", "LOGSTASH_PORT",
            "GRADEWATCH_PASS_MARK", "GRADEWATCH_INBOX_DIR"} <= settings_env_vars()


@pytest.mark.parametrize("service", GRADEWATCH_SERVICES)
def test_every_setting_the_code_reads_is_set_for_every_gradewatch_service(service: str) -> None:
    env = service_env(services()[service])
    expected = set(settings_env_vars()) - WEBAPP_ONLY
    if service == "webapp":
        expected |= WEBAPP_ONLY
    if service in DAGSTER_SERVICES:
        expected |= dagster_instance_env_vars()
    assert expected - set(env) == set()


@pytest.mark.parametrize("service", [s for s in services() if s != "webapp"])
def test_the_session_secret_reaches_the_web_app_only(service: str) -> None:
    assert WEBAPP_ONLY.isdisjoint(service_env(services()[service]))


def test_the_settings_point_at_the_services_of_the_stack() -> None:
    env = interpolate(service_env(services()["webapp"]), filled_env())
    assert re.fullmatch(r"postgresql\+psycopg://gradewatch:[0-9a-f]+@postgres:5432/gradewatch",
                        env["GRADEWATCH_DATABASE_URL"])
    assert env["LOGSTASH_HOST"] == "logstash"
    assert env["LOGSTASH_PORT"] == service_env(services()["logstash"])["LOGSTASH_TCP_PORT"]
    image_env = {i.value.split("=", 1)[0]: i.value.split("=", 1)[1].split()[0]
                 for i in dockerfile() if i.keyword == "ENV" and i.value.startswith("DAGSTER_HOME=")}
    assert env["DAGSTER_HOME"] == image_env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    dagster = service_env(services()["dagster-code"])
    assert dagster["DAGSTER_PG_HOST"] == "postgres" and dagster["DAGSTER_PG_DB"] == "dagster"
    inbox = env["GRADEWATCH_INBOX_DIR"]
    assert any(v.endswith(":" + inbox) for v in services()["dagster-code"]["volumes"])


def test_the_settings_defaults_parse_with_the_real_settings_loader() -> None:
    from gradewatch.settings import load_settings

    for service in GRADEWATCH_SERVICES:
        env = interpolate(service_env(services()[service]), filled_env())
        settings = load_settings(env)
        assert settings.database_url.startswith("postgresql+psycopg://")
        assert settings.logstash_host == "logstash" and settings.logstash_port == 5959
        assert settings.environment == "production"
    webapp = load_settings(interpolate(service_env(services()["webapp"]), filled_env()))
    assert webapp.secret_key and webapp.session_cookie_secure


# ---- order -------------------------------------------------------------------------------

def test_start_up_order_uses_health_and_completion_conditions() -> None:
    svc = services()
    for name, service in svc.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert isinstance(spec, dict), f"{name}: use the long depends_on syntax"
            condition = spec["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), (name, dependency)
            if condition == "service_healthy":
                check = svc[dependency].get("healthcheck", {})
                image_has_one = dependency in GRADEWATCH_SERVICES
                assert (check.get("test") or image_has_one) and not check.get("disable"), dependency
            else:
                assert dependency in ONE_SHOT and svc[dependency].get("restart") == "no", dependency


def test_the_chain_is_postgres_then_set_up_then_migrations_then_the_apps() -> None:
    def needs(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services()[name].get("depends_on", {}).items()}

    assert needs("db-init") == {"postgres": "service_healthy"}
    assert needs("migrate") == {"db-init": "service_completed_successfully"}
    assert needs("dagster-migrate") == {"db-init": "service_completed_successfully"}
    assert needs("webapp")["migrate"] == "service_completed_successfully"
    assert needs("dagster-code") == {"migrate": "service_completed_successfully",
                                     "dagster-migrate": "service_completed_successfully"}
    for service in ("dagster-webserver", "dagster-daemon"):
        assert needs(service)["dagster-code"] == "service_healthy"
    assert needs("logstash") == {"elasticsearch": "service_healthy"}
    assert needs("kibana-import") == {"kibana": "service_healthy"}


def test_there_is_no_dependency_cycle() -> None:
    graph = {name: set(service.get("depends_on") or {}) for name, service in services().items()}
    done: set[str] = set()
    while graph:
        ready = [name for name, deps in graph.items() if deps <= done]
        assert ready, f"cycle among {sorted(graph)}"
        for name in ready:
            done.add(name)
            del graph[name]


def test_every_service_is_either_long_running_or_one_shot() -> None:
    assert set(services()) == set(LONG_RUNNING) | set(ONE_SHOT)
    for name in LONG_RUNNING:
        assert services()[name]["restart"] == "unless-stopped"
    for name in ONE_SHOT:
        assert services()[name]["restart"] == "no"


# ---- ports, memory ----------------------------------------------------------------------------

def test_only_the_web_app_the_dagster_ui_and_kibana_publish_ports() -> None:
    published = {name: service["ports"] for name, service in services().items() if service.get("ports")}
    assert set(published) == set(PUBLISHED)
    for name, ports in published.items():
        (port,) = ports
        assert port.endswith(f":{PUBLISHED[name]}")
        assert not any("expose" in s for s in services().values())
    env = filled_env()
    assert interpolate(published["dagster-webserver"][0], env) == "127.0.0.1:3000:3000"
    assert interpolate(published["kibana"][0], env) == "127.0.0.1:5601:5601"
    assert interpolate(published["webapp"][0], env) == "0.0.0.0:5000:5000"


def test_the_backend_network_has_no_route_out() -> None:
    networks = compose()["networks"]
    assert networks["backend"]["internal"] is True
    for name in ("postgres", "elasticsearch", "logstash", "dagster-daemon", "db-init", "migrate"):
        assert services()[name]["networks"] == ["backend"], name


def test_memory_limits_fit_one_16_gib_server() -> None:
    limits = {name: memory_bytes(service["deploy"]["resources"]["limits"]["memory"])
              for name, service in services().items()}
    gib = 1024 ** 3
    long_running = sum(limits[name] for name in LONG_RUNNING)
    assert long_running <= 13 * gib, f"{long_running / gib:.2f} GiB leaves too little for the OS"
    assert max(limits[name] for name in ONE_SHOT) <= gib
    heap = (ROOT / "elk" / "elasticsearch" / "jvm.options.d" / "heap.options").read_text()
    es_heap = memory_bytes(re.search(r"^-Xmx(\d+[kmg])", heap, re.M).group(1))
    assert es_heap <= limits["elasticsearch"] / 2, "Elasticsearch wants half its memory off-heap"
    ls_heap = memory_bytes(re.search(r"-Xmx(\d+[kmg])", service_env(services()["logstash"])["LS_JAVA_OPTS"])
                           .group(1))
    assert ls_heap <= limits["logstash"] * 0.75
    node = int(re.search(r"max-old-space-size=(\d+)", service_env(services()["kibana"])["NODE_OPTIONS"]).group(1))
    assert node * 1024 ** 2 <= limits["kibana"] * 0.75


# ---- the log stack --------------------------------------------------------------------------

def test_every_bind_mount_of_elk_exists_and_matches_the_elk_readme() -> None:
    readme = (ROOT / "elk" / "README.md").read_text(encoding="utf-8")
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source, target, *_mode = volume.split(":")
            if not source.startswith("./"):
                assert source in compose()["volumes"], f"{name}: undeclared volume {source}"
                continue
            path = ROOT / source
            assert path.exists(), f"{name}: {source} does not exist"
            assert _mode == ["ro"], f"{name}: mount {source} read-only"
            assert target.rstrip("/") in readme or target.rstrip("/") + "/" in readme, (
                f"{name}: {target} is not where elk/README.md says {source} goes")


def test_the_kibana_import_runs_the_script_of_elk() -> None:
    service = services()["kibana-import"]
    assert service["entrypoint"] == ["sh", "/import/import.sh"]
    assert "./elk/kibana:/import:ro" in service["volumes"]
    assert (ROOT / "elk" / "kibana" / "saved_objects.ndjson").is_file()
    assert service_env(service)["KIBANA_URL"] == "http://kibana:5601"


def test_the_elastic_images_share_one_exact_version() -> None:
    versions = {re.search(r":\$\{ELASTIC_VERSION:-([0-9.]+)\}$", services()[name]["image"]).group(1)
                for name in ("elasticsearch", "logstash", "kibana")}
    assert len(versions) == 1 and re.fullmatch(r"8\.\d+\.\d+", versions.pop())


# ---- README -------------------------------------------------------------------------------------

def test_the_readme_documents_the_deployment() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploying on site", 1)[1].split("\n## ", 1)[0]
    for needle in (".env.example", "docker compose build", "docker compose up -d", "terraform/",
                   "docs/scaling.md", "vm.max_map_count", "5000", "3000", "5601"):
        assert needle in section, needle
    for path in re.findall(r"`((?:terraform|docs|elk|dagster_home|\.github)/[^`\s]*)`", section):
        assert (ROOT / path).exists(), f"README names {path}, which does not exist"
