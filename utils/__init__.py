"""Helpers shared by the course notebooks.

One module per concern; importing the package has no side effects:

- ``utils.runtime``: fast mode, seeding, device choice, Colab setup, version report, results.
- ``utils.models``: ``load_model`` for the bundled SmolLM2, a local folder or a hub id.
- ``utils.plotting``: the course's one seaborn theme.
- ``utils.exercises``: self-checks for the exercises.
- ``utils.notebook_runner``: runs notebooks in lesson or fast mode, measures them, keeps them tidy.
- ``utils.formats``, ``utils.dataset_stats``: instruction-data formats, converters, validation,
  token statistics (``python -m utils.formats``).
- ``utils.data_quality``, ``utils.task_mix``: noisy variants of instruction data and the filters
  that catch them (duplicates, format, length, perplexity), leakage-free validation splits; a mix
  of small tasks (orders, arithmetic, sorting) with their checkers.
- ``utils.metrics``, ``utils.ratings``, ``utils.calibration``: accuracy, F1 and bootstrap
  intervals; Elo and Bradley-Terry; calibration error and temperature scaling.
- ``utils.multiple_choice``: a course-built four-option question set, scored by log-likelihood
  the MMLU way (letters) and the ARC/HellaSwag way (option text).
- ``utils.drafts``, ``utils.draft_simulation``, ``utils.draft_baselines``: 17lands draft files
  (``python -m utils.drafts convert``), simulated drafts of fictional sets, pick baselines.
"""

__version__ = "0.1.0"
