"""feedback.png's words, read from the labels the figure is painted with (no sandbox)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from grader.outcome import Finding, Outcome, PlotData
from grader.report import plot


def _outcome(findings: tuple[Finding, ...], score: float) -> Outcome:
    x = np.linspace(-3, 3, 61)
    return Outcome(Path("alice.py"), "0" * 64, "sin", "graded", findings, score, 10.0, 7, ("cpu",), {}, 0.1,
                   plot=PlotData(x, np.cos(x)))


def _footer(outcome: Outcome, sin) -> str:
    assert outcome.plot is not None
    labels = plot.template(sin, outcome.plot.x, False)._title(outcome, sin)
    return "\n".join(label.text for label in labels[1:])  # (the verdicts' row, then the file's)


def test_held_back_checks_are_starred_and_the_star_is_explained(sin):
    """A bare ✓ beside a score of 1 / 10 read as a pass worth nothing; the row says which were held."""
    held = (Finding("loads", True, 1.0, "", score=1, max_score=1),
            Finding("correctness", True, 1.0, "", max_score=4, held_back=True),
            Finding("autograd", False, 0.0, "", max_score=3))
    row, meta = _footer(_outcome(held, 1.0), sin).split("\n")
    assert row.split("   ") == ["✓ loads", "✓ correctness*", "✗ autograd"]
    assert meta.endswith("* passed, points held back until autograd is shown")
    honest = tuple(Finding(f.name, True, 1.0, "", score=f.max_score, max_score=f.max_score) for f in held)
    footer = _footer(_outcome(honest, 8.0), sin)
    assert "*" not in footer and "held back" not in footer
    assert plot.picture(_outcome(held, 1.0), sin) != plot.picture(_outcome(honest, 8.0), sin)


def test_the_banner_says_what_the_autograd_check_found(sin):
    """One fixed sentence ("your answer did not follow" the secret) was drawn for every unproven
    submission, also for one that raised on every call: the banner is now the check's own summary."""
    loads = Finding("loads", True, 1.0, "", score=1, max_score=1)
    said = {}
    for summary in ("Autograd of sin(x) is not shown: get_derivative returned no values we could check.",
                    "Autograd of sin(x) is not shown on 52 of 52 inputs: get_derivative raised only when the "
                    "derivative of sin was swapped for a secret one. Credit beyond loading the file needs "
                    "autograd of sin shown on every input, so this submission scores no other points."):
        outcome = _outcome((loads, Finding("autograd", False, 0.0, summary, data={"unproven": True})), 1.0)
        said[summary] = plot.banner_text(outcome)
        assert said[summary].replace("\n", " ") == summary and max(map(len, said[summary].split("\n"))) <= 104
        assert plot.picture(outcome, sin) is not None
    proven = Finding("autograd", True, 1.0, "Your values came through autograd of sin(x).", data={"unproven": False})
    assert plot.banner_text(_outcome((loads, proven), 10.0)) == ""
    first, second = (_outcome((loads, Finding("autograd", False, 0.0, s, data={"unproven": True})), 1.0)
                     for s in said)
    assert plot.picture(first, sin) != plot.picture(second, sin)  # the words are drawn, not a fixed text


def test_the_banner_names_the_slip_of_an_honest_autograd_of_another_function(sin):
    """hn140: the sum left out of ‖x‖², autograd used throughout, was drawn "your answer did not change when
    autograd's derivative of sin did", as a cheat's is, over the panel; correctness had named the slip."""
    autograd = Finding("autograd", False, 0.0, "Autograd of sin in sin(cos(sum(x**2) + 1)) is not shown on 22 of 35 "
                       "inputs: your answer did not change when autograd's derivative of sin did. Credit beyond "
                       "loading the file needs autograd of sin shown on every input, so this submission scores no "
                       "other points.", data={"unproven": True, "used_autograd": True})
    slip = Finding("correctness", False, 0.0, "Fails on 16 of 32 inputs.", cause="Likely cause: your values are each "
                   "element's own derivative of sin(cos(x_i² + 1)): the sum in ‖x‖² is missing.",
                   data={"slip": True})
    banner = plot.banner_text(_outcome((slip, autograd), 1.0)).replace("\n", " ")
    assert banner.startswith("You used autograd, on another function: your values are each element's own")
    assert "did not change" not in banner and banner.endswith("scores no other points.")
    # (a cheat's values, or a slip without autograd, keep the check's own words)
    for data in ({"unproven": True}, {"unproven": True, "used_autograd": False}):
        kept = plot.banner_text(_outcome((slip, dataclasses.replace(autograd, data=data)), 1.0)).replace("\n", " ")
        assert kept.startswith("Autograd of sin in"), kept
    unnamed = dataclasses.replace(slip, data={})
    assert plot.banner_text(_outcome((unnamed, autograd), 1.0)).startswith("Autograd of sin in")
    # (rv42: y returned, or the incoming gradient, is no autograd of another function)
    for cause in ("primitive", "ones"):
        returned = dataclasses.replace(slip, data={"slip": True, "cause": cause})
        assert plot.banner_text(_outcome((returned, autograd), 1.0)).startswith("Autograd of sin in"), cause


