"""Course machinery every notebook uses.

Runtime set-up and results, the plotting theme, model loading, exercise checks, the one JSONL
reader and writer, model modes and shared input checks.
"""
