"""Make a class of generated submissions to try batch grading as a TA would.

Each student gets one of the bundled samples (honest, mistakes, cheats, broken) or a sandbox test
fixture (crash, hang, print flood), half as `<id>.py` and half as `<id>/<any name>.py`; some
copies are disguised by renamed comments and blank lines, so the summary's groups of identical
submissions have something to find. A few folders hold no file or two files. Deterministic for a
given --seed. Usage: python bench/make_class.py OUT [--students 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RARE = ["segfault.py", "sleeps.py", "print_flood.py", "memory_bomb.py"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    samples = sorted((ROOT / "submissions").glob("*.py"))
    rare = [ROOT / "tests" / "fixtures" / name for name in RARE]
    args.out.mkdir(parents=True, exist_ok=False)
    for number in range(args.students):
        student = f"s{number:04d}"
        source = rare[number // 50 % len(rare)] if number % 50 == 49 else rng.choice(samples)
        text = source.read_text()
        if rng.random() < 0.3:  # the same answer with its comments and spacing changed
            text = "# my homework\n\n" + text.replace("\n\n", "\n\n\n")
        if number % 97 == 96:
            (args.out / student).mkdir()  # a folder with no .py at all
            continue
        if number % 2:
            folder = args.out / student
            folder.mkdir()
            (folder / "derivative.py").write_text(text)
            if number % 89 == 88:
                shutil.copy(samples[0], folder / "old_attempt.py")  # two files: which one counts?
        else:
            (args.out / f"{student}.py").write_text(text)
    print(f"{args.students} students in {args.out}")


if __name__ == "__main__":
    main()
