"""The web pages in headless Chromium against the real server (``gradewatch serve``), issue 8.

Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it) driven by Playwright.
Every request the browser makes is recorded, and anything not addressed to the server is
refused and fails the test. Screenshots of each page go to ``test-artifacts/screenshots/``
(git-ignored) for review.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from gradewatch.semesters import Period
from gradewatch.storage.reports import count_rows
from gradewatch.storage.tokens import create_token
from tests.support.csvdata import PERIOD, student_rows, to_csv
from tests.support.pages import fill_monitoring, predict_everyone, train_champion
from tests.support.server import ROOT, running_server

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SEMESTER = Period.from_key(f"{PERIOD['start_date_period']}_{PERIOD['end_date_period']}")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    # The production default: the session cookie is Secure (Chromium keeps it on 127.0.0.1).
    with running_server(database_url, tmp_path, threads=4) as base:
        yield base


class Session:
    """One browser context on the server; records every request it makes."""

    def __init__(self, browser: Browser, base: str, shots: Path, viewport: dict[str, int]) -> None:
        self.base = base
        self.shots = shots
        self.requested: list[str] = []
        self.offsite: list[str] = []
        self.context: BrowserContext = browser.new_context(accept_downloads=True, viewport=viewport)
        self.context.on("request", lambda r: self.requested.append(r.url))
        # Anything addressed elsewhere is refused (a school network has no internet) and noted.
        self.context.route(lambda url: not url.startswith(base + "/"), self._refuse)
        self.page: Page = self.context.new_page()

    def _refuse(self, route) -> None:
        self.offsite.append(route.request.url)
        route.abort()

    def go(self, path: str) -> Page:
        response = self.page.goto(self.base + path)
        assert response is not None
        return self.page

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def check_origin(self) -> None:
        assert self.offsite == [], f"the pages asked for outside resources: {self.offsite}"
        outside = [u for u in self.requested if not u.startswith(self.base + "/") and not u.startswith("data:")]
        assert outside == []
        assert self.requested, "no request was recorded"

    def no_horizontal_scroll(self) -> None:
        wide = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"the page is {wide}px wider than the screen"

    def sign_in_by_keyboard(self, token: str) -> None:
        self.go("/sign-in")
        # autofocus runs in a later rendering step than the load event: wait for it (5 s at most).
        self.page.wait_for_function("document.activeElement && document.activeElement.id === 'token'",
                                    timeout=5000)
        self.page.keyboard.type(token)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(self.base + "/")


@pytest.fixture
def session(browser: Browser, server: str, database_url: str) -> Iterator[Session]:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    s = Session(browser, server, SCREENSHOTS / backend, DESKTOP)
    yield s
    s.context.close()
    s.check_origin()


def bad_file(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    rows = [{**r, "Full Name": f"Student Name {i}"} for i, r in enumerate(student_rows(10))]
    rows[2]["previous_grade"] = "B+"  # row 4
    rows[7]["attendance_rate"] = "@SUM(A1)"  # row 9, a formula too
    path = tmp_path / "export with errors.csv"
    path.write_bytes(to_csv(rows))
    return path, rows


def labelled_inputs_only(page: Page) -> None:
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.name)""")
    assert unlabelled == []


def test_registrar_uploads_fixes_rejected_rows_and_downloads_the_report(
    session: Session, engine, tmp_path: Path
) -> None:
    token = create_token(engine, "registrar", frozenset({"upload", "report"}))
    page = session.go("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    session.shot("01-start")
    session.go("/sign-in")
    session.shot("02-sign-in")
    session.sign_in_by_keyboard(token)
    assert "Signed in as registrar" in page.inner_text("header")

    session.go("/upload")
    labelled_inputs_only(page)
    session.shot("03-upload")
    path, rows = bad_file(tmp_path)
    page.get_by_label("First day").fill(PERIOD["start_date_period"])
    page.get_by_label("Last day").fill(PERIOD["end_date_period"])
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("#count-inserted")
    counts = {k: page.inner_text(f"#count-{k}") for k in ("inserted", "updated", "unchanged", "rejected")}
    assert counts == {"inserted": "8", "updated": "0", "unchanged": "0", "rejected": "2"}
    assert "Full Name" in page.inner_text("#dropped-heading + p")
    errors = page.locator("table.data tbody tr").all_inner_texts()
    assert len(errors) == 2
    assert errors[0].split("\t")[:2] == ["4", "previous_grade"]
    assert errors[1].split("\t")[:2] == ["9", "attendance_rate"]
    session.shot("04-upload-result")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the 2 rejected row(s) as CSV").click()
    download = info.value
    assert download.suggested_filename == "rejected-rows.csv"
    saved = tmp_path / "rejected-rows.csv"
    download.save_as(saved)
    table = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [(r["source_row"], r["user_id"]) for r in table] == [("4", rows[2]["user_id"]),
                                                               ("9", rows[7]["user_id"])]
    assert table[0]["previous_grade"] == "B+" and table[1]["attendance_rate"] == "'@SUM(A1)"
    assert "Full Name" not in table[0] and "Student Name" not in saved.read_text()

    # Fixed and uploaded again: the two students arrive.
    table[0]["previous_grade"], table[1]["attendance_rate"] = "72", "88"
    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(to_csv(table))
    session.go("/upload")
    page.get_by_label("First day").fill(PERIOD["start_date_period"])
    page.get_by_label("Last day").fill(PERIOD["end_date_period"])
    page.get_by_label("CSV file").set_input_files(str(fixed))
    page.get_by_role("button", name="Upload").click()
    assert page.inner_text("#count-inserted") == "2" and page.inner_text("#count-rejected") == "0"
    assert count_rows(engine, SEMESTER) == 10

    session.go("/reports")
    assert "Not ready" in page.inner_text("main")
    assert page.get_by_role("link", name="Download CSV").count() == 0
    session.shot("05-reports-not-ready")
    predict_everyone(engine, SEMESTER, [r["user_id"] for r in rows])
    page.reload()
    assert "Ready" in page.inner_text("main") and "Not ready" not in page.inner_text("main")
    session.shot("06-reports-ready")
    with page.expect_download() as info:
        page.get_by_role("link", name=f"Download CSV for {SEMESTER.start} to {SEMESTER.end}").click()
    report = tmp_path / "report.csv"
    info.value.save_as(report)
    api = requests.get(f"{session.base}/get-report", params=PERIOD, timeout=30,
                       headers={"Authorization": f"Bearer {token}"})
    assert report.read_bytes() == api.content
    assert len(list(csv.DictReader(io.StringIO(report.read_text())))) == 10

    page.set_viewport_size(PHONE)
    session.go("/reports")
    session.no_horizontal_scroll()
    session.shot("07-reports-phone")
    page.get_by_role("button", name="Sign out").click()
    assert "You are signed out" in page.inner_text("main")
    session.go("/upload")
    assert page.url.startswith(session.base + "/sign-in")


def test_a_form_without_its_csrf_token_is_refused(session: Session, engine, tmp_path: Path) -> None:
    token = create_token(engine, "registrar", frozenset({"upload"}))
    session.sign_in_by_keyboard(token)
    page = session.go("/upload")
    page.locator("form.form input[name=csrf_token]").evaluate("e => e.remove()")
    page.get_by_label("First day").fill(PERIOD["start_date_period"])
    page.get_by_label("Last day").fill(PERIOD["end_date_period"])
    page.get_by_label("CSV file").set_input_files(str(bad_file(tmp_path)[0]))
    with page.expect_response(lambda r: r.url.endswith("/upload")) as answer:
        page.get_by_role("button", name="Upload").click()
    assert answer.value.status == 400
    assert "This form cannot be accepted" in page.inner_text("h1")
    session.shot("08-csrf-refused")
    assert count_rows(engine) == 0


def test_model_status_and_predict_pages(session: Session, engine, tmp_path: Path) -> None:
    token = create_token(engine, "teacher", frozenset({"report"}))
    session.sign_in_by_keyboard(token)
    page = session.go("/model-status")
    assert "No model trained yet" in page.inner_text("main")
    session.shot("09-model-empty")
    session.go("/predict-csv")
    assert "No model trained yet" in page.inner_text("main")

    version = train_champion(engine)
    fill_monitoring(engine, version)
    session.go("/model-status")
    assert page.inner_text("#champion-version") == version
    assert page.locator("svg[role=img]").count() == 3
    assert page.locator("rect.bar-drift").count() == 1
    session.shot("10-model-status")
    page.set_viewport_size(PHONE)
    session.no_horizontal_scroll()
    session.shot("11-model-status-phone")
    page.set_viewport_size(DESKTOP)

    page.get_by_role("button", name="Sign out").click()  # the predict page is for anyone
    session.go("/predict-csv")
    assert "Nothing is stored." in page.inner_text("main")
    labelled_inputs_only(page)
    session.shot("12-predict")
    path = tmp_path / "mine.csv"
    path.write_bytes(to_csv(student_rows(15, prefix="p")))
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Predict").click()
    assert f"15 of 15 row(s) predicted with model {version}" in page.inner_text("main")
    session.shot("13-predict-result")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the predictions as CSV").click()
    saved = tmp_path / "predictions.csv"
    info.value.save_as(saved)
    table = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["user_id"] for r in table] == [f"p{i:06d}" for i in range(15)]
    assert count_rows(engine) == 0  # nothing stored


def test_report_filters_tier_counts_and_a_student_page(session: Session, browser: Browser, server: str,
                                                       engine, database_url: str) -> None:
    """Issue 15: the semester report with its filters (no script), tier counts, a student page."""
    from tests.support.report_runs import SEMESTER as RUNS_SEMESTER
    from tests.support.report_runs import two_prediction_runs

    ids = two_prediction_runs(engine)
    token = create_token(engine, "teacher", frozenset({"report"}))
    session.sign_in_by_keyboard(token)
    page = session.go("/reports")
    assert page.locator('[data-tier="high"]').inner_text() == "high 3"
    assert page.locator('[data-tier="newly"]').inner_text() == "1 newly at risk"
    session.shot("reports-tiers")
    page.get_by_role("link", name="Open the report").click()
    assert page.locator("#runs-chart").count() == 1
    page.select_option("#tier", "high")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/reports/{RUNS_SEMESTER.key}?tier=high*")
    shown = page.locator("#students tbody tr").evaluate_all("rows => rows.map(r => r.dataset.userId)")
    assert sorted(shown) == sorted([ids[0], ids[2], ids[5]])
    with page.expect_download() as download:
        page.locator("#download").click()
    body = Path(download.value.path()).read_text()
    assert sorted(r["user_id"] for r in csv.DictReader(io.StringIO(body))) == sorted(shown)
    session.shot("semester-report-high")
    page.get_by_label("newly at risk only").check()
    page.get_by_role("button", name="Show").click()
    assert page.locator("#students tbody tr").count() == 1
    page.get_by_role("link", name=ids[0]).click()
    assert "-7.5 points (actionable)" in page.locator("#reasons").inner_text()
    assert page.locator("#timeline tbody tr").count() == 2
    session.shot("student-page")
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    phone = Session(browser, server, SCREENSHOTS / backend, PHONE)
    try:
        phone.sign_in_by_keyboard(token)
        for path, name in ((f"/reports/{RUNS_SEMESTER.key}?at_risk=1", "semester-report-phone"),
                           (f"/reports/{RUNS_SEMESTER.key}/students/{ids[0]}", "student-page-phone")):
            phone.go(path)
            phone.no_horizontal_scroll()
            phone.shot(name)
    finally:
        phone.context.close()
    phone.check_origin()
