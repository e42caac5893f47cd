"""utils.maintenance.notebook_runner: pass/fail, measurement, tidy outputs, the benchmark table."""

import nbformat
import pytest

from utils.maintenance import notebook_runner as runner


def _write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# demo"),
                *[nbformat.v4.new_code_cell(src) for src in sources]]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    nbformat.write(nb, path)
    return path


def test_a_raising_notebook_fails_with_its_error(tmp_path):
    path = _write_notebook(tmp_path / "01_bad.ipynb", "x = 1", "raise ValueError('boom in cell two')")
    result = runner.execute_notebook(path, fast=True, progress=False)
    assert not result.ok and "boom in cell two" in result.error and result.peak_rss_mb is None


def test_a_passing_notebook_is_measured_and_tidied(tmp_path):
    path = _write_notebook(
        tmp_path / "01_good.ipynb",
        "import os, sys\nprint(os.environ['COURSE_FAST'])",
        "for i in range(3):\n    print(f'\\rstep {i}', end='', file=sys.stderr)",
        f"print({str(runner.REPO_ROOT)!r} + '/data')",
    )
    out = tmp_path / "out" / "01_good.ipynb"
    result = runner.execute_notebook(path, fast=True, write_to=out, progress=False)
    assert result.ok and result.peak_rss_mb > 10 and result.wall_s > 0
    nb = nbformat.read(out, as_version=4)
    texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert texts[0] == "1\n"                       # the kernel saw fast mode
    assert texts[1] == "step 2"                     # progress collapsed to its last state
    assert texts[2] == "<course>/data\n"            # no local absolute path
    assert "widgets" not in nb.metadata
    assert nb.metadata["course"] == {"code_stamp": runner.code_stamp(nb), "mode": "fast"}
    assert len(nb.cells) == 4, "the runner's own cells must not be saved"


def test_peak_memory_counts_a_training_subprocess(tmp_path):
    # notebooks 04 and 09 train in subprocesses: their peak, not the idle kernel's, is the notebook's
    child = "block = bytes(1) * (600 * 2**20)"  # 600 MiB, every page written
    cell = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}], check=True)"
    path = _write_notebook(tmp_path / "01_child.ipynb", cell)
    result = runner.execute_notebook(path, fast=True, progress=False)
    assert result.ok and result.peak_rss_mb > 600


def test_code_stamp_follows_code_not_prose():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("text")]
    stamp = runner.code_stamp(nb)
    nb.cells[1].source = "other text"
    assert runner.code_stamp(nb) == stamp
    nb.cells[0].source = "a = 2"
    assert runner.code_stamp(nb) != stamp


def test_widget_only_output_is_dropped_and_text_kept():
    view = nbformat.v4.new_output("display_data", data={runner.WIDGET_MIME: {"model_id": "x"}})
    both = nbformat.v4.new_output("display_data", data={runner.WIDGET_MIME: {}, "text/plain": "bar"})
    assert runner.clean_output(view) is None
    assert runner.clean_output(both).data == {"text/plain": "bar"}


def test_streams_merge_and_carriage_returns_collapse():
    outs = [nbformat.v4.new_output("stream", name="stderr", text="a\r"),
            nbformat.v4.new_output("stream", name="stderr", text="b\nc"),
            nbformat.v4.new_output("stream", name="stdout", text="d")]
    merged = runner.merge_streams(outs)
    assert [o.text for o in merged] == ["a\rb\nc", "d"]
    assert runner.collapse_carriage_returns("10%\r50%\r100%\ndone") == "100%\ndone"


def test_unknown_notebook_name_lists_the_known_ones():
    with pytest.raises(SystemExit, match="No notebook matches '99'.*00_start_here"):
        runner.list_notebooks(["99"])
    assert runner.list_notebooks(["00"])[0].stem == "00_start_here"


