"""Helpers shared by the course notebooks.

One module per concern; importing the package has no side effects:

- ``utils.runtime``: fast mode, seeding, device choice, Colab setup, version report.
- ``utils.models``: ``load_model`` for the bundled SmolLM2, a local folder or a hub id.
- ``utils.plotting``: the course's one seaborn theme.
- ``utils.notebook_runner``: runs notebooks in lesson or fast mode, measures them, keeps them tidy.
"""

__version__ = "0.1.0"
