"""backward.png from hand-built backward passes (tests/fast/backward_samples.py): a real PNG of a
sane size, each distinct pass drawn once, the first difference in the BAD colour, boxes that never
overlap, and the writers that put it beside feedback.png."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from grader import exercise
from grader.outcome import BackwardPass, Outcome, Step
from grader.report import backward_layout, backward_plot, gradescope, write_files
from grader.report.plot import BAD, GOOD, REFERENCE, STUDENT
from tests.fast import backward_samples as samples


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def count(image: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)], np.uint8)
    return int((image == rgb).all(axis=2).sum())


@pytest.mark.parametrize("name", samples.ALL)
def test_each_pass_is_a_png_of_a_sane_size(name):
    png = backward_plot.picture(samples.ALL[name]())
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    height, width, _ = pixels(png).shape
    assert width == 1100 and 300 <= height <= 1600, (width, height)


def test_a_cache_hit_returns_the_same_bytes_without_drawing_again():
    # How much faster a hit is belongs to a benchmark (bench/profile_batch.py), not to a timing
    # assert that a loaded machine can fail: the cache's own count says it was not drawn again.
    backward_plot.picture.cache_clear()
    first = backward_plot.picture(samples.divergent())
    again = backward_plot.picture(samples.divergent())  # an equal pass, not the same object
    assert again == first
    assert backward_plot.picture.cache_info().hits == 1 and backward_plot.picture.cache_info().misses == 1


def test_different_passes_give_different_images():
    images = {name: backward_plot.picture(make()) for name, make in samples.ALL.items()}
    assert len(set(images.values())) == len(images)


def test_the_first_difference_is_marked_in_bad_and_its_counterpart_in_good():
    divergent = pixels(backward_plot.picture(samples.divergent()))
    body = int(max(p.bottom for p in backward_layout.panels(samples.divergent()))) + 10  # above the verdict
    left, right = divergent[:body, :550], divergent[:body, 550:]
    assert count(left, BAD) > 300 and count(right, BAD) == 0
    assert count(right, GOOD) > 300 and count(left, GOOD) == 0
    assert count(divergent[body:], BAD) > 100  # the sentence saying how they differ
    assert count(left, STUDENT) > 300 and count(right, REFERENCE) > 300
    agree = pixels(backward_plot.picture(samples.agree()))
    assert count(agree, BAD) == 0 and count(agree, GOOD) > 50  # nothing marked; the verdict says they agree


def test_the_highlighted_box_is_the_one_diverges_at_names():
    student, reference = backward_layout.panels(samples.divergent())
    assert [b.mark for b in student.boxes] == [False, False, True, False]
    assert [b.mark for b in reference.boxes] == [False, False, True, False]
    assert "UnsafeViewBackward0" in student.boxes[2].lines[0][0]


def test_a_branching_step_fans_out_and_a_long_arrow_goes_round_the_boxes():
    g = backward_layout.graph(samples.branching(), None)
    assert g.depth == [0, 1, 2, 2, 3, 3, 4, 5]
    student, _ = backward_layout.panels(samples.branched())
    mul, log, sin = student.boxes[2], student.boxes[4], student.boxes[5]
    assert log.y == sin.y and log.x < mul.x < sin.x  # its two next steps side by side, under it
    reciprocal_to_x = next(e for e in student.edges if len(e.points) > 2)
    assert reciprocal_to_x.points[0][1] == student.boxes[3].y + student.boxes[3].h
    assert all(not _crosses(reciprocal_to_x, box) for k, box in enumerate(student.boxes) if k not in (3, 7))


def _crosses(edge: backward_layout.Edge, box: backward_layout.Box) -> bool:
    """Whether any stretch of the arrow passes through the box (sampled along its length)."""
    for (x0, y0), (x1, y1) in itertools.pairwise(edge.points):
        for t in np.linspace(0, 1, 50):
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            if abs(x - box.x) < box.w / 2 and box.y < y < box.y + box.h:
                return True
    return False


@pytest.mark.parametrize("name", [*samples.ALL, "wide"])
def test_boxes_and_numbers_never_overlap_and_stay_in_their_panel(name):
    backward = wide() if name == "wide" else samples.ALL[name]()
    for panel in backward_layout.panels(backward):
        rects = [rect for b in panel.boxes for rect in b.rects()]  # a box, and the number beside it
        assert all(panel.left <= r[0] and r[2] <= panel.left + panel.width for r in rects)
        labels = [_rect(e.label) for e in panel.edges if e.label is not None]
        for a, b in itertools.combinations(rects + labels, 2):
            assert not backward_layout._overlap(a, b), (a, b)


def _rect(label: backward_layout.Label) -> tuple[float, float, float, float]:
    w = backward_layout.text_width(label.text, backward_layout.NUMBER_PT, False)
    return (label.x - w, label.y - 6, label.x, label.y + 6) if label.align == "right" else (
        label.x, label.y - 6, label.x + w, label.y + 6)


def wide() -> BackwardPass:
    """Twelve steps on one level, with torch's longest names and numbers that are not numbers."""
    middle = [Step("UnsafeViewBackward0", float("nan"), float("inf"), -1e-30, "d/du a long formula = longer",
                   "u = x = 0.5", next=(13,)) for _ in range(12)]
    steps = (Step("SumBackward0", 1.0, 1.0, 1.0, next=tuple(range(1, 13))), *middle, Step("AccumulateGrad", None,
                                                                                          None, None))
    return BackwardPass(0.5, steps, samples.sin_chain(), "x" * 900, diverges_at=99, reference_at=-1)


