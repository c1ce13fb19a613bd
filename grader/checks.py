"""Observations -> findings. Pure functions: no I/O, no printing, no processes.

Each check returns a Finding whose `fraction` is the share of its points earned; score.py applies
the rubric. Per-case predicates are exported so the probe can shrink a failure to a minimal input.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable

import numpy as np

from grader import feedback
from grader.exercise import Exercise
from grader.formula import names as formula_names
from grader.grids import PLAIN_LAYOUTS, TRACKED_LAYOUTS, GridCase, round_to
from grader.observations import CaseResult, Observations, Returned
from grader.outcome import Finding

# Names in the op trace that show a value computed outside autograd of the primitive (besides the
# exercise's telltales: cos for sin(x)).
SUSPICIOUS_OPS = {"gradient": "torch.gradient (finite differences)", "numpy": "a conversion to numpy",
                  "tolist": "a conversion to Python lists", "item": "a conversion to Python numbers"}


# ---- per-case facts --------------------------------------------------------------------------------

def reference(case: GridCase, ex: Exercise) -> np.ndarray:
    """The expected values: float64 on the CPU from the exact inputs, rounded to the input's dtype."""
    return round_to(ex.reference(case.values), case.dtype)


def values_of(r: Returned, case: GridCase) -> np.ndarray | None:
    if r.values is None or r.values.size != case.values.size:
        return None
    return r.values.reshape(case.shape)


def within_tolerance(got: np.ndarray, case: GridCase, ex: Exercise) -> np.ndarray:
    """Per element: is the returned value within the dtype's tolerance of the reference? (NaN: no)"""
    want, tol = reference(case, ex), ex.tolerance(case.dtype)
    return np.abs(got - want) <= tol.atol + tol.rtol * np.abs(want)


def matches(r: Returned, case: GridCase, ex: Exercise) -> bool:
    got = values_of(r, case)
    return got is not None and bool(np.all(within_tolerance(got, case, ex)))


def contract_ok(r: Returned, case: GridCase) -> bool:
    return (r.kind == "tensor" and r.dtype == case.dtype and r.shape == case.shape
            and r.device == case.device)


def untouched(r: CaseResult) -> bool:
    return not (r.input_changed or r.requires_grad_changed or r.grad_left)


def repeat_agrees(r: CaseResult, ex: Exercise) -> bool:
    a, b = values_of(r.first, r.case), values_of(r.second, r.case)
    if a is None or b is None:
        same_error = r.first.error and r.second.error and r.first.error.type == r.second.error.type
        return bool(r.first.kind == r.second.kind and (r.first.kind != "error" or same_error))
    tol = ex.tolerance(r.case.dtype)
    same_nan = np.isnan(a) & np.isnan(b)  # the same NaN twice is consistent, if wrong
    return bool(np.all((np.abs(a - b) <= tol.atol + tol.rtol * np.abs(a)) | same_nan))


def case_predicates(ex: Exercise) -> dict[str, Callable[[CaseResult], bool]]:
    """check name -> 'this case fails it', for the checks whose failures are worth shrinking."""
    return {
        "correctness": lambda r: r.case.layout in PLAIN_LAYOUTS and not matches(r.first, r.case, ex),
        "tracked_inputs": lambda r: r.case.layout in TRACKED_LAYOUTS and not matches(r.first, r.case, ex),
        "contract": lambda r: r.first.kind != "error" and not contract_ok(r.first, r.case),
    }


SHRINK_LAYOUTS = {"correctness": PLAIN_LAYOUTS, "tracked_inputs": TRACKED_LAYOUTS,
                  "contract": PLAIN_LAYOUTS + TRACKED_LAYOUTS}


# ---- the checks ------------------------------------------------------------------------------------

