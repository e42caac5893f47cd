"""The course's one plot style, set once per notebook by ``runtime.setup_notebook``.

Example:
    >>> from utils.core.plotting import set_theme
    >>> set_theme()
"""

import matplotlib as mpl
import seaborn as sns

PALETTE = "colorblind"


def set_theme() -> None:
    """Seaborn's whitegrid with a colour-blind palette and figures sized for a notebook."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    mpl.rcParams.update({"figure.figsize": (7, 4), "figure.dpi": 90, "axes.titleweight": "bold"})
