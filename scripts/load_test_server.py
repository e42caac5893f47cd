"""The full load test of notebook 10's section 4: a fine-tuned model behind `transformers serve` on
loopback, every held-out order of data/sft/validation.jsonl sent once through the openai client, a few
at a time.

    python scripts/load_test_server.py --model runs/02_sft_model             # 200 orders
    python scripts/load_test_server.py --model runs/02_sft_model --requests 8   # a smoke test

It writes benchmarks/serving_load_test.json: the summary (latency p50/p95, requests/s, completion tokens/s,
exact match with its 95% Wilson interval), the command, its run time and the hardware; the notebook loads
and prints it beside its reduced live run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.core import runtime  # noqa: E402
from utils.course_data import sft_data  # noqa: E402
from utils.maintenance.notebook_runner import hardware  # noqa: E402
from utils.production import load_test, serving  # noqa: E402

OUT = runtime.REPO_ROOT / "benchmarks" / "serving_load_test.json"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--model", required=True, help="a save_pretrained folder, e.g. runs/02_sft_model")
    parser.add_argument("--requests", type=int, default=200, help="held-out orders sent (the first N)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--max_tokens", type=int, default=24,
                        help="longest reference answer (22 tokens) + the end-of-turn token")
    parser.add_argument("--time_limit", type=float, default=900, help="seconds; later requests are skipped")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    records = sft_data.load_split(runtime.REPO_ROOT / "data" / "sft" / "validation.jsonl")[:args.requests]
    start = time.perf_counter()
    with serving.serve_model(args.model, timeout=300) as server:
        prompts = [sft_data.prompt_messages(r) for r in records]
        run = load_test.run_load_test(server.client(), server.model, prompts, concurrency=args.concurrency,
                                      time_limit_s=args.time_limit, max_tokens=args.max_tokens, temperature=0)
    correct = sft_data.score_answers(run.requests["answer"].fillna("").tolist(), records)
    result = {"summary": load_test.summarise(run, correct), "command": " ".join(["python", *sys.argv]),
              "seconds": round(time.perf_counter() - start, 1), "hardware": hardware()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"]))
    return result


if __name__ == "__main__":
    main()