def test_benchmark_rewrites_the_course_map(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n<!-- topics\n00_start_here: set-up and first chat\n-->\n"
                      f"{runner.MAP_START}\nold table\n{runner.MAP_END}\nafter\n")
    results = [runner.RunResult("00_start_here", True, 75.4, 1536.0, cpu_load=1.2,
                                throughput={"train_precision": "bf16", "train_tokens_per_s": 412,
                                            "train_gflops": 330, "train_peak_share": 0.33}),
               runner.RunResult("01_broken", False, 3.0, None, "boom")]
    notebook = tmp_path / "00_start_here.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        f"# Start\n\n{runner.TIMING_START}typed by hand: 9 min{runner.TIMING_END}\n\nMore.")]), notebook)
    runner.write_benchmark(results, csv_path=tmp_path / "bench.csv", readme=readme, notebook_dir=tmp_path,
                           peaks={"fp32": 210, "bf16": 990})
    first = nbformat.read(notebook, as_version=4).cells[0].source
    assert "typed by hand" not in first and first.endswith("\n\nMore.")
    assert "**Time and memory:** 1 min 15 s and 1.5 GB peak memory in lesson mode on" in first
    text = readme.read_text()
    row = ("| `00_start_here` | set-up and first chat | 1 min 15 s | 1.5 GB | 1.2 | 412 bf16 (33%) "
           "| not measured yet |")
    assert row in text
    assert "| **whole course** | | **1 min 15 s** | | | | |" in text
    assert "(peaks: 210 GFLOP/s float32, 990 bf16)" in text
    assert "old table" not in text and "01_broken" not in text and text.endswith("after\n")
    assert "00_start_here,75,1536,1.2," in (tmp_path / "bench.csv").read_text()
    assert ",bf16,412,330,0.33,210,990" in (tmp_path / "bench.csv").read_text()


def test_the_benchmark_meters_a_notebooks_trainer(tmp_path):
    # a tiny Trainer run inside a notebook: setup_notebook adds the meter when the runner asks
    cells = [f"import sys\nsys.path.insert(0, {str(runner.REPO_ROOT)!r})\n"
             "from utils.core import runtime\nruntime.setup_notebook()",
             "import torch\nfrom datasets import Dataset\n"
             "from transformers import Trainer, TrainingArguments\n"
             "from tests.tiny_models import tiny_llama\n"
             "class Tok:\n    pad_token_id, eos_token_id, bos_token_id = 0, 1, 2\n"
             "    def __len__(self):\n        return 64\n"
             "model = tiny_llama(Tok(), hidden_size=16, intermediate_size=32, layers=1)\n"
             "data = Dataset.from_list([{'input_ids': [1, 2, 3, 4], 'labels': [1, 2, 3, 4]}] * 6)\n"
             "args = TrainingArguments(output_dir='out', max_steps=3, per_device_train_batch_size=2,\n"
             "                         report_to='none', use_cpu=True, bf16=False, disable_tqdm=True)\n"
             "Trainer(model=model, args=args, train_dataset=data).train()"]
    path = _write_notebook(tmp_path / "01_train.ipynb", *cells)
    result = runner.execute_notebook(path, fast=True, progress=False, peaks={"fp32": 100.0, "bf16": 400.0})
    assert result.ok, result.error
    assert result.throughput["train_precision"] == "fp32"
    assert result.throughput["train_tokens_per_s"] > 0  # 3 steps x 2 rows x 4 tokens, timed
    assert 0 <= result.throughput["train_peak_share"] < 1  # a tiny model is far from any peak


def test_timing_line_needs_its_markers(tmp_path):
    notebook = tmp_path / "00_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# X")]), notebook)
    row = {"wall_s": "60", "peak_rss_mb": "1024", "cpu_load": "", "hardware": "a CPU"}
    with pytest.raises(ValueError, match="00_x.ipynb: its first cell has no <!-- timing:start -->"):
        runner.write_timing_line(notebook, row)
