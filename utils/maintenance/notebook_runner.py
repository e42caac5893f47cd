"""Run the course notebooks in order, measure them, and keep their committed outputs tidy.

    python -m utils.maintenance.notebook_runner run [NAMES...] [--fast] [--in-place]
    python -m utils.maintenance.notebook_runner bench [NAMES...]

``run`` executes notebooks (all, or those whose names start with NAMES, e.g. ``00 02``) in
lesson mode, or fast mode with ``--fast``, shows progress cell by cell, and prints for each one
whether it passed, its wall time and the kernel's peak memory. Executed copies go to
runs/notebooks/ so a student's own notebooks are never overwritten; ``--in-place`` (for
maintainers) writes the outputs back into notebooks/. ``bench`` is ``run --in-place`` in lesson
mode that also writes benchmarks/lesson_mode.csv and the course map in README.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from tqdm import tqdm

from utils.core.runtime import FAST_ENV, REPO_ROOT, precision
from utils.maintenance import throughput
from utils.maintenance.prose_check import TIMING_END, TIMING_START

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
RUNS_DIR = REPO_ROOT / "runs" / "notebooks"
BENCH_CSV = REPO_ROOT / "benchmarks" / "lesson_mode.csv"
README = REPO_ROOT / "README.md"
MAP_START, MAP_END = "<!-- course-map:start -->", "<!-- course-map:end -->"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
BENCH_FIELDS = ["notebook", "wall_s", "peak_rss_mb", "cpu_load", "hardware", "train_precision",
                "train_tokens_per_s", "train_gflops", "train_peak_share", "fp32_peak_gflops",
                "bf16_peak_gflops"]
GPU_NOT_MEASURED = "not measured yet"  # the benchmark runs on the CPU; no GPU run has been recorded

# Run before the notebook's own cells and removed afterwards: text progress bars instead of
# widgets (readable in a committed notebook), and no colour codes from libraries.
PREAMBLE = """\
import tqdm.auto, tqdm.autonotebook, tqdm.std
tqdm.auto.tqdm = tqdm.autonotebook.tqdm = tqdm.std.tqdm
"""
# Run after the last cell and removed: the kernel's peak resident memory.
PEAK_MEMORY = """\
import json as _json, resource as _resource, sys as _sys
_unit = 1 if _sys.platform == "darwin" else 1024
_who = (_resource.RUSAGE_SELF, _resource.RUSAGE_CHILDREN)  # the kernel, or its largest finished subprocess
print("__COURSE_PEAK__" + _json.dumps(max(_resource.getrusage(w).ru_maxrss for w in _who) * _unit))
"""


@dataclass
class RunResult:
    name: str
    ok: bool
    wall_s: float
    peak_rss_mb: float | None
    error: str = ""
    cpu_load: float | None = None  # 1-minute load average at the end: above the core count,
    # other work shared the CPU and the wall time is an upper bound
    throughput: dict = field(default_factory=dict)  # the trainers' tokens/s etc. (bench only)


def list_notebooks(names: list[str] | None = None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Course notebooks in order; ``names`` are prefixes such as "00" or "02_supervised"."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return found
    chosen = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in found if p.stem.startswith(stem)]
        if not matches:
            known = ", ".join(p.stem for p in found)
            raise SystemExit(f"No notebook matches {name!r}. Known notebooks: {known}")
        chosen += [p for p in matches if p not in chosen]
    return chosen


def code_stamp(nb) -> str:
    """A short hash of every code cell's source: it changes whenever the code does, so a
    committed notebook whose outputs came from older code can be caught."""
    sources = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return hashlib.sha256("\n# ---- cell ----\n".join(sources).encode()).hexdigest()[:16]


def execute_notebook(path: Path, fast: bool, write_to: Path | None = None,
                     timeout: int = 1200, progress: bool = True, peaks: dict | None = None) -> RunResult:
    """Execute one notebook in a fresh kernel; return whether it passed, its time and memory. With
    ``peaks`` (the machine's matmul GFLOP/s by precision), also its trainers' throughput."""
    nb = nbformat.read(path, as_version=4)
    own_cells = list(nb.cells)
    nb.cells = [nbformat.v4.new_code_cell(PREAMBLE), *own_cells,
                nbformat.v4.new_code_cell(PEAK_MEMORY)]
    n_code = sum(cell.cell_type == "code" for cell in nb.cells)
    bar = tqdm(total=n_code, desc=path.stem, unit="cell", disable=not progress, leave=False)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            on_cell_executed=lambda **_: bar.update(1))
    previous = os.environ.get(FAST_ENV)
    os.environ[FAST_ENV] = "1" if fast else "0"
    meter_log = _start_meter_log(path) if peaks else None
    start, error = time.perf_counter(), ""
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        error = _short_error(str(err))
    finally:
        wall = time.perf_counter() - start
        bar.close()
        _restore_env(FAST_ENV, previous)
        os.environ.pop(throughput.LOG_ENV, None)
    throughput_row = _read_meter_log(meter_log, peaks) if meter_log else {}
    peak = _read_peak(nb.cells[-1]) if not error else None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    nb.cells = own_cells
    if write_to is not None:
        clean_notebook(nb, mode="fast" if fast else "lesson")
        write_to.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, write_to)
    return RunResult(path.stem, not error, wall, peak, error, load, throughput_row)


def _start_meter_log(path: Path) -> Path:
    """A fresh file for the notebook's trainers to report to (utils.maintenance.throughput)."""
    log = REPO_ROOT / "runs" / "throughput" / f"{path.stem}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    os.environ[throughput.LOG_ENV] = str(log)
    return log


def _read_meter_log(log: Path, peaks: dict) -> dict:
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return throughput.summarise(lines, peaks, precision=precision("cpu"))  # the course's own precision


def _restore_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def _short_error(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-12:])


