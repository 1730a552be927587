"""``gradewatch demo``: the whole lifecycle, headless, end to end.

Six generated semesters (four graded historical ones, one whose grades have not come in, and
one current semester whose attendance has dropped) are uploaded over HTTP to a real web
server, processed through the real Definitions and sensors, and summarised: partitions, rows
cleaned, model versions and metrics, drift found, alerts raised, and the downloaded report.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from gradewatch.settings import Settings, load_settings
from gradewatch.storage import make_engine
from gradewatch.storage.migrate import upgrade
from gradewatch.storage.tables import alerts, cleaned_features
from gradewatch.storage.tokens import temporary_token
from gradewatch.synthetic.generator import GeneratorConfig, SyntheticSemester, generate
from gradewatch_assets.definitions import build_definitions
from gradewatch_assets.instance import prepare_dagster_home
from gradewatch_assets.resources import GradewatchResource
from gradewatch_assets.runner import RunSummary, SensorRunner

Echo = Callable[[str], None]
# The demo starts a real web app to upload through; importing it takes seconds on a quiet machine
# and more than a minute on a loaded 2-core one (seen at load 17).
WEB_APP_START_SECONDS = 180


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which."""


@dataclass
class DemoResult:
    workdir: Path
    runs: list[RunSummary] = field(default_factory=list)
    reports: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)


def demo_environment(workdir: Path) -> Settings:
    """Settings for the demo: the configured database and Dagster home, else fresh ones in workdir.

    They are set in this process's environment, which the Dagster resource and the web server
    subprocess read too.
    """
    os.environ.setdefault("GRADEWATCH_DATABASE_URL", f"sqlite:///{workdir / 'gradewatch.db'}")
    os.environ.setdefault("DAGSTER_HOME", str(workdir / "dagster_home"))
    os.environ.setdefault("GRADEWATCH_TRAINING_PROFILE", "quick")
    return load_settings(base_dir=workdir)


def run_demo(workdir: Path, settings: Settings, *, students: int = 600, seed: int = 7,
             echo: Echo = print) -> DemoResult:
    result = DemoResult(workdir)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    prepare_dagster_home(settings.dagster_home)
    history, current = _semesters(students, seed)
    defs = build_definitions(GradewatchResource(database_url=settings.database_url))
    env = {**os.environ, "GRADEWATCH_DATABASE_URL": settings.database_url,
           "DAGSTER_HOME": str(settings.dagster_home)}
    # The demo's token is revoked when the demo ends, however it ends.
    with temporary_token(engine, f"demo-{uuid.uuid4().hex[:6]}", frozenset({"upload", "report"})) as token, \
            dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance, \
            _web_server(env, workdir) as base:
        runner = SensorRunner(defs, instance)
        client = _Client(base, token)

        def process(step: str) -> None:
            runs = runner.run_until_idle()
            failed = [r for r in runs if not r.success]
            if failed:
                raise DemoError(f"{step}: run {failed[0].job} for {failed[0].partition} failed")
            result.runs.extend(runs)
            echo(f"  {step}: {len(runs)} run(s) " + ", ".join(f"{r.job}[{r.partition}]" for r in runs))

        for semester in history:
            key = semester.period.key
            echo(f"semester {key} (graded history)")
            client.upload(semester, _features_only(semester))
            process("report uploaded")
            client.upload(semester, semester.csv_bytes())  # the export with grades, PII and typos
            process("final grades uploaded")
        for semester in current:
            key = semester.period.key
            echo(f"semester {key} ({'drifted, ' if semester.drifted else ''}no final grades yet)")
            client.upload(semester, semester.csv_bytes())
            process("report uploaded")
            target = workdir / f"report-{key}.csv"
            target.write_bytes(client.report(semester))
            result.reports[key] = target
        result.summary = _summary(engine, instance, result)
    engine.dispose()
    return result


