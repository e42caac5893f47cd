"""Score draft pickers on any set the course's generator wrote: the same table the draft notebook shows.

    python scripts/evaluate_draft_picker.py --set QGO                         # baselines on the unseen set
    python scripts/evaluate_draft_picker.py --set QGO --adapter adapters/draft_picker --picks 600
    python scripts/evaluate_draft_picker.py --set QGO --adapter adapters/draft_picker \
        --picks-from adapters/draft_picker/eval_hits.csv       # notebook 08's picks: its very table
    python scripts/evaluate_draft_picker.py --set QAB --set-dir /tmp/qab      # a set made with --new-set

Baselines are fitted on the training drafts of the training set (``--train-set``, QLT by default;
the same draft split as the notebook). On the training set itself the held-out drafts are scored;
on any other set, ``--picks`` picks of its drafts. ``--picks-from`` scores instead the picks a
training run listed in its ``eval_hits.csv`` (those of this set), as notebook 08 does. Top-1
carries a 95% interval that resamples whole drafts; with ``--adapter`` each baseline's paired
difference to the adapter is shown; the last row is the simulator's ceiling (the top-1 of a
picker that knew each drafter's hidden values).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.drafts import baselines as base  # noqa: E402
from utils.drafts import card_text, pack_head, scoreboard  # noqa: E402
from utils.drafts import files as drafts  # noqa: E402
from utils.drafts import prompts as dp  # noqa: E402
from utils.drafts import simulation as sim  # noqa: E402
from utils.drafts.files import DRAFTS_DIR  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="QGO", help="the set to score (its code)")
    parser.add_argument("--set-dir", default=str(DRAFTS_DIR), help="folder with its cards.csv and draft file")
    parser.add_argument("--train-set", default="QLT", help="the set the baselines (and the adapter) learned")
    parser.add_argument("--train-dir", default=str(DRAFTS_DIR))
    parser.add_argument("--picks", type=int, default=600, help="picks scored (at most)")
    parser.add_argument("--picks-from", default=None,
                        help="score the picks of this set listed in an eval_hits.csv (a training run's)")
    parser.add_argument("--adapter", default=None, help="a picker saved by scripts/train_draft_picker.py")
    parser.add_argument("--model", default=None, help="its base model (default: the bundled one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the per-pick hits here (CSV)")
    return parser.parse_args(argv)


def set_records(folder: Path, code: str) -> tuple[list[dict], pd.DataFrame, dict]:
    path = folder / sim.draft_file_name(code)
    if not path.exists():
        raise SystemExit(f"{path} does not exist; write the set with python -m utils.drafts.simulation "
                         f"(--new-set {code} --out {folder}) or point --set-dir at its folder.")
    cards = drafts.read_cards(folder / sim.CARDS_FILE, code)
    text_path = folder / sim.TEXT_FILE
    texts = card_text.read_card_text(text_path) if text_path.exists() else None
    return drafts.draft_picks_from_17lands(path), cards, dp.card_info(cards, texts)


def listed_picks(hits_file: Path, code: str, records: list[dict]) -> list[dict]:
    """The records of the picks of set ``code`` that ``hits_file`` lists, in its order."""
    if not hits_file.exists():
        raise SystemExit(f"{hits_file} does not exist; --picks-from takes the eval_hits.csv "
                         "a training run wrote.")
    listed = pd.read_csv(hits_file, dtype={"draft_id": str})
    listed = listed[listed["set"] == code]
    if listed.empty:
        raise SystemExit(f"{hits_file} lists no picks of set {code}.")
    try:
        return scoreboard.listed_records(listed, records)
    except ValueError as error:
        raise SystemExit(f"{hits_file}: {error}") from None


def adapter_ranking(folder: Path, model_name: str | None, info: dict):
    """The saved picker's name in the table and its ranking function, scored the way it was trained
    (its training log says how)."""
    from peft import PeftModel

    from utils.core.models import load_model

    log = json.loads((folder / "training_log.json").read_text())
    model, tokenizer = load_model(model_name, quiet=True)
    if log["objective"] == "head":
        picker = pack_head.load_picker(model, folder)
        return "pack-head picker", lambda record: pack_head.head_ranking(picker, tokenizer, record, info)
    model = PeftModel.from_pretrained(model, str(folder)).eval()
    return (f"{log['scoring']} picker",
            lambda record: dp.llm_ranking(model, tokenizer, record, log["format"], info, log["scoring"]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    train_records, train_cards, _ = set_records(Path(args.train_dir), args.train_set)
    train, held_out = base.split_by_draft(train_records, test_fraction=0.2, seed=0)
    if args.set == args.train_set and Path(args.set_dir) == Path(args.train_dir):
        records, cards, info = held_out, train_cards, set_records(Path(args.set_dir), args.set)[2]
    else:
        records, cards, info = set_records(Path(args.set_dir), args.set)
    if args.picks_from:
        records = listed_picks(Path(args.picks_from), args.set, records)
    else:
        random.Random(args.seed).shuffle(records)
        records = records[:args.picks]
    rankers = scoreboard.baseline_rankers(train, pd.concat([train_cards, cards]).drop_duplicates("name"),
                                          seed=args.seed)
    if args.adapter:
        label, ranking = adapter_ranking(Path(args.adapter), args.model, info)
        rankers[label] = ranking
    try:
        ceiling = scoreboard.read_ceiling(args.set_dir, args.set)
    except FileNotFoundError:
        ceiling = None
    hits = scoreboard.hits_table(records, rankers, ceiling)
    if args.out:
        hits.to_csv(args.out, index=False)
    table = scoreboard.accuracy_table(hits, versus=label if args.adapter else None)
    print(f"set {args.set}: {len(records)} picks of {len({r['draft_id'] for r in records})} drafts; "
          f"baselines fitted on {len(train)} {args.train_set} training picks")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