def check_loads(obs: Observations, ex: Exercise) -> Finding:
    load = obs.load
    if load.ok:
        return Finding("loads", True, 1.0, f"Your file loads and defines {ex.function}(x).")
    if obs.ended is not None:
        hint = {"timeout": "Code at the top level runs on import: an endless loop or a long computation there?",
                "exit": "Do not call os._exit, sys.exit or exit() at the top level of your file.",
                "memory": "Code at the top level runs on import: do not build huge arrays or files there."}
        return Finding("loads", False, 0.0, f"Importing your file failed: Python {obs.ended.detail}.",
                       advice=hint.get(obs.ended.reason, "Run your file with python to see what happens."))
    if load.error is None and load.missing == "missing":
        close = difflib.get_close_matches(ex.function, load.names, n=1)
        found = f" It defines: {', '.join(load.names[:8])}." if load.names else ""
        advice = (f"Is {close[0]} meant to be {ex.function}? Rename it." if close
                  else f"Define def {ex.function}(x): … at the top level of your file.")
        return Finding("loads", False, 0.0, f"Your file does not define {ex.function}.{found}", advice=advice)
    if load.error is None:
        return Finding("loads", False, 0.0, f"{ex.function} in your file is a {load.missing}, not a function.",
                       advice=f"Define it with def {ex.function}(x): …")
    return _load_error_finding(load.error, ex)


def _load_error_finding(error: feedback.ErrorInfo, ex: Exercise) -> Finding:
    if error.syntax_line is not None:
        caret = " " * max(0, (error.syntax_offset or 1) - 1) + "^"
        return Finding("loads", False, 0.0, f"Your file has a syntax error on line {error.syntax_line}: "
                       f"{error.message.split('(')[0].strip()}.", example=f"    {error.syntax_code}\n    {caret}",
                       advice="Fix that line; `python your_file.py` shows the same message.")
    if error.type in ("ModuleNotFoundError", "ImportError"):
        return Finding("loads", False, 0.0, f"Importing your file failed: {error.headline()}.",
                       cause="The grader has torch, numpy and matplotlib, and nothing else (no d2l).",
                       advice="Import only those, and put plotting or demo code under "
                              "`if __name__ == \"__main__\":` so it does not run when graded.")
    where = f" at line {error.frames[-1].line} (`{error.frames[-1].code}`)" if error.frames else ""
    disk = feedback.explain_error(error)
    if disk.key == "disk":
        return Finding("loads", False, 0.0, f"Importing your file raised {error.headline()}{where}.",
                       cause=disk.text, advice=disk.advice)
    return Finding("loads", False, 0.0, f"Importing your file raised {error.headline()}{where}.",
                   cause="Code at the top level of a file runs when the file is imported.",
                   advice="Keep only imports and definitions at the top level; put the rest under "
                          "`if __name__ == \"__main__\":`.")


def check_correctness(obs: Observations, ex: Exercise) -> Finding:
    return _values_check("correctness", PLAIN_LAYOUTS, obs, ex,
                         passed_words=f"Your values match {ex.formula} on all {{n}} inputs we tried "
                                      "(0-d to 3-d, empty and non-contiguous tensors, "
                                      f"{'/'.join(sorted({c.dtype for c in obs.planned}))}).",
                         inputs="inputs")


def check_tracked_inputs(obs: Observations, ex: Exercise) -> Finding:
    return _values_check("tracked_inputs", TRACKED_LAYOUTS, obs, ex,
                         passed_words="It also works on all {n} inputs that already require grad or are "
                                      "results of other operations.",
                         inputs="inputs that require grad or are not leaves")


def _values_check(name: str, layouts: tuple[str, ...], obs: Observations, ex: Exercise,
                  passed_words: str, inputs: str) -> Finding:
    if not obs.load.ok:
        return _not_run(name)
    planned = [c for c in obs.planned if c.layout in layouts]
    results = [r for r in obs.cases if r.case.layout in layouts]
    good: list[CaseResult] = []
    bad: list[CaseResult] = []
    for r in results:
        (good if matches(r.first, r.case, ex) else bad).append(r)
    fraction = len(good) / len(planned) if planned else 0.0
    ended = _ended_words(obs) if len(results) < len(planned) else ""
    if planned and len(good) == len(planned):
        return Finding(name, True, 1.0, passed_words.format(n=len(planned)))
    summary = f"Fails on {len(planned) - len(good)} of {len(planned)} {inputs}."
    if not bad:
        return Finding(name, False, fraction, summary, example=ended, data=_counts(planned, good))
    example = obs.minimal.get(name) or min(bad, key=lambda r: r.case.size_key())
    cause = _cause(example, bad, ex)
    return Finding(name, False, fraction, summary, example=_example(example, ex) + (f"\n{ended}" if ended else ""),
                   cause=cause.text if cause else
                   f"Your values differ from {ex.formula} by more than the tolerance for {example.case.dtype} "
                   f"(atol {ex.tolerance(example.case.dtype).atol:g}, rtol {ex.tolerance(example.case.dtype).rtol:g}).",
                   advice=cause.advice if cause else f"Compare your function with {_by_hand(ex)} on that input.",
                   data={**_counts(planned, good), "cause": cause.key if cause else "values"})


