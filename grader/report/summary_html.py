"""summary.html: a TA's view of a batch, one static page with no server and nothing fetched.

The class at a glance (a few numbers, the score histogram, each check's pass rate as inline SVG),
the students to look at, the roster (sortable by any column with a small inline script; with
JavaScript off it is a plain table sorted by student), verdicts, hints and identical groups. Links
are relative (OUT/<student>/feedback.png), so the folder can be moved or zipped. Every piece of
student text (ids come from file names) is escaped where it is written, and quoted in links.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from grader.report.summary import (
    LOOK_WHY,
    VERDICTS,
    Flag,
    Student,
    Summary,
    also_honest,
    bins,
    graded_apart,
    more,
    stopped,
)

_ORDER = {key: i for i, (key, _) in enumerate(VERDICTS)}  # verdicts sort by this (worst first)
_WORDS = dict(VERDICTS)
_LINK_TEXT = {"feedback.png": "feedback", "backward.png": "backward pass", "feedback.txt": "words",
              "result.json": "result.json"}


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _href(student: str, name: str) -> str:
    return e(f"{quote(student, safe='')}/{name}")


def html_page(summary: Summary) -> str:
    rows = {s.student: i for i, s in enumerate(summary.roster)}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Batch summary: {e(summary.exercise)}</title>
<style>{STYLE}</style></head><body>
<h1>Batch summary: <span class="ex">{e(summary.exercise)}</span></h1>
{_stopped(summary)}
{_tiles(summary)}
{_elsewhere(summary)}
<div class="charts">
<section><h2>Scores</h2>{_histogram(summary)}</section>
<section><h2>Each check</h2><p class="why">Students who passed it, of those graded.</p>{_check_chart(summary)}</section>
</div>
{_needs(summary)}
<h2 id="look">Look at these</h2><p class="why">{e(LOOK_WHY)}</p>
{_look(summary.look, rows)}
<h2 id="roster">Roster</h2><p class="why">Click a column's name to sort by it; click again to reverse.</p>
{_roster(summary.roster)}
<h2>Verdicts</h2>{_verdict_table(summary)}
<h2>Most common hints</h2>{_hint_table(summary)}
<h2>How backward passes differed from the reference's</h2>{_pass_table(summary)}
<h2>Identical submissions</h2><p class="why">The same code once comments and whitespace are dropped.</p>
{_identical(summary.identical, rows)}
<script>{SCRIPT}</script>
</body></html>
"""


def _stopped(summary: Summary) -> str:
    line = stopped(summary)
    return f'<p class="why"><strong>{e(line)}</strong></p>' if line else ""


def _elsewhere(summary: Summary) -> str:
    """Students whose values are another exercise's answer: the batch may have been run with the wrong
    --exercise (ux111: a class of cos_square files graded as sin, every honest student a suspect)."""
    n = len(summary.roster)
    return "".join(f'<p class="why"><strong>{count} of {n} students\' files are for another exercise, {e(name)} '
                   f'(its function, or its answer): was <code>--exercise</code> right?</strong></p>'
                   for name, count in summary.elsewhere)