def _semesters(students: int, seed: int) -> tuple[list[SyntheticSemester], list[SyntheticSemester]]:
    # Typos in 3% of the rows, identifying columns, and no whole-file accidents (an emptied
    # column, a constant one): those would rightly show up as drift and blur the story, in
    # which only the last semester drifts.
    common = {"semesters": 6, "students": students, "error_rate": 0.03, "file_error_rate": 0.0, "pii": True}
    graded = generate(GeneratorConfig(seed=seed, with_final_grades=True, **common))
    ongoing = generate(GeneratorConfig(seed=seed + 1, drift="attendance", drift_from=6, **common))
    return graded[:4], ongoing[4:]


def _features_only(semester: SyntheticSemester) -> bytes:
    return semester.truth.drop(columns=["final_grade"]).to_csv(index=False).encode()


class _Client:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def upload(self, semester: SyntheticSemester, content: bytes) -> dict:
        boundary = uuid.uuid4().hex
        fields = {"start_date_period": semester.period.start.isoformat(),
                  "end_date_period": semester.period.end.isoformat()}
        body = b"".join(
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
            for k, v in fields.items()
        ) + (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{semester.file_name}\"\r\n"
             "Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        answer = self._call("/update-csv", body, f"multipart/form-data; boundary={boundary}")
        return json.loads(answer)

    def report(self, semester: SyntheticSemester) -> bytes:
        query = (f"/get-report?start_date_period={semester.period.start.isoformat()}"
                 f"&end_date_period={semester.period.end.isoformat()}")
        return self._call(query)

    def _call(self, path: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        request = urllib.request.Request(self.base + path, data=body, method="POST" if body else "GET")  # noqa: S310
        request.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            # Our own server on 127.0.0.1, over http: no file: or other scheme can get here.
            with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
                return response.read()
        except urllib.error.HTTPError as exc:
            raise DemoError(f"{path.split('?')[0]} answered {exc.code}: {exc.read().decode(errors='replace')}") from exc


class _web_server:
    """``gradewatch serve`` on a free port of 127.0.0.1, for the length of the demo."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir

    def __enter__(self) -> str:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.log = (self.workdir / "webapp.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "gradewatch", "serve", "--port", str(port)],
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WEB_APP_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoError(f"the web app did not start; see {self.workdir / 'webapp.log'}")
            try:
                urllib.request.urlopen(base + "/health", timeout=2).read()  # noqa: S310 (http on 127.0.0.1)
                return base
            except OSError:
                time.sleep(0.3)
        raise DemoError(f"the web app did not answer within {WEB_APP_START_SECONDS} s (a machine this "
                        f"busy is too slow for the demo; see {self.workdir / 'webapp.log'})")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _summary(engine: sa.Engine, instance: dg.DagsterInstance, result: DemoResult) -> dict[str, object]:
    from gradewatch.models.registry import list_versions
    from gradewatch.storage.monitoring import read_performance

    with engine.connect() as conn:
        cleaned = conn.execute(sa.select(sa.func.count()).select_from(cleaned_features)).scalar_one()
        raised = conn.execute(sa.select(alerts.c.kind, alerts.c.semester, alerts.c.message)
                              .order_by(alerts.c.id)).all()
    drift = {r.partition: r.metadata.get("drift_metrics", {}).get("drifted_features")
             for r in result.runs if r.metadata.get("drift_metrics", {}).get("dataset_drift")}
    return {
        "partitions": sorted(instance.get_dynamic_partitions("semester")),
        "runs": len(result.runs),
        "rows_cleaned": cleaned,
        "models": [{"version": v.version, "status": v.status, "algorithm": v.algorithm,
                    "cv_mae": round(v.metrics.get("cv_mae", float("nan")), 2)} for v in list_versions(engine)],
        "accuracy": [{"semester": f"{p['start_date_period']}_{p['end_date_period']}", "model": p["model_version"],
                      "mae": None if p["mae"] is None else round(p["mae"], 2),
                      "within_tolerance": p["within_tolerance"]} for p in read_performance(engine)],
        "drift": drift,
        "alerts": [{"kind": k, "semester": s, "message": m} for k, s, m in raised],
        "reports": {k: str(v) for k, v in result.reports.items()},
    }


def fresh_workdir(workdir: Path | None) -> Path:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="gradewatch-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir
