"""summary.html as a TA sees it: a batch is graded, then the page is opened in Debian's headless
chromium and the rendered page is checked (what the browser built, laid out and ran), not its text."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from grader import checks
from tests.conftest import ROOT, SUBMISSIONS
from tests.headless import Chromium, executable

pytestmark = pytest.mark.slow
ODD = "zoë & <i>co #1"  # an id is a file name: any text but a slash, and it must stay text
STUDENTS = sorted(["honest_backward", "copycat", "cheat_cos", "mistake_backward_x", "broken_syntax", "mallory", ODD,
                   "eve"])
ROWS = "Array.from(document.querySelectorAll('table.roster tbody tr'))"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    for name in ("honest_backward", "cheat_cos", "mistake_backward_x", "broken_syntax"):
        shutil.copy(SUBMISSIONS / f"{name}.py", folder / f"{name}.py")
    (folder / "copycat.py").write_text("# mine\n" + (SUBMISSIONS / "honest_backward.py").read_text())
    shutil.copy(ROOT / "tests" / "fixtures" / "verdict" / "tells_by_gc.py", folder / "mallory.py")
    shutil.copy(SUBMISSIONS / "honest_ones_like.py", folder / f"{ODD}.py")
    (folder / "eve").mkdir()  # nothing to grade
    out = tmp_path_factory.mktemp("out")
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "-j", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    path = executable()
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    with Chromium(path) as chromium:
        yield chromium


@pytest.fixture
def page(browser: Chromium, out: Path) -> Chromium:
    browser.open(out / "summary.html")
    return browser


def column(page: Chromium, index: int) -> list[str]:
    return page.evaluate(f"{ROWS}.map(r => r.cells[{index}].textContent.trim())")


def scores(page: Chromium) -> list[float]:
    return [float(s) for s in page.evaluate(f"{ROWS}.map(r => r.cells[1].dataset.sort)")]


def test_the_roster_has_one_row_per_student_sorted_by_student(page):
    assert column(page, 0) == STUDENTS
    assert page.evaluate("document.querySelectorAll('i').length") == 0  # the odd id made no element
    honest = STUDENTS.index("honest_backward")
    row = page.evaluate(f"{ROWS}[{honest}].innerText")
    assert "10 / 10" in row and "graded" in row and "full marks" in row
    eve = page.evaluate(f"{ROWS}[{STUDENTS.index('eve')}].innerText")
    assert "missing" in eve and "no .py file" in eve
    # The roster is laid out, not hidden: every row has a height on the page.
    assert page.evaluate(f"{ROWS}.every(r => r.getBoundingClientRect().height > 10)")


def test_clicking_a_header_sorts_by_it_and_again_reverses(page):
    page.click("table.roster th:nth-child(2) button")
    ascending = scores(page)
    assert ascending == sorted(ascending) and ascending[0] == 0 and ascending[-1] == 10
    assert page.evaluate("document.querySelector('table.roster th:nth-child(2)').getAttribute('aria-sort')") \
        == "ascending"
    tens = [s for s, score in zip(column(page, 0), ascending, strict=True) if score == 10]
    assert tens == sorted(tens) and len(tens) == 3  # ties keep the student order
    page.click("table.roster th:nth-child(2) button")
    assert scores(page) == sorted(ascending, reverse=True)
    page.click("table.roster th:nth-child(3) button")  # status: text
    assert column(page, 2) == sorted(column(page, 2))
    page.click("table.roster th:nth-child(1) button")
    assert column(page, 0) == STUDENTS  # back to the student order
    page.click("table.roster th:nth-child(1) button")
    assert column(page, 0) == STUDENTS[::-1]


def test_every_link_resolves_to_a_file_of_that_student(page, out):
    links = page.evaluate(f"{ROWS}.map(r => [r.cells[0].textContent, "
                          "Array.from(r.querySelectorAll('a')).map(a => [a.getAttribute('href'), a.href])])")
    linked = {student: [absolute for _, absolute in anchors] for student, anchors in links}
    assert all(not raw.startswith(("/", "file:")) for _, anchors in links for raw, _ in anchors)  # relative
    for student, urls in linked.items():
        paths = [Path(unquote(urlparse(url).path)) for url in urls]
        assert all(p.is_file() and p.parent == out / student for p in paths), (student, paths)
        if student not in ("eve",):
            # backward.png too, where grading recorded the backward pass
            assert sorted(p.name for p in paths if p.name != "backward.png") == ["feedback.png", "feedback.txt",
                                                                                "result.json"], student
    assert linked["eve"] == []
    odd = [Path(unquote(urlparse(url).path)) for url in linked[ODD]]
    assert json.loads(next(p for p in odd if p.name == "result.json").read_text())["score"] == 10
    # The browser itself loads the feedback image through the link.
    width = page.evaluate(f"""new Promise(done => {{
        const img = new Image();
        img.onload = () => done(img.naturalWidth);
        img.onerror = () => done(0);
        img.src = {ROWS}[{STUDENTS.index(ODD)}].querySelector('a').href;
    }})""")
    assert width > 100


def test_look_at_these_names_who_and_why(page):
    flagged = page.evaluate("Array.from(document.querySelectorAll('table.look tbody tr'))"
                            ".map(r => [r.cells[0].textContent, r.cells[1].innerText])")
    why = dict(flagged)
    assert sorted(why) == ["cheat_cos", "mallory"]
    assert "autograd not shown" in why["cheat_cos"] and "is not shown on" in why["cheat_cos"]
    assert "gc.get_objects" in why["mallory"] and "sandbox recorded" in why["mallory"]
    # Each name leads to that student's row in the roster.
    page.click("table.look tbody tr:first-child a")
    assert page.evaluate("document.querySelector('table.roster tr:target').cells[0].textContent") == flagged[0][0]


def test_each_checks_pass_rate_is_drawn(page):
    bars = page.evaluate("""Array.from(document.querySelectorAll('svg g.rate')).map(g => [
        g.dataset.check, g.querySelectorAll('rect')[1].getBBox().width, g.textContent])""")
    assert [name for name, _, _ in bars] == list(checks.names())
    rates = {name: (width, text) for name, width, text in bars}
    assert "6 of 7" in rates["loads"][1]  # 7 with a result (not eve); broken_syntax did not load
    assert rates["loads"][0] == pytest.approx(220 * 6 / 7, abs=0.2)
    assert rates["autograd"][0] < rates["loads"][0]


def test_the_identical_group_is_listed(page):
    assert page.evaluate("Array.from(document.querySelectorAll('ul.groups li')).map(li => li.textContent)") \
        == ["copycat, honest_backward"]


def test_without_javascript_it_is_a_plain_table_in_student_order(browser, out):
    browser.open(out / "summary.html", javascript=False)
    try:
        assert browser.evaluate("document.querySelectorAll('table.roster th button').length") == 0
        assert column(browser, 0) == STUDENTS
        assert browser.evaluate("document.querySelector('table.roster th').textContent") == "student"
    finally:
        browser.open(out / "summary.html")