def _example(r: CaseResult, ex: Exercise) -> str:
    got = values_of(r.first, r.case)
    if got is not None:
        return feedback.value_example(r.case, got, reference(r.case, ex), ex.formula, r.first.dtype)
    return f"On {feedback.input_words(r.case)}, your function " \
           f"{feedback.returned_words(r.first)}."


def _cause(example: CaseResult, bad: list[CaseResult], ex: Exercise) -> feedback.Cause | None:
    first = example.first
    if first.kind == "error" and first.error:
        cause = feedback.explain_error(first.error)
        if cause.key == "memory":
            limit = f"{ex.limits.memory_gib:g} GiB"
            return feedback.Cause("memory", f"Likely cause: the function needed more memory than the {limit} "
                                  "it may use.", cause.advice)
        return cause
    if first.kind == "none":
        if example.case.layout == "nonleaf":
            return feedback.Cause("none_nonleaf", "Likely cause: x.grad is None when x is not a leaf tensor, so "
                                  "backward() on it leaves nothing to return.",
                                  "Work on a fresh leaf: x = x.detach().clone().requires_grad_(True).")
        return feedback.Cause("none", "Likely cause: a missing `return`, or returning x.grad before "
                              "backward() filled it.", "End with `return x.grad` after y.sum().backward().")
    if first.kind in ("number", "ndarray", "other"):
        return feedback.Cause("type", "Your function must return a torch tensor.",
                              "Return x.grad itself (not .numpy(), .item() or .tolist()).")
    precision = feedback.precision_cause(example.case, first.dtype)
    if precision is not None:
        return precision
    xs, got, truth, function = [], [], [], []
    for r in bad:
        v = values_of(r.first, r.case)
        if v is not None and not np.iscomplexobj(v):
            xs.append(r.case.values.ravel())
            got.append(v.ravel())
            truth.append(ex.reference(r.case.values).ravel())
            function.append(ex.function_values(r.case.values).ravel() if ex.elementwise else xs[-1] * np.nan)
    if not xs:
        return None
    tol = max(ex.tolerance(r.case.dtype).atol for r in bad)
    return feedback.explain_values(np.concatenate(xs), np.concatenate(got), np.concatenate(truth),
                                   np.concatenate(function), ex, tol)


