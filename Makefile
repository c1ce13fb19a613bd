# The two commands of the README. Both set up the pinned environment first (once).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# Grade every bundled sample (a batch: results, gradebook.csv, summary), then show one self-check (in
# grader-feedback/, apart from the batch's folder: ux135's second `make demo` took it for a student who left).
demo: $(BIN)/.installed
	$(BIN)/grader batch submissions --out $(OUT) -j 2
	$(BIN)/grader check submissions/mistake_caller_requires_grad.py --out grader-feedback

lint: $(BIN)/.installed
	$(BIN)/ruff check grader tests bench
	$(BIN)/mypy

# Lint, type-check, then every test, slow sandbox tests included, on both cores.
test: lint
	$(BIN)/pytest -n 2 -q

bench: $(BIN)/.installed
	$(BIN)/python bench/check_speed.py

clean:
	rm -rf $(VENV) $(OUT) grader-feedback