def test_the_file_name_in_the_footer_is_made_safe(sin):
    """The .py name inside a student's folder is theirs: a newline in it started a footer line of its
    own, and U+202E reversed the rest."""
    outcome = _outcome((Finding("loads", True, 1.0, "", score=1, max_score=1),), 1.0)
    forged = dataclasses.replace(outcome, submission=Path("a\nloads ✓ 10 of 10\u202e.py"))
    meta = _footer(forged, sin).split("\n")
    assert len(meta) == 2 and "\u202e" not in meta[1] and "␤" in meta[1]


def test_a_long_banner_keeps_the_rubrics_last_word():
    """Cut at four lines, the banner dropped "scores no other points", the sentence that says why."""
    long = ("Autograd of sin(x) is not shown on 52 of 52 inputs: " + "your answers moved, but not as autograd's "
            "would, " * 8 + "at x = 0.5. Credit beyond loading the file needs autograd of sin shown on every input, "
            "so this submission scores no other points.")
    outcome = _outcome((Finding("autograd", False, 0.0, long, data={"unproven": True}),), 1.0)
    banner = plot.banner_text(outcome)
    assert banner.replace("\n", " ").endswith("scores no other points.")
    # Whole clauses where they fit (ux114's ended "...but never at the numbers the …")
    assert banner.startswith("Autograd of sin(x) is not shown on 52 of 52 inputs.\n") and " …" not in banner
    # and where no clause fits, cut at a word (a hunter's read "at the numbers the exerc …")
    one = long.replace(": ", " because ").replace(", ", " and ")
    banner = plot.banner_text(_outcome((Finding("autograd", False, 0.0, one, data={"unproven": True}),), 1.0))
    assert len(banner.split("\n")) == 4 and " …" in banner
    cut = next(line for line in banner.split("\n") if line.endswith(" …"))
    assert cut[:-2].split(" ")[-1] in {word.rstrip(",;:") for word in one.split(" ")}, cut


def test_a_number_stays_with_its_unit_where_plot_text_wraps():
    """ux118: a file whose import never ended had a plot reading "within 60" and a line of its own, "s."."""
    assert plot.wrap("Your code did not finish the import of your file within 60 s.", 60)[-1] == "60 s."
    assert plot.wrap("Autograd of sin(x) is not shown on 52 of 52 inputs.", 40) == [
        "Autograd of sin(x) is not shown on", "52 of 52 inputs."]


def test_a_plot_over_a_pole_takes_both_signs_and_draws_no_line_across_it():
    """log_sin's plot was x in [0.25, 8]: a helper's log(x) (NaN for x < 0, zeroed) drew a perfect
    curve while every negative input failed. Both signs now, with a gap round the pole at 0 that no
    line crosses."""
    from grader import exercise
    from grader.probe import Plan

    log_sin = exercise.load("log_sin")
    x = Plan.plot_grid(log_sin)
    assert x.min() < -7.9 and x.max() > 7.9 and np.abs(x).min() >= 0.25
    xs, ys = plot._broken(x, log_sin.reference(x))
    assert np.isnan(xs).sum() == 1 and np.isnan(ys).sum() == 1
    assert xs[np.flatnonzero(np.isnan(xs))[0] - 1] < 0 < xs[np.flatnonzero(np.isnan(xs))[0] + 1]
    even = np.linspace(-3, 3, 61)
    assert plot._broken(even, np.cos(even))[0] is even  # no gap, nothing inserted


def test_failing_inputs_of_another_dtype_than_the_curve_are_said_so(sin):
    """A hunter's x.float() cast back drew a float32 curve within its tolerance, under red ticks of
    float64 inputs it could not explain; the figure now says where they fail."""
    loads = Finding("loads", True, 1.0, "", score=1, max_score=1)
    template = plot.template(sin, _outcome((loads,), 1.0).plot.x, False)

    def words(dtypes: tuple[str, ...], values=np.cos) -> list[str]:
        outcome = _outcome((loads,), 8.0)
        data = dataclasses.replace(outcome.plot, returned=values(outcome.plot.x), failing_x=(0.5, 1.0),
                                   failing_dtypes=dtypes)
        return [label.text for label in template._failing_elsewhere(data)]

    assert words(("float64",)) == ["The failing grid inputs are float64 only: this float32 curve is within its "
                                   "tolerance (see correctness)."]
    # (ux112: right on a 1-d input, wrong on 0-d and 2-d ones, the curve on the reference under red ticks)
    assert words(("float32", "float64")) == ["This curve (a 1-d float32 input) is within its tolerance: the marked "
                                             "grid inputs\nfail for something else, which correctness names "
                                             "(their shape or layout, answers kept\nbetween calls...)."]
    assert words(("float64",), values=lambda x: np.cos(x) + 0.1) == []  # the curve itself is off