def check_autograd(obs: Observations, ex: Exercise) -> Finding:
    """The canary: under a secret derivative for the primitive, values that came through autograd
    change with it. For any incoming gradient g the student's graph applies, the plain call gives
    g·derivative(x) and the canary call g·secret(x), so canary·derivative == plain·secret."""
    if not obs.load.ok:
        return _not_run("autograd")
    verdicts = [(r, _canary_verdict(r, obs, ex)) for r in obs.cases]
    judged = [(r, v) for r, v in verdicts if v != "no_data"]
    counts = Counter(v for _, v in judged)
    evidence = _evidence(obs, ex)
    data = {"verdicts": dict(counts), "bypassed": counts["bypassed"] > 0}
    if not judged:
        return Finding("autograd", False, 0.0, "Not checked: no values came back from your function to check.",
                       evidence=evidence, data=data)
    if counts["autograd"] == len(judged):
        return Finding("autograd", True, 1.0, f"Your values came through autograd of {_watched(ex)}.",
                       example=f"We swapped the derivative autograd uses for {ex.primitive} with a secret one; "
                               f"your answer followed it on all {len(judged)} inputs we checked.", data=data)
    example = next(r for r, v in judged if v != "autograd")
    secret_at = _secret(example.case, obs, ex)
    canary = values_of(example.canary, example.case)
    assert canary is not None and secret_at is not None
    i = int(np.argmax(np.abs(canary - secret_at)))
    x = example.case.values.ravel()[i]
    dtype = example.case.dtype
    shown = (f"At x = {feedback.number(x, dtype)} ({feedback.describe_tensor(example.case)}), with {ex.primitive}'s "
             f"derivative swapped for a secret one, autograd would have given "
             f"{feedback.number(secret_at.ravel()[i], dtype)}; "
             f"your function returned {feedback.number(canary.ravel()[i], example.canary.dtype)}.")
    if counts["bypassed"]:
        plain_is_truth = matches(example.first, example.case, ex)
        what = (f"your answer stayed {ex.formula} when autograd's changed, so it was computed some other way "
                f"({ex.formula} written out, a shifted {ex.primitive}, finite differences, numpy, a series, or a "
                "hand-written backward)." if plain_is_truth else
                "your answer did not change when autograd's did, so what you return is not the gradient autograd "
                "computed.")
        policy = (" The exercise is to use autograd, so this submission scores 0 in total."
                  if ex.zero_total_unless_autograd else "")
        return Finding("autograd", False, 0.0,
                       f"Your values did not come from autograd on {counts['bypassed']} of {len(judged)} inputs."
                       + policy,
                       example=shown, cause=f"Likely cause: {what}",
                       advice=f"Compute y = {_in_torch(ex.value)} on a tensor x with requires_grad=True, call "
                              f"y.sum().backward(), and return x.grad. Do not write {ex.formula}.",
                       evidence=evidence, data=data)
    return Finding("autograd", False, 0.0,
                   f"Your values only partly follow autograd of {ex.primitive} ({counts['autograd']} of "
                   f"{len(judged)} inputs).", example=shown,
                   cause="Likely cause: the answer mixes autograd's gradient with something computed another way.",
                   advice=f"Return exactly the gradient of {ex.primitive}(x), as autograd computes it.",
                   evidence=evidence, data=data)


def _watched(ex: Exercise) -> str:
    """The op the canary watched, as a student wrote it: 'sin(x)', or 'cos in cos(x**2)'."""
    call = f"{ex.primitive}(x)"
    return call if ex.value == call else f"{ex.primitive} in {ex.value}"


def _by_hand(ex: Exercise) -> str:
    """What to compare a wrong value with: torch.cos for sin, else the formula worked out."""
    called = formula_names(ex.derivative)
    if ex.gradient == f"d_{ex.primitive}(x)" and len(called) == 1:
        return f"torch.{next(iter(called))}"
    return f"{ex.formula}, worked out by hand"


def _in_torch(expression: str) -> str:
    """An exercise's function as torch code: 'torch.log(x**2) * torch.sin(x) + 1 / x'."""
    import re

    return re.sub(r"\b(sin|cos|exp|log|sqrt|abs|tanh|sum)\(", r"torch.\1(", expression)


def _secret(case: GridCase, obs: Observations, ex: Exercise) -> np.ndarray | None:
    if obs.secret is None:
        return None
    return round_to(ex.reference(case.values, obs.secret), case.dtype)