def _tiles(summary: Summary) -> str:
    scores = sorted(summary.scores)
    n = len(scores)
    mean = sum(scores) / n if n else 0.0
    median = (scores[(n - 1) // 2] + scores[n // 2]) / 2 if n else 0.0
    graded = graded_apart(summary)
    apart = f" ({graded[0]} with a file run: {graded[1]:.2f})" if graded else ""
    tiles = [summary.headcount(),
             (f"{mean:.2f}", f"mean score of {summary.max_score:g}{summary.counted()}{apart}") if n else
             ("–", "no score yet"),
             (f"{median:g}", "median score") if n else ("–", "no median yet"),  # (rv41: "0 median score")
             (str(summary.verdicts["full"]), "full marks"),
             (str(len(summary.look)), "to look at")]
    return '<div class="tiles">' + "".join(f'<div class="tile"><b>{e(v)}</b><span>{e(label)}</span></div>'
                                           for v, label in tiles) + "</div>"


def _histogram(summary: Summary) -> str:
    counts = bins(summary)
    widest = max((c for _, c in counts), default=1) or 1
    bars = "".join(
        f'<g><rect x="{30 + i * 48}" y="{190 - 160 * c / widest:.1f}" width="42" height="{160 * c / widest:.1f}" '
        f'rx="2" fill="#e6550d"/><text x="{51 + i * 48}" y="{184 - 160 * c / widest:.1f}" '
        f'text-anchor="middle">{c}</text><text x="{51 + i * 48}" y="208" text-anchor="middle" '
        f'font-size="10">{e(label)}</text></g>' for i, (label, c) in enumerate(counts))
    return (f'<svg width="520" height="220" role="img" aria-label="score histogram">'
            f'<line x1="26" y1="190" x2="514" y2="190" stroke="#999"/>{bars}</svg>')


def _check_chart(summary: Summary) -> str:
    """One bar per check: the share of graded students who passed it."""
    height = 26 * len(summary.check_rates) + 6
    bars = []
    for i, (name, passed, seen) in enumerate(summary.check_rates):
        share = passed / seen if seen else 0.0
        y = 4 + 26 * i
        colour = "#2da44e" if share >= 0.8 else "#d4a72c" if share >= 0.5 else "#cf222e"
        bars.append(f'<g class="rate" data-check="{e(name)}"><text x="118" y="{y + 14}" text-anchor="end">'
                    f'{e(name)}</text><rect x="126" y="{y}" width="220" height="18" rx="3" fill="#eaeef2"/>'
                    f'<rect x="126" y="{y}" width="{220 * share:.1f}" height="18" rx="3" fill="{colour}"/>'
                    f'<text x="354" y="{y + 14}">{passed} of {seen} ({100 * share:.0f}%)</text></g>')
    return (f'<svg width="480" height="{height}" role="img" aria-label="pass rate of each check">'
            f'{"".join(bars)}</svg>')


def _badge(verdict: str) -> str:
    words = _WORDS.get(verdict, verdict)
    return f'<span class="badge v-{e(verdict)}" title="{e(words)}">{e(words.split(" (")[0])}</span>'


def _student_link(student: str, rows: dict[str, int]) -> str:
    return f'<a href="#s-{rows[student]}">{e(student)}</a>' if student in rows else e(student)


def _needs(summary: Summary) -> str:
    """What the batch said needs the TA, as on stderr (none: nothing)."""
    if not summary.needs:
        return ""
    items = "".join(f"<li>{e(line)}</li>" for line in summary.needs)
    return f'<h2 id="needs">Needs you</h2><ul class="needs">{items}</ul>'


def _look(flags: list[Flag], rows: dict[str, int]) -> str:
    if not flags:
        # (ux137: "recorded nothing" was read beside a result whose sandbox had recorded a process and a file written)
        # (rv49: "every graded submission showed autograd" was read beside an accumulating gradient's wrong values)
        return ("<p>Nobody: wherever autograd was not shown, the values were a slip's (see the verdicts), not a "
                "formula's, and the sandbox recorded no reach towards the canary's secret.</p>")
    items = []
    for flag in flags:
        why = [f'<li><span class="badge v-unproven">autograd not shown</span> {e(flag.unproven)}</li>'] \
            if flag.unproven else []
        why += [f'<li><span class="badge v-unproven">part by hand</span> {e(flag.by_hand)}</li>'] \
            if flag.by_hand else []
        why += [f'<li><span class="badge v-sandbox">sandbox recorded</span> <code>{e(event)}</code>'
                f'{e(also_honest(event))}</li>' for event in flag.events]
        items.append(f'<tr><td>{_student_link(flag.student, rows)}</td><td><ul>{"".join(why)}</ul></td></tr>')
    head = "<thead><tr><th>student</th><th>why</th></tr></thead>"
    return f'<table class="look">{head}<tbody>{"".join(items)}</tbody></table>'


def _roster(roster: list[Student]) -> str:
    head = ('<thead><tr><th data-type="number" aria-sort="ascending">student</th><th data-type="number">score</th>'
            '<th>status</th><th data-type="number">verdict</th><th data-type="number">files</th></tr></thead>')
    body = "".join(_roster_row(i, s) for i, s in enumerate(roster))
    return f'<table class="roster" id="roster-table">{head}<tbody>{body}</tbody></table>'


def _roster_row(i: int, s: Student) -> str:
    share = min(1.0, s.score / s.max_score) if s.max_score else 0.0
    note = f'<div class="note">{e(s.note)}</div>' if s.note else ""
    links = " ".join(f'<a href="{_href(s.student, name)}">{_LINK_TEXT[name]}</a>' for name in s.files) or "—"
    return (f'<tr id="s-{i}" data-order="{i}"><td data-sort="{i}">{e(s.student)}</td>'
            f'<td data-sort="{s.score:g}" class="score"><span class="track"><span class="bar" '
            f'style="width:{100 * share:.0f}%"></span></span>'
            f'{f"{s.score:g}" if s.scored else "—"} <small>/ {s.max_score:g}</small></td><td>{e(s.status)}</td>'
            f'<td data-sort="{_ORDER.get(s.verdict, len(_ORDER))}">{_badge(s.verdict)}{note}</td>'
            f'<td data-sort="{len(s.files)}" class="files">{links}</td></tr>')


def _verdict_table(summary: Summary) -> str:
    # (the words, and the key gradebook.csv's verdict column has: ux120 read each label twice, and
    # could not tell which words a key stood for)
    rows = "".join(f"<tr><td>{_badge(key)} {e(words.partition(' (')[2].rstrip(')'))}</td><td><code>{e(key)}</code>"
                   f"</td><td>{summary.verdicts[key]}</td></tr>" for key, words in VERDICTS if summary.verdicts[key])
    return ('<table class="counts"><tr><th>verdict</th><th>in gradebook.csv</th>'
            f'<th>{summary.counting}</th></tr>'
            f"{rows}</table>")


def _pass_table(summary: Summary) -> str:
    rows = "".join(f"<tr><td>{e(g)}</td><td>{c}</td></tr>" for g, c in summary.passes) or \
        '<tr><td colspan="2">None: every recorded pass agreed with the reference\'s.</td></tr>'
    if summary.more_passes:
        rows += f'<tr><td colspan="2">{e(more(summary.more_passes, "difference"))}</td></tr>'
    return f'<table class="counts"><tr><th>difference</th><th>{summary.counting}</th></tr>{rows}</table>'


def _hint_table(summary: Summary) -> str:
    rows = "".join(f"<tr><td>{e(h)}</td><td>{c}</td></tr>" for h, c in summary.hints) or \
        '<tr><td colspan="2">None.</td></tr>'
    if summary.more_hints:
        rows += f'<tr><td colspan="2">{e(more(summary.more_hints, "hint"))}</td></tr>'
    return f'<table class="counts"><tr><th>hint</th><th>{summary.counting}</th></tr>{rows}</table>'


def _identical(groups: list[list[str]], rows: dict[str, int]) -> str:
    items = "".join(f"<li>{', '.join(_student_link(s, rows) for s in g)}</li>" for g in groups)
    return f'<ul class="groups">{items}</ul>' if items else "<p>None: every file differs in its code.</p>"


STYLE = """
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1080px; margin: 1.5em auto;
       padding: 0 1em; color: #1f2328; }
h1 { font-size: 1.6em; margin: 0 0 .6em; } h1 .ex { color: #e6550d; }
h2 { font-size: 1.15em; margin: 1.4em 0 .3em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
p.why { color: #57606a; margin: 0 0 .6em; font-size: .93em; }
.tiles { display: flex; gap: .8em; flex-wrap: wrap; }
.tile { border: 1px solid #d0d7de; border-radius: 8px; padding: .5em 1em; min-width: 120px; background: #f6f8fa; }
.tile b { display: block; font-size: 1.6em; line-height: 1.2; } .tile span { color: #57606a; font-size: .9em; }
.charts { display: flex; gap: 2.5em; flex-wrap: wrap; align-items: flex-start; }
.charts section { flex: 0 1 auto; }
svg text { font-size: 12px; fill: #1f2328; }
table { border-collapse: collapse; margin: .3em 0 1em; }
td, th { border-bottom: 1px solid #d0d7de; padding: .35em .7em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
table.roster { width: 100%; } table.roster tbody tr:nth-child(even) { background: #fafbfc; }
table.roster tbody tr:target { background: #fff8c5; }
th button { all: unset; cursor: pointer; } th button:focus-visible { outline: 2px solid #0969da; }
th button::after { content: " \\2195"; color: #8c959f; }
th[aria-sort=ascending] button::after { content: " \\25B2"; color: #1f2328; }
th[aria-sort=descending] button::after { content: " \\25BC"; color: #1f2328; }
td.score { white-space: nowrap; } td.score small { color: #57606a; }
.track { display: inline-block; width: 60px; height: 8px; background: #eaeef2; border-radius: 2px;
         margin-right: .6em; vertical-align: middle; } .bar { display: block; height: 8px; background: #e6550d;
         border-radius: 2px; }
.note { color: #57606a; font-size: .88em; max-width: 28em; } td.files { white-space: nowrap; }
.badge { display: inline-block; border-radius: 10px; padding: 0 .6em; font-size: .85em; white-space: nowrap;
         color: #fff; background: #57606a; }
.v-full { background: #1a7f37; } .v-partial, .v-empty { background: #9a6700; }
.v-wrong, .v-unjudged { background: #bc4c00; } .v-other { background: #57606a; }
.v-unproven { background: #a40e26; } .v-sandbox { background: #8250df; }
.v-load_error, .v-timeout, .v-crash, .v-memory { background: #6639ba; }
table.look ul { list-style: none; margin: 0; padding: 0; } table.look li { margin: .15em 0; }
code { font-size: .9em; background: #f6f8fa; padding: 0 .3em; border-radius: 3px; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
"""

# Sorts a table whose header cells it turns into buttons: by a cell's data-sort when it has one
# (numbers where the header says data-type="number"), else by its text; ties keep the student order.
SCRIPT = """
(function () {
  'use strict';
  function key(row, col, numeric) {
    var cell = row.cells[col], v = cell.getAttribute('data-sort');
    if (v === null) v = cell.textContent.trim().toLowerCase();
    return numeric ? parseFloat(v) : v;
  }
  function sortBy(table, col, th) {
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    var numeric = th.getAttribute('data-type') === 'number';
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, col, numeric), y = key(b, col, numeric);
      var c = numeric ? x - y : x.localeCompare(y);
      return (ascending ? c : -c) || a.getAttribute('data-order') - b.getAttribute('data-order');
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.roster'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var button = document.createElement('button');
      button.type = 'button';
      button.textContent = th.textContent;
      th.textContent = '';
      th.appendChild(button);
      button.addEventListener('click', function () { sortBy(table, col, th); });
    });
  });
})();
"""