def test_odd_passes_draw_without_crashing():
    cycle = (Step("A", 1.0, 1.0, 1.0, next=(1, 7, -2)), Step("B", None, None, None, next=(0,)))
    dollars = (Step("A$B", 1.0, 1.0, 1.0, "$x^$", "$\\frac{$"),)  # no mathematics in text, nor TeX errors
    for backward in (wide(), BackwardPass(float("nan"), cycle, (), None), BackwardPass(0.5, (), (), None),
                     BackwardPass(0.5, dollars, dollars, "$\\undefined$", description="$")):
        assert pixels(backward_plot.picture(backward)).shape[1] == 1100


def test_forty_steps_are_condensed_around_the_difference():
    deep = samples.deep(40)
    steps, at, runs = backward_layout.condense(deep.student, deep.diverges_at)
    assert len(steps) < 10 and len(runs) == 1 and at == deep.diverges_at == 1
    assert steps[at] == deep.student[1]  # the highlighted step is kept as it was
    run = steps[next(iter(runs))]
    assert run.op.split()[1] == "35" and run.local == pytest.approx(np.prod([s.local for s in deep.student[3:38]]))
    assert steps[-1].op == "AccumulateGrad" and backward_layout.depths(steps) == list(range(len(steps)))


def test_an_empty_student_pass_shows_its_description():
    student, _ = backward_layout.panels(samples.forward_mode())
    assert student.boxes == () and student.edges == ()
    worded = {backward_plot.picture(BackwardPass(0.5, (), samples.sin_chain(), None, description=d))
              for d in ("forward-mode: one tangent through sin", "no backward step ran")}
    assert len(worded) == 2  # the words are drawn


def outcome(tmp_path: Path, backward: BackwardPass | None) -> Outcome:
    return Outcome(tmp_path / "alice.py", "0" * 64, "sin", "graded", (), 10.0, 10.0, 7, ("cpu",), {}, 0.1,
                   backward=backward)


def test_render_writes_atomically_and_only_when_there_is_a_pass(tmp_path):
    path = tmp_path / "out" / "backward.png"
    assert backward_plot.render(outcome(tmp_path, None), path) is None and not path.exists()
    assert backward_plot.render(outcome(tmp_path, samples.agree()), path) == path
    assert path.read_bytes() == backward_plot.picture(samples.agree())
    assert [p.name for p in path.parent.iterdir()] == ["backward.png"]  # no partial file left


def test_write_files_puts_it_beside_feedback_png_and_no_plot_skips_it(tmp_path):
    sin = exercise.load("sin")
    write_files(outcome(tmp_path, samples.divergent()), sin, tmp_path / "a")
    assert (tmp_path / "a" / "backward.png").is_file() and (tmp_path / "a" / "result.json").is_file()
    write_files(outcome(tmp_path, samples.divergent()), sin, tmp_path / "b", plot=False)
    assert not (tmp_path / "b" / "backward.png").exists()
    write_files(outcome(tmp_path, None), sin, tmp_path / "a")  # regraded: nothing recorded this time
    assert not (tmp_path / "a" / "backward.png").exists()


def test_gradescope_shows_it_after_the_feedback_plot(tmp_path):
    backward = backward_plot.render(outcome(tmp_path, samples.divergent()), tmp_path / "backward.png")
    feedback = tmp_path / "feedback.png"
    feedback.write_bytes(b"\x89PNG feedback")
    page = gradescope.results(outcome(tmp_path, samples.divergent()), feedback, backward)["output"]
    assert page.count("<img") == 2 and page.index("curve against") < page.index("backward pass beside")
    assert gradescope.results(outcome(tmp_path, None), feedback)["output"].count("<img") == 1


def test_a_picture_that_fails_to_draw_costs_the_picture_not_the_result(tmp_path, monkeypatch):
    def broken(outcome: Outcome, path: Path) -> Path:
        raise RuntimeError("matplotlib fell over on a submission's numbers")

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "backward.png").write_bytes(b"an older picture")
    monkeypatch.setattr(backward_plot, "render", broken)
    write_files(outcome(tmp_path, samples.divergent()), exercise.load("sin"), tmp_path / "a")
    assert (tmp_path / "a" / "result.json").is_file() and not (tmp_path / "a" / "backward.png").exists()
