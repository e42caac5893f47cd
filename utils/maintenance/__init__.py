"""Course machinery for maintainers and CI, not for lessons.

The notebook runner and benchmark (python -m utils.maintenance.notebook_runner), the checks on
what notebooks say (prose_check) and the generated map of utils/README.md (utils_map).
"""