def _read_peak(cell) -> float | None:
    for output in cell.get("outputs", []):
        match = re.search(r"__COURSE_PEAK__(\d+)", output.get("text", ""))
        if match:
            return int(match.group(1)) / 2**20
    return None


def clean_notebook(nb, mode: str) -> None:
    """Make executed outputs fit to commit: plain-text progress bars, no widget state, no
    local paths, and a stamp of the code that produced them."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            outputs = merge_streams(cell.outputs)
            cell.outputs = [out for out in map(clean_output, outputs) if out is not None]
    nb.metadata["course"] = {"code_stamp": code_stamp(nb), "mode": mode}


def merge_streams(outputs: list) -> list:
    """Join consecutive writes to the same stream, so a progress bar's updates become one text."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def clean_output(output):
    """One output, tidied; None when nothing readable is left (a bare widget view)."""
    if output.output_type == "stream":
        output.text = strip_local_paths(collapse_carriage_returns(output.text))
    elif output.output_type in {"display_data", "execute_result"}:
        output.data.pop(WIDGET_MIME, None)
        if not output.data:
            return None
        for mime in ("text/plain", "text/html", "text/markdown"):
            if mime in output.data:
                output.data[mime] = strip_local_paths(output.data[mime])
    elif output.output_type == "error":
        output.traceback = [strip_local_paths(line) for line in output.traceback]
    return output


def collapse_carriage_returns(text: str) -> str:
    """Keep only the last state of each line a progress bar rewrote with carriage returns."""
    return "\n".join(line.rstrip("\r").split("\r")[-1] for line in text.split("\n"))


def local_path_prefixes() -> list[tuple[str, str]]:
    """Absolute paths of this machine and the placeholders that replace them, longest first."""
    pairs = {str(REPO_ROOT): "<course>", sys.prefix: "<venv>", sys.base_prefix: "<python>",
             str(Path.home()): "~"}
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def strip_local_paths(text: str) -> str:
    for prefix, placeholder in local_path_prefixes():
        text = text.replace(prefix, placeholder)
    return text


