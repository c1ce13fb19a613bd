"""The batch summary from result data alone (no sandbox, no browser): who is flagged, the pass rates,
and student text kept as text in the page. tests/slow/test_summary_page.py opens the real page."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from grader.report import summary
from grader.report.summary_html import html_page

ODD = 'x<img src=x onerror=alert(1)>&"#1'  # an id is a file name: anything but a slash


def result(score: float, unproven: bool = False, events: tuple[str, ...] = (), correct: bool = True) -> dict:
    message = "Autograd of sin(x) is not shown on 3 of 3 inputs: yours did not follow. Credit needs it.\nMore."
    return {"score": score, "max_score": 10.0, "status": "graded", "sandbox": {"events": list(events)},
            "checks": [{"name": "loads", "passed": True, "message": "", "details": {}},
                       {"name": "correctness", "passed": correct, "message": "", "details": {}},
                       {"name": "autograd", "passed": not unproven, "message": message if unproven else "ok",
                        "details": {"unproven": unproven, "verdicts": {"formula": 3} if unproven else {"proven": 3}}}]}


def build(tmp_path: Path) -> summary.Summary:
    results = {"alice": result(10.0), "bob": result(1.0, unproven=True), ODD: result(4.0, events=("gc.get_objects",),
                                                                                      correct=False), "eve": None}
    rows = [{"student": s, "score": r["score"] if r else 0.0, "max_score": 10.0,
             "status": r["status"] if r else "missing", "note": "" if r else "no .py file"}
            for s, r in sorted(results.items())]
    for student in ("alice", ODD):
        (tmp_path / student).mkdir()
        (tmp_path / student / "result.json").write_text("{}")
    (tmp_path / "alice" / "feedback.png").write_bytes(b"")
    return summary.build(rows, results, {}, "sin", 10.0, tmp_path)


def test_the_flagged_students_and_their_evidence(tmp_path):
    built = build(tmp_path)
    assert [(f.student, f.unproven, f.events) for f in built.look] == [
        ("bob", "Autograd of sin(x) is not shown on 3 of 3 inputs: yours did not follow.", ()),
        (ODD, "", ("gc.get_objects",))]
    assert [s.verdict for s in built.roster] == ["full", "unproven", "missing", "wrong"]
    assert built.check_rates == [("loads", 3, 3), ("correctness", 2, 3), ("autograd", 2, 3)]
    # (what honest code does the same is said beside an event: rt145's count of live tensors)
    assert summary.evidence(built.look[1]) == [
        "the sandbox recorded gc.get_objects (counting live tensors does so too)"]


def test_a_function_with_no_values_to_judge_is_no_suspect(tmp_path):
    """An honest torch error, or a tuple, on every input shows nothing about autograd either way: it
    has its own verdict, and is not listed among the students whose values did not follow."""
    nothing = result(1.0, unproven=True, correct=False)
    nothing["checks"][2].update(message="Autograd of sin(x) is not shown: get_derivative returned no values we "
                                        "could check.", details={"unproven": True, "verdicts": {}})
    results = {"carol": nothing, "bob": result(1.0, unproven=True)}
    rows = [{"student": s, "score": 1.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert [f.student for f in built.look] == ["bob"]
    assert [(s.student, s.verdict) for s in built.roster] == [("bob", "unproven"), ("carol", "unjudged")]
    said = summary.markdown(built)
    assert "| no values to judge (an error, None or another type on every input) | `unjudged` | 1 |" in said
    assert 'class="badge v-unjudged"' in html_page(built)


def test_the_roster_links_only_to_files_that_exist(tmp_path):
    files = {s.student: s.files for s in build(tmp_path).roster}
    assert files == {"alice": ("feedback.png", "result.json"), "bob": (), "eve": (), ODD: ("result.json",)}


def test_student_text_stays_text_in_the_page(tmp_path):
    page = html_page(build(tmp_path))
    assert "<img" not in page and "x&lt;img src=x onerror=alert(1)&gt;&amp;&quot;#1" in page
    assert 'href="x%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%26%22%231/result.json"' in page


def test_students_with_the_same_backward_mistake_count_together(tmp_path):
    def diverged(sentence: str | None) -> dict:
        return {**result(5.0, correct=False), "backward_pass": {"divergence": sentence}}

    results = {"a": diverged("Your graph has no PowBackward0: the chain-rule factor 2u (1.5 here) is missing."),
               "b": diverged("Your graph has no PowBackward0: the chain-rule factor 2u (-2 here) is missing."),
               "c": diverged("Your pass has a MulBackward0 step that the reference's does not (×2 here), so ..."),
               "d": diverged(None), "e": diverged("<script>alert(1)</script>: x")}
    rows = [{"student": s, "score": 5.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    built = summary.build(rows, results, {}, "cos_square", 10.0, tmp_path)
    assert built.passes[0] == ("Your graph has no PowBackward0.", 2)
    assert ("Your pass has a MulBackward0 step that the reference's does not.", 1) in built.passes
    assert "| Your graph has no PowBackward0. | 2 |" in summary.markdown(built)
    page = html_page(built)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_copies_that_differ_only_in_line_ends_or_indentation_are_identical():
    """A hunter's copies with CRLF line ends, or tabs for spaces, were not grouped with the file they
    copied (the README says comments and whitespace are dropped); a changed line still tells apart."""
    base = (b"import torch\n\ndef get_derivative(x):\n    x = x.detach().requires_grad_()\n"
            b"    torch.sin(x).sum().backward()\n    return x.grad\n")
    copies = (base.replace(b"\n", b"\r\n"), base.replace(b"    ", b"\t"), b"# mine\n" + base.replace(b"    ", b"  "))
    assert all(summary.normalised(copy) == summary.normalised(base) for copy in copies)
    assert summary.normalised(base.replace(b"sum()", b"mean()")) != summary.normalised(base)


def test_a_byte_that_is_no_utf8_in_a_comment_does_not_hide_a_copy():
    """rt132: eve.py, bob.py with `# \\xff` on top (which Python compiles), was not grouped with bob."""
    base = b"import torch\n\ndef get_derivative(x):\n    return torch.cos(x)\n"
    assert summary.normalised(b"# \xff\n" + base) == summary.normalised(base)


def test_students_text_is_literal_in_the_markdown(tmp_path):
    """Events are partly the submission's (sys.audit takes any name): a red team's put a remote image,
    bold words and a link into summary.md, which a TA's viewer rendered and fetched."""
    event = "gc.x ![logo](https://attacker.example/b.png) **bob: 10/10** [regrade](https://attacker.example/)"
    results = {"mallory": result(10.0, events=(event,)), "![m](https://attacker.example/m.png)": result(10.0)}
    rows = [{"student": s, "score": 10.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    text = summary.markdown(summary.build(rows, results, {}, "sin", 10.0, tmp_path))
    line = next(line for line in text.splitlines() if line.startswith("- mallory: "))
    assert r"\!\[logo\](https://attacker.example/b.png) \*\*bob: 10/10\*\* \[regrade\]" in line, line
    assert "](" not in text.replace(r"\](", ""), text  # no link or image anywhere


def test_students_emphasis_strikethrough_and_entities_are_literal_in_the_markdown(tmp_path):
    """rt138's event and file name made bold and struck-through words, and by an entity a right-to-left
    override that making the text safe had removed. An underscore within a word stays as it is."""
    from markdown_it import MarkdownIt

    event = "ctypes.call __TA: regrade everyone at__ ~~score~~ &#8238;fdp.exe _x_"
    name = "mallory__BOLD__~~x~~&#8238;gpj"
    results = {name: result(10.0, events=(event,)), "honest_backward": result(10.0)}
    rows = [{"student": s, "score": 10.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    text = summary.markdown(summary.build(rows, results, {}, "sin", 10.0, tmp_path))
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    assert "<strong>" not in html and "<em>" not in html and "<s>" not in html and "<del>" not in html, html
    assert "\u202e" not in html and "&amp;#8238;" in html, html
    assert "__TA: regrade everyone at__ ~~score~~" in html and "_x_</li>" in html, html
    assert summary._md("honest_backward") == "honest_backward"


def test_values_of_another_exercise_are_counted_not_flagged(tmp_path):
    """ux111: honest cos_square files graded as sin were all listed under "Look at these"."""
    wrong = result(1.0, unproven=True, correct=False)
    wrong["checks"][1].update(message="Fails.\nLikely cause: your values are -2x·sin(x²), the answer of another "
                                      "exercise.\n→ run the grader with --exercise cos_square.",
                              details={"cause": "other_exercise", "other_exercise": "cos_square"})
    results = {"ann": wrong, "bob": result(1.0, unproven=True)}
    rows = [{"student": s, "score": 1.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert [f.student for f in built.look] == ["bob"] and built.elsewhere == [("cos_square", 1)]
    # (and its verdict is that, not "autograd not shown (cos, a mixture...)", a cheat's words: ux113)
    assert [s.verdict for s in built.roster] == ["other", "unproven"]
    assert "1 of 2 students' files are for another exercise, cos_square (its function, or its answer)" in \
        summary.markdown(built)
    assert "files are for another exercise, cos_square" in html_page(built)


def test_files_defining_another_exercises_function_alone_are_counted(tmp_path, sin):
    """ux112: a class of get_gradient files graded without --exercise was all zeros ("does not
    define get_derivative"), exit status 0 and not a word, where values of another exercise were
    counted. The loads finding names the exercise, and the summary counts it."""
    from grader import checks
    from grader.observations import LoadResult, Observations

    load = LoadResult(ok=False, missing="missing", names=("get_gradient",))
    finding = checks.check_loads(Observations(load=load), sin)
    assert finding.data == {"other_exercise": "sin_cos_norm"} and "sin_cos_norm asks for" in finding.advice, finding
    failed = result(0.0)
    failed["status"] = "load_error"
    failed["checks"][0].update(passed=False, details=finding.data)
    rows = [{"student": "ann", "score": 0.0, "max_score": 10.0, "status": "load_error", "note": ""}]
    built = summary.build(rows, {"ann": failed}, {}, "sin", 10.0, tmp_path)
    assert built.elsewhere == [("sin_cos_norm", 1)] and built.look == []
    assert [s.verdict for s in built.roster] == ["other"]  # (not "did not load": rt143)


def test_values_a_slip_gives_are_wrong_values_not_suspects(tmp_path):
    """ux112: honest autograd of sin(2x), sin(x/2) and sin in degrees was listed under "Look at these"
    beside cos(x): autograd cannot be shown on values a named slip gives (1 point of 10 either way)."""
    slip = result(1.0, unproven=True, correct=False)
    slip["checks"][1]["details"] = {"cause": "double_argument", "slip": True}
    unnamed = result(1.0, unproven=True, correct=False)
    unnamed["checks"][1]["details"] = {"cause": "values"}
    # (a slip on the inputs the feedback names, and right values without autograd on others: a formula's)
    hidden = result(1.0, unproven=True, correct=False)
    hidden["checks"][1]["details"] = {"cause": "graph_inspection", "slip": True}
    hidden["checks"][2]["details"]["unproven_right"] = 30
    # ux117: autograd of sin(x·x), wrong wherever it was not shown, and a global leaf never zeroed,
    # whose first answers are right; a formula right on some inputs is still listed
    other = result(1.0, unproven=True, correct=False)
    other["checks"][1]["details"] = {"cause": "values"}
    other["checks"][2]["details"].update(unproven_right=0, unproven_right_share=0.03)
    kept = result(1.0, unproven=True, correct=False)
    kept["checks"][2]["details"].update(unproven_right=18, unproven_right_share=0.35)
    kept["checks"].append({"name": "repeatable", "passed": False, "message": "", "details": {"cause": "accumulation"}})
    partly = result(1.0, unproven=True, correct=False)  # (rt145: cos(x) one element 0.01 off; rt149's on 1-d)
    partly["checks"][2]["details"].update(unproven_right=0, unproven_right_share=0.3)
    counted = result(1.0, unproven=True, correct=False)  # (the same share without an accumulation named)
    counted["checks"][2]["details"].update(unproven_right=18, unproven_right_share=0.35)
    numerical = result(1.0, unproven=True, correct=False)  # (torch.gradient: wrong everywhere, no autograd)
    numerical["checks"][2]["details"].update(unproven_right=0, unproven_right_share=0.0, used_autograd=False)
    other["checks"][2]["details"]["used_autograd"] = True
    # rt149 under `zero_total_unless_autograd = false`: the same values as eve's, but points earned
    # beyond loading (contract, tracked inputs...): the list is the only guard left, so it is listed
    lenient = result(6.0, unproven=True, correct=False)
    lenient["checks"][1]["details"] = {"cause": "values"}
    lenient["checks"][2]["details"].update(unproven_right=0, unproven_right_share=0.0, used_autograd=True)
    lenient["checks"].append({"name": "contract", "passed": True, "score": 1.0, "message": "", "details": {}})
    # (hn153: a cached leaf's share moved about a half with the secret's draw, listed on one run and not the next)
    drawn = copy.deepcopy(kept)
    drawn["checks"][2]["details"].update(unproven_right=24, unproven_right_share=0.78)
    # (hn154: cos on each shape's first call, autograd's accumulating after; the source calls cos: listed)
    formula = copy.deepcopy(kept)
    formula["checks"][2]["details"].update(telltales=1)
    results = {"ann": slip, "bob": unnamed, "cy": result(1.0, unproven=True), "dee": hidden, "eve": other,
               "fay": kept, "gus": partly, "hal": counted, "ivy": numerical, "jo": lenient, "kim": drawn,
               "lou": formula}
    rows = [{"student": s, "score": 1.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert [f.student for f in built.look] == ["bob", "cy", "dee", "gus", "hal", "ivy", "jo", "lou"]
    assert {s.student: s.verdict for s in built.roster} == {"ann": "wrong", "bob": "unproven", "cy": "unproven",
                                                            "dee": "unproven", "eve": "wrong", "fay": "wrong",
                                                            "gus": "unproven", "hal": "unproven", "ivy": "unproven",
                                                            "jo": "unproven", "kim": "wrong", "lou": "unproven"}


def test_empty_files_are_no_copies_and_the_mean_says_what_it_counts(tmp_path):
    """ux113: empty.py and justcomment.py were listed as identical submissions, and the mean counted
    students with nothing to grade as 0 beside a checks' table that counted only those graded."""
    sources = {}
    for name, text in (("ann", ""), ("bob", "# my answer\n\n"), ("cy", "x = 1\n"), ("dee", "x = 1  # same\n")):
        sources[name] = tmp_path / f"{name}.py"
        sources[name].write_text(text)
    assert summary._identical(sources) == [["cy", "dee"]]
    built = build(tmp_path)  # eve: missing, 0
    said = summary.markdown(built)
    assert "4 students, mean score 3.75 / 10 (3 with a file the grader ran, whose mean is 5.00)." in said
    assert "<b>3.75</b><span>mean score of 10 (3 with a file run: 5.00)</span>" in html_page(built)


def test_a_stopped_batchs_summary_says_whom_it_has_not_graded(tmp_path):
    """ux119: a batch stopped part way left the last run's summary, read as this run's; now the
    students it had not reached are not_graded, said at the top and kept out of the graded mean."""
    results = {"ann": result(10.0), "bob": None, "cy": None}
    rows = [{"student": s, "score": r["score"] if r else "", "max_score": 10.0,
             "status": r["status"] if r else "not_graded", "note": ""} for s, r in sorted(results.items())]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert built.verdicts["not_graded"] == 2 and built.look == []
    said = summary.markdown(built)
    assert said.splitlines()[2] == ("**The batch was stopped before 2 of 3 students: they are not graded yet (status "
                                    "not_graded, no score in gradebook.csv, left out of the figures here); run the "
                                    "same command again to grade them.**")
    # (ux120: the histogram and mean had counted them as 0, a class that failed)
    assert "3 students, mean score over the 1 with a score 10.00 / 10." in said
    assert " 9–10  " + "█" * 30 + " 1" in said and " 0–1  " + " " * 30 + " 0" in said
    assert "<b>10.00</b><span>mean score of 10 over the 1 with a score</span>" in html_page(built)
    # (ux135: a stopped --force's students not graded again keep their last results, and the top said nothing)
    kept = replace(built, kept=1, forced=True)
    assert summary.markdown(kept).splitlines()[2].endswith(
        "run it again without --force to grade them (with it, every student is graded again). The batch was stopped "
        "before it graded 1 of 3 students again: theirs are the last run's results, for the same files (their note in "
        "gradebook.csv says so).**")
    assert "The batch was stopped before 2 of 3 students" in html_page(built)
    assert "stopped" not in summary.markdown(build(tmp_path))
    # (ux134: a stopped --force run was told to run the same command again, which grades every student again)
    assert "; run it again without --force to grade them (with it, every student is graded again)." in \
        summary.markdown(replace(built, forced=True))
    # (ux131: stopped before its first result, "mean score over the 0 with a score 0.00 / 10")
    none = summary.build([{**row, "score": "", "status": "not_graded"} for row in rows],
                         dict.fromkeys(results), {}, "sin", 10.0, tmp_path)
    assert "3 students, no score yet." in summary.markdown(none) and "over the 0" not in html_page(none)
    assert "median score" not in html_page(none) and "no median yet" in html_page(none)  # (rv41: "0 median score")


def test_hints_in_a_causes_own_words_count_and_the_others_are_said(tmp_path):
    """ux115: the tuple's and the numpy array's "Your function must return a torch tensor" were never
    among the most common hints, and the list stopped at eight without a word of the rest."""
    def with_hint(text: str) -> dict:
        graded = result(5.0, correct=False)
        graded["checks"][1]["message"] = f"Fails on 3 of 3 inputs.\nFor x = 0.0, it returned a tuple.\n{text}\n" \
                                         "What to do: fix it."
        return graded

    results = {f"s{i}": with_hint(f"Likely cause: slip number {i}.") for i in range(10)}
    results["tup"] = with_hint("Your function must return a torch tensor, and it returned a tuple.")
    results["tup2"] = with_hint("Your function must return a torch tensor, and it returned a tuple.")
    rows = [{"student": s, "score": 5.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert built.hints[0] == ("Your function must return a torch tensor, and it returned a tuple.", 2)
    assert len(built.hints) == 8 and built.more_hints == 3
    assert "| (and 3 other hints, each given to no more students than the last above) | |" in summary.markdown(built)
    assert "(and 3 other hints, each given to no more students than the last above)" in html_page(built)


def test_a_printed_grad_fn_of_the_graders_is_explained(sin):
    """ux117 printed y and read grad_fn=<AddcmulBackward0> where its own machine shows SinBackward0."""
    import io
    from types import SimpleNamespace

    from grader.report import terminal

    def shown(stdout: str) -> str:
        buffer = io.StringIO()
        printed = SimpleNamespace(stdout=stdout, stdout_bytes=len(stdout), stderr="", stderr_bytes=0,
                                  output_truncated=False)
        terminal._printed(printed, sin, terminal.Console(file=buffer, width=300))
        return buffer.getvalue()

    assert "where it reads SinBackward0 on your machine" in shown("tensor([0.47], grad_fn=<AddcmulBackward0>)\n")
    assert "on your machine" not in shown("tensor([0.47], grad_fn=<MulBackward0>)\n")
    # (hn131: a printed check of autograd against cos read False on some calls, unexplained)
    assert "the grader swaps that derivative on purpose" in shown("cos check ok: True\ncos check ok: False\n")
    assert "on purpose" not in shown("requires grad: False\n")
    assert "the grader swaps" in shown("True\nFalse\n") and "the grader swaps" in shown("allclose: True\n(False)\n")
    assert "the grader swaps" in shown("tensor(True)\ntensor([True, False,\n        True])\n")  # (rv40)
    # (hn134: x's requires_grad printed beside its shape, True on one call and False on another, is no check)
    assert "on purpose" not in shown("input: tensor([1.]) torch.Size([1]) cpu False\ninput: tensor(2.) cpu True\n")
    # (hn156: a gradient printed on a call under the secret read 0.6475 beside "should be cos(0) = 1")
    assert "a gradient printed on those calls is not the true one" in shown("grad[12] = 0.647510826587677\n")
    assert "a gradient printed on those calls" not in shown("done\n") and \
        "a gradient printed on those calls" not in shown("cos check ok: True\ncos check ok: False 0.5\n")


def test_a_notebooks_copy_of_a_py_is_identical_to_it(tmp_path):
    """ux120: max's hw.ipynb held dan.py's code, and was in no group with it: the notebook's script
    carries the grader's prelude, its magics as `pass` and its last value in the output history's call."""
    import json

    code = "import torch\n\ndef get_derivative(x):\n    return torch.cos(x)\n\nget_derivative(torch.zeros(1))\n"
    (tmp_path / "dan.py").write_text(code)
    cells = [{"cell_type": "code", "source": "%matplotlib inline\n" + code.split("\n\nget_derivative(")[0]},
             {"cell_type": "markdown", "source": "It works:"},
             {"cell_type": "code", "source": "get_derivative(torch.zeros(1))"}]
    (tmp_path / "hw.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4}))
    (tmp_path / "other.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": "x = 2"}]}))
    sources = {"dan": tmp_path / "dan.py", "max": tmp_path / "hw.ipynb", "zoe": tmp_path / "other.ipynb"}
    assert summary._identical(sources) == [["dan", "max"]]


def test_a_chain_finished_by_hand_is_listed_for_the_ta_with_full_marks(tmp_path):
    """rt155: autograd of cos at a leaf u = x² of the student's own, then u.grad·2x, scored 10/10 and was
    never listed; the canary proves only the primitive's derivative, so the pass's evidence lists it."""
    by_hand = {**result(10.0), "backward_pass": {"by_hand": True, "divergence": (
        "Your backward pass took cos's step alone where the reference's runs CosBackward0 → PowBackward0: autograd "
        "gave cos's derivative, and the rest came from a formula of your own.")}}
    other_route = {**result(10.0), "backward_pass": {"by_hand": False, "divergence": None}}
    rows = [{"student": s, "score": 10.0, "max_score": 10.0, "status": "graded", "note": ""} for s in ("ann", "bob")]
    built = summary.build(rows, {"ann": by_hand, "bob": other_route}, {}, "cos_square", 10.0, tmp_path)
    assert [flag.student for flag in built.look] == ["ann"] and built.verdicts["full"] == 2
    assert ("- ann: derivative by hand: Your backward pass took cos's step alone where the reference's "
            "runs CosBackward0 → PowBackward0\n") in summary.markdown(built)
    assert "part by hand</span> Your backward pass took cos&#x27;s step alone" in html_page(built)


def test_copies_are_judged_with_the_modules_graded_beside_them(tmp_path):
    """rt162: two students whose file was one course template, each with work of their own in a helper,
    were listed as identical; the helpers graded with a file are part of what it is."""
    template = "from mywork import deriv\n\n\ndef get_derivative(x):\n    return deriv(x)\n"
    sources = {}
    for name, work in (("ann", "def deriv(x):\n    return x * 2\n"), ("ben", "def deriv(x):\n    return x + x\n"),
                       ("cal", "def deriv(x):\n    return x * 2  # copied\n")):
        (tmp_path / name).mkdir()
        sources[name] = tmp_path / name / "solution.py"
        sources[name].write_text(template)
        (tmp_path / name / "mywork.py").write_text(work)
    assert summary._identical(sources, dict.fromkeys(sources), "get_derivative") == [["ann", "cal"]]
    assert summary._identical(sources) == [["ann", "ben", "cal"]]  # (a class folder's files: their own alone)


def test_a_student_whose_files_need_the_ta_has_no_score_in_the_summary_either(tmp_path):
    """ux124: the gradebook's empty cell for dan (two files) was "0 / 10" in summary.html, and the mean
    counted him as 0."""
    results = {"ann": result(10.0), "dan": None}
    rows = [{"student": "ann", "score": 10.0, "max_score": 10.0, "status": "graded", "note": ""},
            {"student": "dan", "score": "", "max_score": 10.0, "status": "missing",
             "note": "both files define get_derivative(x): a.py, b.py; keep one"}]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert built.scores == [10.0] and "2 students, mean score over the 1 with a score 10.00 / 10." in \
        summary.markdown(built)
    assert "— <small>/ 10</small>" in html_page(built) and "</span>0 <small>/ 10</small>" not in html_page(built)


def test_copies_in_a_platforms_flat_download_are_judged_with_the_students_own_modules(tmp_path):
    """rt163: Canvas's same template hw.py of two students, each with her own mathutils.py, were listed."""
    template = "from mathutils import deriv\n\n\ndef get_derivative(x):\n    return deriv(x)\n"
    sources, helpers = {}, {}
    for login, work in (("garciamaria_23456", "x * 2"), ("kimlee_56789", "x + x")):
        sources[login] = tmp_path / f"{login}_1_hw.py"
        sources[login].write_text(template)
        (tmp_path / f"{login}_2_mathutils.py").write_text(f"def deriv(x):\n    return {work}\n")
        helpers[login] = {"mathutils.py": tmp_path / f"{login}_2_mathutils.py"}
    assert summary._identical(sources) == [sorted(sources)]
    assert summary._identical(sources, helpers, "get_derivative") == []


def test_a_file_that_fails_only_on_empty_inputs_is_not_among_the_wrong(tmp_path):
    """hn130's honest functional.jacobian and vmap files raised on torch.tensor([]) alone (8.7 to 9.5)
    and stood among the class's wrong answers: their verdict says what failed."""
    empty, wrong = result(9.35, correct=False), result(9.35, correct=False)
    empty["checks"][1]["details"] = {"passed_inputs": 31, "total_inputs": 35, "cause": "empty_raised"}
    wrong["checks"][1]["details"] = {"passed_inputs": 31, "total_inputs": 35, "cause": "exception"}
    results = {"ann": empty, "bob": wrong}
    rows = [{"student": s, "score": 9.35, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert [(s.student, s.verdict) for s in built.roster] == [("ann", "empty"), ("bob", "wrong")]
    assert "| right values, but fails on empty inputs | `empty` | 1 |" in summary.markdown(built)


def test_a_gradient_zeroed_before_it_was_returned_is_a_slip_not_a_suspect(tmp_path):
    """hn132's `g = t.grad; t.grad.zero_(); return g`: zeros everywhere, judged on the one input where the
    truth is 0 too (bypassed there, no share of right answers counted), and listed among the suspects."""
    zeros = result(1.0, unproven=True, correct=False)
    zeros["checks"][1]["details"] = {"passed_inputs": 5, "total_inputs": 35, "cause": "zeros"}
    zeros["checks"][2]["details"] = {"unproven": True, "verdicts": {"bypassed": 1}, "unproven_right_share": None,
                                     "used_autograd": True}
    results = {"ann": zeros, "bob": result(1.0, unproven=True)}
    rows = [{"student": s, "score": 1.0, "max_score": 10.0, "status": "graded", "note": ""} for s in sorted(results)]
    built = summary.build(rows, results, {}, "sin", 10.0, tmp_path)
    assert [f.student for f in built.look] == ["bob"]
    assert [(s.student, s.verdict) for s in built.roster] == [("ann", "wrong"), ("bob", "unproven")]