def test_nan_on_the_curve_is_said_so(sin):
    """A hunter's 2·log(x) for log(x²) drew no curve below 0 and a band of red marks at the top of the
    error panel, with nothing saying they were NaN."""
    outcome = _outcome((Finding("loads", True, 1.0, "", score=1, max_score=1),), 7.0)
    template = plot.template(sin, outcome.plot.x, False)
    x = outcome.plot.x
    _, texts = template._values(np.where(x < 0, np.nan, np.cos(x)), outcome)
    assert [t.text for t in texts if "returned nan" in t.text] == [
        "Your function returned nan at 30 of 61 points (x from -3 to -0.1):\nno curve there; drawn at the top of "
        "the error panel."]
    _, honest = template._values(np.cos(x), outcome)
    assert not [t for t in honest if "returned" in t.text]


def test_a_curve_right_everywhere_but_failing_on_empty_inputs_says_so(sin):
    """hn134: jacobian's diagonal raised on an empty x alone, and the picture showed a perfect curve under
    9.35 with nothing to say why."""
    empty = Finding("correctness", False, 0.88, "Fails on 4 of 35 inputs.", data={"cause": "empty_raised"},
                    score=3.54, max_score=4)
    outcome = _outcome((Finding("loads", True, 1.0, "", score=1, max_score=1), empty), 9.35)
    template = plot.template(sin, outcome.plot.x, False)
    _, texts = template._values(np.cos(outcome.plot.x), outcome)
    assert [t.text for t in texts if "empty inputs" in t.text] == [
        "Right at every x here; it fails on empty inputs (a tensor with no elements):\nsee the correctness check's "
        "words."]
    wrong = dataclasses.replace(empty, data={"cause": "values"})
    _, texts = template._values(np.cos(outcome.plot.x), dataclasses.replace(outcome, findings=(wrong,)))
    assert not [t for t in texts if "empty inputs" in t.text]


def test_every_exercises_title_and_score_fit_the_picture():
    """hn136: sin_cos_norm's title, made longer, ran off both edges of feedback.png with its score, a 1/10
    read "...: 1 / 1"; a title or footer wider than the picture is drawn smaller."""
    from PIL import Image, ImageDraw

    from grader import exercise

    for ex in exercise.catalogue():
        name = ex.name
        found = (Finding("loads", True, 1.0, "", score=1, max_score=1),)
        outcome = dataclasses.replace(_outcome(found, 1.0), exercise=name, submission=Path("a" * 80 + ".ipynb"))
        x = np.linspace(*ex.plot_range, 61)
        template = plot.template(ex, x[np.abs(x) >= ex.min_abs], False)
        width, height = template.size
        for label in template._title(outcome, ex):
            image = Image.new("RGB", (width, height), "white")
            label.draw(ImageDraw.Draw(image))
            columns = np.flatnonzero((np.asarray(image) != 255).any(axis=(0, 2)))
            assert columns.size and columns[0] > 0 and columns[-1] < width - 1, (name, label.text)
            if label.bold:
                assert label.text.endswith(":  1 / 10")


def test_the_legend_fits_the_picture_however_long_its_labels(sin):
    """ux137: a course's x·tanh(x), its labels' letters counted as few enough for one row, ran off the right edge."""
    long = dataclasses.replace(sin, value="x * tanh(x)", formula="tanh(x) + x·(1 − tanh²(x))")
    for ex in (sin, long):
        template = plot.Template(ex, np.linspace(*ex.plot_range, 61), False)
        legend = template.top.get_legend()
        box = legend.get_window_extent(template.canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= template.figure.bbox.width, (ex.formula, box)
        assert legend._ncols == (4 if ex is sin else 2)


def test_the_error_panel_labels_errors_alone_and_draws_failing_ticks_above_them(sin):
    """ux133: the band above the errors (the legend's, the failing inputs' ticks) was labelled 10³ and 10⁶, and
    the ticks, at 5·10², read as errors of 10³."""
    x = np.linspace(-3, 3, 61)
    template = plot.template(sin, x, False)
    assert max(template.bottom.get_yticks()) <= plot.CEILING
    outcome = dataclasses.replace(_outcome((), 0.0), plot=PlotData(x, 2 * np.cos(x), failing_x=(0.5, 1.0)))
    template.paint(outcome, sin)
    heights = template.failing.get_ydata()
    assert len(heights) == 2 and min(heights) > plot.BAND > plot.CEILING
