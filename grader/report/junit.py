"""junit.xml: each check of each submission as a test case, so that GitHub Classroom or any CI shows
which checks failed and why. Built from result.json data (the batch's source of truth), so that a
single grade and a whole batch render alike: one <testsuite> per student."""

from __future__ import annotations

import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from grader.outcome import HELD_BACK
from grader.report import atomic

# XML 1.0 cannot hold most control characters, which a student's print may well contain.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def write(entries: Iterable[tuple[str, dict[str, Any] | None, str]], exercise: str, path: Path) -> Path:
    """entries: (student id, their result.json data or None, why there is none). The suites are
    written one at a time (a class of thousands is never held whole), then the root,
    whose totals are known only at the end, around them; atomically, like every report."""
    totals = {"tests": 0, "failures": 0, "errors": 0}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as body:
        for student, result, problem in entries:
            suite = _suite(student, result, problem, exercise)
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
            ET.indent(suite, level=1)
            body.write("  " + ET.tostring(suite, encoding="unicode") + "\n")
        counts = {key: str(value) for key, value in totals.items()}
        root = ET.Element("testsuites", {"name": f"grader {exercise}", **counts})
        head, _, tail = ET.tostring(root, encoding="unicode", short_empty_elements=False).partition("></")
        body.seek(0)
        with atomic.replacing(path) as handle:
            handle.write(f'<?xml version="1.0" encoding="UTF-8"?>\n{head}>\n')
            shutil.copyfileobj(body, handle)
            handle.write(f"</{tail}\n")
    return path


def _suite(student: str, result: dict[str, Any] | None, problem: str, exercise: str) -> ET.Element:
    classname = f"grader.{exercise}.{student}"
    if result is None:
        suite = ET.Element("testsuite", name=student, tests="1", failures="1", errors="0", time="0")
        case = ET.SubElement(suite, "testcase", classname=classname, name="submission")
        ET.SubElement(case, "failure", message=_clean(problem or "no submission"), type="missing")
        return suite
    grader_failed = result.get("status") == "grader_error"
    checks = result.get("checks", [])
    # (a check whose points are held back is no pass a CI shows as green: ux118's cos cheat, 1/10,
    # read as one failure beside six passing tests)
    failed = [c for c in checks if not c.get("passed") or c.get("held_back")]
    suite = ET.Element("testsuite", name=student, tests=str(len(checks)),
                       failures="0" if grader_failed else str(len(failed)),
                       errors=str(len(checks)) if grader_failed else "0", time=str(result.get("duration_s", 0)))
    properties = ET.SubElement(suite, "properties")
    for name in ("score", "max_score", "status", "seed"):
        if name in result:  # (no seed where a check's was the course's: cli)
            ET.SubElement(properties, "property", name=name, value=str(result[name]))
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=str(check["name"]))
        message = str(check.get("message", ""))
        points = f"{check.get('score', 0):g}/{check.get('max_score', 0):g} points"
        if grader_failed:
            error = ET.SubElement(case, "error", message="the grader itself failed", type="grader_error")
            error.text = _clean(str(result.get("grader_error") or ""))
        elif not check.get("passed"):
            failure = ET.SubElement(case, "failure", message=_clean(f"{message.splitlines()[0] if message else ''} "
                                                                    f"({points})"), type="failed")
            failure.text = _clean(message)
        elif check.get("held_back"):
            failure = ET.SubElement(case, "failure", message=_clean(f"{HELD_BACK} ({points})"), type="held_back")
            failure.text = _clean(message)
    output = result.get("output", {})
    ET.SubElement(suite, "system-out").text = _clean(str(output.get("stdout", "")))
    ET.SubElement(suite, "system-err").text = _clean(str(output.get("stderr", "")))
    return suite


def _clean(text: str) -> str:
    return _NOT_XML.sub("?", text)
