"""junit.xml: each check of each submission as a test case, so that GitHub Classroom or any CI shows
which checks failed and why. Built from result.json data (the batch's source of truth), so that a
single grade and a whole batch render alike: one <testsuite> per student."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from grader.report.result_json import write_atomic

# XML 1.0 cannot hold most control characters, which a student's print may well contain.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def suites(entries: list[tuple[str, dict[str, Any] | None, str]], exercise: str) -> ET.Element:
    """entries: (student id, their result.json data or None, why there is none)."""
    root = ET.Element("testsuites", name=f"grader {exercise}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for student, result, problem in entries:
        suite = _suite(student, result, problem, exercise)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    root.attrib.update({key: str(value) for key, value in totals.items()})
    return root


def write(entries: list[tuple[str, dict[str, Any] | None, str]], exercise: str, path: Path) -> Path:
    tree = suites(entries, exercise)
    ET.indent(tree)
    write_atomic(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="unicode") + "\n")
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
    failed = [c for c in checks if not c.get("passed")]
    suite = ET.Element("testsuite", name=student, tests=str(len(checks)),
                       failures="0" if grader_failed else str(len(failed)),
                       errors=str(len(checks)) if grader_failed else "0", time=str(result.get("duration_s", 0)))
    properties = ET.SubElement(suite, "properties")
    for name in ("score", "max_score", "status", "seed"):
        ET.SubElement(properties, "property", name=name, value=str(result.get(name)))
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
    output = result.get("output", {})
    ET.SubElement(suite, "system-out").text = _clean(str(output.get("stdout", "")))
    ET.SubElement(suite, "system-err").text = _clean(str(output.get("stderr", "")))
    return suite


def _clean(text: str) -> str:
    return _NOT_XML.sub("?", text)
