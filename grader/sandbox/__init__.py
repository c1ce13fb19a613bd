"""The only code that starts processes or loads student code.

The parent side (session.py) never imports torch or the student's file; the child side (child.py)
runs in its own process. They talk through protocol.py: JSON headers and raw array bytes.
"""