def _canary_verdict(r: CaseResult, obs: Observations, ex: Exercise) -> str:
    plain, canary, secret = values_of(r.first, r.case), values_of(r.canary, r.case), _secret(r.case, obs, ex)
    if plain is None or canary is None or secret is None or np.iscomplexobj(plain) or np.iscomplexobj(canary):
        return "no_data"
    truth = ex.reference(r.case.values)
    # Judge at the coarser of the input's and the returned dtype: a float64 input answered in
    # float32 is a contract fault, not evidence against autograd.
    tol = max((ex.tolerance(d) for d in (r.case.dtype, r.first.dtype, r.canary.dtype) if d in ex.tolerances),
              key=lambda t: t.atol)
    atol, rtol = tol.atol * 8, tol.rtol * 8
    # Points where some value came back at all (the secret differs from the truth everywhere).
    telling = (np.abs(secret - truth) > 0.05) & ((np.abs(plain) > 1e-3) | (np.abs(canary) > 1e-3))
    telling &= np.isfinite(plain) & np.isfinite(canary)
    if not telling.any():
        return "no_data"
    p, c, s, t = plain[telling], canary[telling], secret[telling], truth[telling]
    # Through autograd, a mistake either scales the gradient (2·sin, y.backward(x)): canary·truth
    # == plain·secret; or adds a term the canary does not touch (a dropped + 1/x): the answer moves
    # by exactly as much as the reference does.
    if np.all(np.abs(c * t - p * s) <= atol + rtol * (np.abs(c * t) + np.abs(p * s))):
        return "autograd"
    if np.all(np.abs((c - p) - (s - t)) <= atol + rtol * (np.abs(c - p) + np.abs(s - t))):
        return "autograd"
    unchanged = np.abs(c - p) <= atol + rtol * np.abs(p)
    if unchanged.all():
        return "bypassed"
    # Every value moved with the secret derivative, just not as the reference's: autograd of some
    # other function (correctness says which values are wrong). Moving a value by the canary's
    # size while staying within tolerance of the truth is impossible, so this is no loophole.
    if not unchanged.any():
        return "autograd"
    return "mixed"


def _evidence(obs: Observations, ex: Exercise) -> tuple[str, ...]:
    suspicious = set(SUSPICIOUS_OPS) | ex.telltales | {f"{name}_" for name in ex.telltales}
    calls: Counter[str] = Counter()
    for r in obs.cases:
        for name, count in r.trace.items():
            if name.rsplit(".", 1)[-1] in suspicious:
                calls[name] += count
    lines = []
    if calls:
        listed = ", ".join(f"{name} (×{n})" for name, n in calls.most_common(4))
        lines.append(f"Evidence: outside autograd, your code called {listed}.")
    for hit in obs.source_hits[:3]:
        lines.append(f"Evidence: line {hit.line} {hit.name and 'calls ' + hit.name}: `{hit.code}`")
    return tuple(lines)


def check_contract(obs: Observations, ex: Exercise) -> Finding:
    """Every call must return a tensor like x; a call that raised did not."""
    if not obs.load.ok:
        return _not_run("contract")
    if not any(r.first.kind != "error" for r in obs.cases):
        return Finding("contract", False, 0.0, "Not checked: your function never returned a value.")
    good = [r for r in obs.cases if contract_ok(r.first, r.case)]
    if len(good) == len(obs.cases):
        return Finding("contract", True, 1.0, "It returns a tensor of the input's shape, dtype and device.")
    bad = [r for r in obs.cases if r.first.kind != "error" and not contract_ok(r.first, r.case)]
    summary = f"Does not return a tensor like x on {len(obs.cases) - len(good)} of {len(obs.cases)} inputs."
    if not bad:
        return Finding("contract", False, len(good) / len(obs.cases), summary,
                       cause="Those calls raised an exception (see correctness).")
    r = obs.minimal.get("contract") or min(bad, key=lambda r: r.case.size_key())
    expected = f"a {r.case.dtype} tensor of shape {r.case.shape} on {r.case.device}"
    precision = feedback.precision_cause(r.case, r.first.dtype) if r.first.kind == "tensor" else None
    cause = precision or _contract_cause(r, ex)
    return Finding("contract", False, len(good) / len(obs.cases), summary,
                   example=f"For {feedback.input_words(r.case)}, your "
                           f"function {feedback.returned_words(r.first)}; expected {expected}.",
                   cause=cause.text, advice=cause.advice, data={"cause": cause.key})


def _contract_cause(r: CaseResult, ex: Exercise) -> feedback.Cause:
    got = r.first
    if got.kind != "tensor":
        found = _cause(r, [r], ex)
        assert found is not None  # _cause always explains a non-tensor result
        return found
    if got.shape != r.case.shape:
        return feedback.Cause("shape", "Likely cause: the result was reshaped, summed, or built anew.",
                              "Return the gradient with x's shape: x.grad has it already.")
    if got.device != r.case.device:
        return feedback.Cause("device", f"Likely cause: a tensor was created on {got.device}.",
                              "Create helper tensors on x.device, or better, only use x.grad.")
    return feedback.Cause("dtype", f"Likely cause: the result was converted to {got.dtype}.",
                          "Return the gradient in x's dtype.")


