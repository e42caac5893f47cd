"""Course machinery for maintainers and CI, not for lessons.

The notebook runner and benchmark (python -m utils.maintenance.notebook_runner) and the checks
on what notebooks say.
"""
