"""Measure a served model like a service: latency p50/p95, throughput and exact match under load.

``run_load_test`` sends many chat requests from a few concurrent clients (threads sharing one
``openai`` client), bounded in number and in total time; ``summarise`` turns them into the numbers.

Example:
    >>> import pandas as pd
    >>> from utils.production import load_test
    >>> requests = pd.DataFrame({"latency_s": [0.5, 1.0, 1.5, 2.0], "completion_tokens": [10, 10, 10, 10],
    ...                          "finish_reason": ["stop"] * 4, "answer": ["{}"] * 4, "error": [None] * 4})
    >>> summary = load_test.summarise(load_test.LoadTestRun(requests, wall_s=2.0, concurrency=2),
    ...                               correct=[True, True, True, False])
    >>> [summary[k] for k in ("requests/s", "completion tokens/s", "latency p50 s", "exact match")]
    [2.0, 20.0, 1.25, 0.75]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.core.checks import check_int, check_positive
from utils.evaluation.metrics import proportion_ci

MAX_CONCURRENCY = 16  # a few clients: enough to queue requests on a laptop server, not a flood
SKIPPED = "skipped: the load test's time limit had passed"


@dataclass
class LoadTestRun:
    """One load test: a row per request (``latency_s``, ``completion_tokens``, ``finish_reason``,
    ``answer``, ``error``: None when answered), its wall time and how many clients ran at once."""

    requests: pd.DataFrame
    wall_s: float
    concurrency: int


def send_chat(client, model: str, messages: list[dict], **params) -> dict:
    """Send one chat completion; return its latency, completion tokens, finish reason and answer, or
    the error (as text: a failed request is a measurement, not a crash).

    Example:
        >>> row = send_chat(server.client(), server.model, [{"role": "user", "content": "Hi"}],
        ...                 max_tokens=8)  # doctest: +SKIP
        >>> sorted(row)  # doctest: +SKIP
        ['answer', 'completion_tokens', 'error', 'finish_reason', 'latency_s']
    """
    start = time.perf_counter()
    try:
        reply = client.chat.completions.create(model=model, messages=messages, **params)
    except Exception as error:  # openai.APIError and its kin: status codes, timeouts, refused connections
        return {"latency_s": time.perf_counter() - start, "completion_tokens": 0, "finish_reason": None,
                "answer": None, "error": f"{type(error).__name__}: {error}"[:200]}
    choice = reply.choices[0]
    return {"latency_s": time.perf_counter() - start, "completion_tokens": reply.usage.completion_tokens,
            "finish_reason": choice.finish_reason, "answer": choice.message.content, "error": None}


def run_load_test(client, model: str, prompts: Sequence[list[dict]], *, concurrency: int = 4,
                  time_limit_s: float = 120.0, **params) -> LoadTestRun:
    """Send every prompt (a list of chat messages) once, ``concurrency`` at a time, with ``params``
    (e.g. ``max_tokens=24, temperature=0``). A request not started within ``time_limit_s`` seconds
    of the start is skipped (its ``error`` says so), so a slow machine ends the test on time.

    Example:
        >>> run = run_load_test(server.client(), server.model, prompts, concurrency=4,
        ...                     max_tokens=24, temperature=0)  # doctest: +SKIP
        >>> len(run.requests) == len(prompts)  # doctest: +SKIP
        True
    """
    check_int(concurrency, "concurrency", low=1, high=MAX_CONCURRENCY)
    check_positive(time_limit_s, "time_limit_s", hint="the whole test's limit in seconds, e.g. 120")
    if not prompts:
        raise ValueError("prompts is empty: pass a list of chat conversations, e.g. "
                         "[sft_data.prompt_messages(r) for r in records].")
    deadline = time.monotonic() + time_limit_s

    def one(messages: list[dict]) -> dict:
        if time.monotonic() > deadline:
            return {"latency_s": np.nan, "completion_tokens": 0, "finish_reason": None, "answer": None,
                    "error": SKIPPED}
        return send_chat(client, model, messages, **params)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        rows = list(pool.map(one, prompts))
    return LoadTestRun(pd.DataFrame(rows), time.perf_counter() - start, concurrency)


def summarise(run: LoadTestRun, correct: Sequence[bool] | None = None, confidence: float = 0.95) -> dict:
    """The service's numbers: counts, latency p50/p95 of answered requests, requests and completion
    tokens per second of wall time, the mean number of requests in flight (total latency / wall
    time, Little's law), and, given ``correct`` (one bool per request), exact match with a Wilson
    interval over the requests sent (a failed request counts as wrong; skipped ones are left out).

    Example:
        >>> rows = pd.DataFrame({"latency_s": [1.0, 3.0], "completion_tokens": [5, 7], "answer": ["a", "b"],
        ...                      "finish_reason": ["stop", "length"], "error": [None] * 2})
        >>> summarise(LoadTestRun(rows, wall_s=4.0, concurrency=1))["requests in flight (mean)"]
        1.0
    """
    requests = run.requests
    wall = check_positive(run.wall_s, "wall_s")
    answered = requests["error"].isna()
    skipped = requests["error"].eq(SKIPPED)
    latency = requests.loc[answered, "latency_s"].to_numpy(dtype=float)
    tokens = float(requests.loc[answered, "completion_tokens"].sum())
    percentile = lambda q: round(float(np.percentile(latency, q)), 3) if len(latency) else np.nan  # noqa: E731
    summary = {
        "requests": len(requests), "answered": int(answered.sum()),
        "failed": int((~answered & ~skipped).sum()), "skipped": int(skipped.sum()),
        "concurrency": run.concurrency, "wall s": round(wall, 2),
        "requests/s": round(int(answered.sum()) / wall, 2), "completion tokens/s": round(tokens / wall, 1),
        "latency p50 s": percentile(50), "latency p95 s": percentile(95),
        "requests in flight (mean)": round(float(latency.sum()) / wall, 2),
        "stopped by max_tokens": int(requests["finish_reason"].eq("length").sum()),
    }
    if correct is not None:
        if len(correct) != len(requests):
            raise ValueError(f"correct has {len(correct)} entries for {len(requests)} requests: "
                             "score every request's answer, in order (a failed one as False).")
        sent = ~skipped.to_numpy()
        hits = int((np.asarray(correct, dtype=bool) & answered.to_numpy())[sent].sum())
        estimate, low, high = proportion_ci(hits, int(sent.sum()), confidence)
        summary.update({"exact match": round(float(estimate), 3), "exact match low": round(low, 3),
                        "exact match high": round(high, 3)})
    return summary