def check_input_untouched(obs: Observations, ex: Exercise) -> Finding:
    if not obs.load.ok:
        return _not_run("input_untouched")
    if not any(r.first.kind != "error" for r in obs.cases):
        return Finding("input_untouched", False, 0.0, "Not checked: your function never returned a value.")
    bad = [r for r in obs.cases if not untouched(r)]
    if not bad:
        return Finding("input_untouched", True, 1.0, "It leaves the caller's tensor as it was.")
    r = min(bad, key=lambda r: r.case.size_key())
    what = ("changed the values of x in place" if r.input_changed else
            "turned on requires_grad of the caller's tensor x" if r.requires_grad_changed else
            "left a gradient in the caller's x.grad")
    summary = f"It changes the caller's tensor on {len(bad)} of {len(obs.cases)} inputs."
    return Finding("input_untouched", False, 0.0, summary,
                   example=f"After a call with {feedback.input_words(r.case)}, "
                           f"your function had {what}.",
                   cause="A caller's tensor is not yours to change: the next call (or the caller's own autograd) "
                         "then sees a different x.",
                   advice="Work on a copy: x = x.detach().clone().requires_grad_(True).")


def check_repeatable(obs: Observations, ex: Exercise) -> Finding:
    if not obs.load.ok:
        return _not_run("repeatable")
    judged = [r for r in obs.cases if values_of(r.first, r.case) is not None or values_of(r.second, r.case) is not None]
    if not judged:
        return Finding("repeatable", False, 0.0, "Not checked: your function never returned values to compare.")
    bad = [r for r in judged if not repeat_agrees(r, ex)]
    if not bad:
        return Finding("repeatable", True, 1.0, "Calling it twice on the same tensor gives the same answer.")
    r = min(bad, key=lambda r: r.case.size_key())
    a, b = values_of(r.first, r.case), values_of(r.second, r.case)
    if a is not None and b is not None and a.size:
        i = int(np.argmax(np.abs(a - b)))
        first, second = (feedback.number(v.ravel()[i], dt) for v, dt in ((a, r.first.dtype), (b, r.second.dtype)))
        shown = f"first {first}, then {second}"
        doubled = bool(np.allclose(b, 2 * a, rtol=1e-4, atol=1e-6))
    else:
        shown = f"first it {feedback.returned_words(r.first)}, then it {feedback.returned_words(r.second)}"
        doubled = False
    cause = ("Likely cause: gradients accumulate: each backward() adds to x.grad, so the second call returns "
             "twice the derivative." if doubled else "Likely cause: your function keeps state between calls.")
    return Finding("repeatable", False, 0.0,
                   f"Two calls on the same tensor disagree on {len(bad)} of {len(judged)} inputs.",
                   example=f"Called twice with {feedback.input_words(r.case)}: {shown}.",
                   cause=cause,
                   advice="Work on a fresh copy in every call: x = x.detach().clone().requires_grad_(True).",
                   data={"cause": "accumulation" if doubled else "state"})


def _not_run(name: str) -> Finding:
    return Finding(name, False, 0.0, "Not run: your file did not load.")


def _ended_words(obs: Observations) -> str:
    if obs.ended is None:
        return ""
    on = f", on {feedback.input_words(obs.ended_case)}" if obs.ended_case else ""
    hint = {
        "timeout": "Look for a loop that never ends or a very slow computation.",
        "crash": "Something in native code failed hard (a segfault or abort).",
        "exit": "Do not call os._exit, sys.exit or exit() in your function.",
        "memory": "Work on x itself: do not build tensors much larger than x, or keep data in files.",
        "protocol": "",
    }.get(obs.ended.reason, "")
    return f"Grading stopped early: your code {obs.ended.detail}{on}. {hint}".strip()


def _counts(planned: list[GridCase], good: list[CaseResult]) -> dict[str, int]:
    return {"passed_inputs": len(good), "total_inputs": len(planned)}


ALL: tuple[Callable[[Observations, Exercise], Finding], ...] = (
    check_loads,
    check_correctness,
    check_autograd,
    check_contract,
    check_tracked_inputs,
    check_input_untouched,
    check_repeatable,
)
