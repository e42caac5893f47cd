import matplotlib as mpl
import seaborn as sns

from utils.core.plotting import PALETTE, set_theme


def test_theme_sets_style_palette_and_size():
    mpl.rcParams["figure.figsize"] = (1, 1)
    set_theme()
    assert tuple(mpl.rcParams["figure.figsize"]) == (7, 4)
    assert mpl.rcParams["axes.grid"]
    assert sns.color_palette()[:3] == sns.color_palette(PALETTE)[:3]