def hardware() -> str:
    """A one-line description of this machine for benchmark tables."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = psutil.virtual_memory().total / 2**30
    threads = os.environ.get("OMP_NUM_THREADS")  # set on a busy machine (README, Troubleshooting)
    return (f"{cpu}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, no GPU used"
            + (f", OMP_NUM_THREADS={threads}" if threads else ""))


def print_table(results: list[RunResult]) -> None:
    print(f"\n{'notebook':38} {'result':7} {'wall s':>8} {'peak MB':>8}")
    for r in results:
        peak = f"{r.peak_rss_mb:8.0f}" if r.peak_rss_mb else f"{'-':>8}"
        print(f"{r.name:38} {'pass' if r.ok else 'FAIL':7} {r.wall_s:8.1f} {peak}")
    for r in results:
        if not r.ok:
            print(f"\n{r.name} failed:\n{r.error}")


def run(names: list[str] | None, fast: bool, in_place: bool, peaks: dict | None = None) -> list[RunResult]:
    notebooks = list_notebooks(names)
    mode = "fast" if fast else "lesson"
    print(f"Running {len(notebooks)} notebook(s) in {mode} mode; outputs go to "
          f"{'notebooks/ (in place)' if in_place else 'runs/notebooks/'}")
    results = []
    for index, path in enumerate(notebooks, 1):
        print(f"[{index}/{len(notebooks)}] {path.name}", flush=True)
        target = path if in_place else RUNS_DIR / path.name
        result = execute_notebook(path, fast=fast, write_to=target, peaks=peaks)
        print(f"    {'pass' if result.ok else 'FAIL'} in {result.wall_s:.1f} s", flush=True)
        results.append(result)
    print_table(results)
    return results


def write_benchmark(results: list[RunResult], csv_path: Path = BENCH_CSV, readme: Path = README,
                    notebook_dir: Path = NOTEBOOK_DIR, peaks: dict | None = None) -> None:
    """Merge these results into the benchmark CSV, redraw the README's course map and the timing
    line at the top of each notebook measured."""
    rows = {}
    if csv_path.exists():
        with open(csv_path) as handle:
            rows = {row["notebook"]: row for row in csv.DictReader(handle)}
    machine = hardware()
    for r in results:
        if r.ok:
            load = "" if r.cpu_load is None else f"{r.cpu_load:.1f}"
            rows[r.name] = {"notebook": r.name, "wall_s": f"{r.wall_s:.0f}",
                            "peak_rss_mb": f"{r.peak_rss_mb:.0f}", "cpu_load": load,
                            "hardware": machine, **r.throughput,
                            "fp32_peak_gflops": (peaks or {}).get("fp32", ""),
                            "bf16_peak_gflops": (peaks or {}).get("bf16", "")}
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=BENCH_FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows[name] for name in sorted(rows))
    if readme.exists():
        update_course_map(readme, [rows[name] for name in sorted(rows)])
    for r in results:
        if r.ok:
            write_timing_line(notebook_dir / f"{r.name}.ipynb", rows[r.name])


def timing_line(row: dict) -> str:
    """The sentence at the top of a notebook that states its measured time and memory, made from
    its row of the benchmark CSV, so no figure there is typed by hand.

    Example:
        >>> print(timing_line({"wall_s": "148", "peak_rss_mb": "3041", "cpu_load": "2.1",
        ...                    "hardware": "AMD EPYC"}))
        **Time and memory:** 2 min 28 s and 3.0 GB peak memory in lesson mode on AMD EPYC (1-minute
        load average 2.1 at the end), as measured by `bash course.sh bench`; the README's course map
        lists every notebook.
    """
    minutes, seconds = divmod(int(row["wall_s"]), 60)
    load = f" (1-minute load average {row['cpu_load']} at the end)" if row.get("cpu_load") else ""
    return (f"**Time and memory:** {minutes} min {seconds:02d} s and {int(row['peak_rss_mb']) / 1024:.1f} GB "
            f"peak memory in lesson mode on {row['hardware']}{load}, as measured by `bash course.sh bench`; "
            "the README's course map lists every notebook.")


def write_timing_line(path: Path, row: dict) -> None:
    """Put ``timing_line(row)`` between the timing markers of the notebook's first cell."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    if TIMING_START not in first.source or TIMING_END not in first.source:
        raise ValueError(f"{path.name}: its first cell has no {TIMING_START} ... {TIMING_END} markers; "
                         "add them where the timing line belongs.")
    head, rest = first.source.split(TIMING_START, 1)
    first.source = f"{head}{TIMING_START}{timing_line(row)}{TIMING_END}{rest.split(TIMING_END, 1)[1]}"
    nbformat.write(nb, path)


