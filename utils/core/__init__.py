"""Course machinery every notebook uses.

Runtime set-up and results, the plotting theme, model loading, exercise checks, the one JSONL
reader and writer, model modes, shared input checks, and the parts every widget panel is built
from (busy state, errors shown in the panel, a layout that fits a Colab cell).
"""
