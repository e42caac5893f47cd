"""Helpers shared by the course notebooks, grouped by concern in course order.

Importing the package has no side effects. ``utils/README.md`` maps each notebook to the modules
it imports and each module to what it holds.

- ``utils.core``: runtime set-up and results, plotting, model loading, exercises, JSONL files,
  model modes, input checks.
- ``utils.course_data``: the course's generated corpus, SFT task, preference pairs and task mix.
- ``utils.instruction_data``: instruction-data formats and their CLI, token statistics, filters.
- ``utils.training``: LoRA and memory arithmetic.
- ``utils.generation``: sampling processors, batched generation, the sampling explorer.
- ``utils.evaluation``: metrics and intervals, ratings, calibration, multiple choice.
- ``utils.drafts``: 17lands draft files, simulated sets, pick prompts, baseline pickers.
- ``utils.production``: serving and tracking.
- ``utils.maintenance``: the notebook runner and the checks on notebooks (not for lessons).
"""

__version__ = "0.2.0"