def update_course_map(readme: Path, rows: list[dict]) -> None:
    """Replace the table between the course-map markers with the measured figures."""
    text = readme.read_text()
    if MAP_START not in text or MAP_END not in text:
        return
    topics = _topics(text)
    lines = ["| notebook | topic | CPU wall time (lesson mode) | peak memory | CPU load during run "
             "| training tokens/s (share of matmul peak) | GPU time |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        minutes, seconds = divmod(int(row["wall_s"]), 60)
        lines.append(f"| `{row['notebook']}` | {topics.get(row['notebook'], '')} | "
                     f"{minutes} min {seconds:02d} s | {int(row['peak_rss_mb']) / 1024:.1f} GB | "
                     f"{row.get('cpu_load') or '-'} | {training_cell(row)} | {GPU_NOT_MEASURED} |")
    hardware_seen = sorted({row["hardware"] for row in rows})
    total_minutes, total_seconds = divmod(sum(int(row["wall_s"]) for row in rows), 60)
    lines.append(f"| **whole course** | | **{total_minutes} min {total_seconds:02d} s** | | | | |")
    lines.append("")
    lines.append("Measured with `bash course.sh bench` on: " + "; ".join(hardware_seen) + ". "
                 "The last column is the 1-minute load average when the notebook finished: "
                 "above the number of cores, other work shared the CPU and the time is an upper bound. "
                 "Training throughput counts the tokens through the model per second of optimizer steps "
                 "in the notebook's trainers, and its model FLOPs (6 per non-embedding weight per token, "
                 "fewer for frozen weights; utils.maintenance.throughput) as a share of the matrix-multiply "
                 "peak of the precision it trained in, measured in the same run"
                 + peaks_sentence(rows) + ".")
    head, rest = text.split(MAP_START, 1)
    tail = rest.split(MAP_END, 1)[1]
    readme.write_text(f"{head}{MAP_START}\n" + "\n".join(lines) + f"\n{MAP_END}{tail}")


def training_cell(row: dict) -> str:
    """The course map's throughput cell: "412 bf16 (37%)", or "-" for a notebook without training.

    Example:
        >>> training_cell({"train_tokens_per_s": "412", "train_precision": "bf16",
        ...                "train_peak_share": "0.37"})
        '412 bf16 (37%)'
    """
    if not row.get("train_tokens_per_s"):
        return "-"
    share = f" ({float(row['train_peak_share']):.0%})" if row.get("train_peak_share") else ""
    return f"{row['train_tokens_per_s']} {row['train_precision']}{share}"


def peaks_sentence(rows: list[dict]) -> str:
    peaks = sorted({(str(row.get("fp32_peak_gflops")), str(row.get("bf16_peak_gflops"))) for row in rows
                    if row.get("fp32_peak_gflops")})  # a partial bench mixes this run's with older rows
    listed = "; ".join(f"{fp32} GFLOP/s float32, {bf16} bf16" for fp32, bf16 in peaks)
    return f" (peaks: {listed})" if peaks else ""


def _topics(readme_text: str) -> dict[str, str]:
    """Topics keyed by notebook, kept in a hidden comment block so the map can be redrawn."""
    match = re.search(r"<!-- topics\n(.*?)\n-->", readme_text, re.S)
    if not match:
        return {}
    return dict(line.split(": ", 1) for line in match.group(1).splitlines() if ": " in line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.maintenance.notebook_runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="execute notebooks and report pass, time and memory")
    run_parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    run_parser.add_argument("--fast", action="store_true", help="fast mode (COURSE_FAST=1)")
    run_parser.add_argument("--in-place", action="store_true",
                            help="write outputs back into notebooks/ (maintainers)")
    bench_parser = sub.add_parser("bench", help="lesson mode in place, then the benchmark table")
    bench_parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "run":
        results = run(args.names, fast=args.fast, in_place=args.in_place)
    else:
        peaks = throughput.machine_peaks()
        print(f"Matrix-multiply peaks here: {peaks['fp32']} GFLOP/s float32, {peaks['bf16']} bf16")
        results = run(args.names, fast=False, in_place=True, peaks=peaks)
        write_benchmark(results, peaks=peaks)
        print(f"\nWrote {BENCH_CSV.relative_to(REPO_ROOT)} and the course map in README.md")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
