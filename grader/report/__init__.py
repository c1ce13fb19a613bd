"""Renderers of an Outcome: the only code that prints or writes files. Each knows nothing of the
others, and none of them decides anything about the submission."""
