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
- ``utils.draft_prompts``: pick records as chat prompts in two formats, likelihood scoring of legal picks.
- ``utils.sft_data``, ``utils.preference_data``, ``utils.corpus``: the course's generated SFT task,
  arithmetic preference pairs with their code judge, and the pretraining corpus.
- ``utils.sampling``, ``utils.sampling_explorer``: sampling processors, an API-shaped
  ``chat_completion``, and the slider explorer of notebook 06.
- ``utils.lora_math``: LoRA's trainable-parameter formula and the memory arithmetic of training.
- ``utils.serving``, ``utils.tracking``: ``transformers serve`` started and stopped on loopback;
  runs logged to and read back from a local MLflow store.
"""

__version__ = "0.1.0"
