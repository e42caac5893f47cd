"""The playable draft's panel: a thin ipywidgets layer over ``utils.drafts.draft_game``.

One button per card of your pack (its text in the tooltip and under the name), the picker's top
three with probabilities and a reason, a Follow button that takes the picker's first choice, a seed
and a New draft button. At the end: your deck, its strength against the seven opponents' decks and
its simulated record. CSS classes are the browser test's contract: ``course-draft`` (root),
``course-draft-card`` (each card button), ``course-draft-follow``, ``course-draft-new``,
``course-draft-state``, ``course-draft-suggestions``, ``course-draft-result``.

Example:
    >>> from utils.drafts import simulation as sim
    >>> panel = draft_panel(lambda record: {n: 0.0 for n in record["pack"]}, code="QLT", seed=0)
    >>> len(panel.parts["cards"].children)   # the first pack's distinct cards
    14
    >>> _ = panel.follow(); panel.state["game"].pick
    1
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from utils.drafts import draft_game as dg
from utils.drafts import prompts as dp


def suggestions_html(top: list[dict]) -> str:
    """The picker's top cards as an HTML list: probability, name, reason."""
    rows = "".join(f"<li><b>{s['probability']:.0%}</b> {html.escape(s['name'])}: "
                   f"{html.escape(s['reason'])}</li>" for s in top)
    return f"<div><b>The picker suggests</b><ol>{rows}</ol></div>"


def result_html(game: dg.DraftGame, outcome: dict, followed: int) -> str:
    """The end of the draft: the record, the deck's strength against the opponents', the deck."""
    deck = ", ".join(f"{n}x {name}" if n > 1 else name for name, n in _counts(outcome["deck"]).items())
    return (f"<div><b>Your record: {outcome['wins']} wins, {outcome['losses']} losses</b> "
            f"(chance to win a match {outcome['win_probability']:.0%}). Deck strength "
            f"{outcome['strength']:.2f} against the opponents' median "
            f"{outcome['opponents_strength']:.2f}. "
            f"You followed the picker on {followed} of {len(game.history)} picks.<br>"
            f"<b>Deck (23 cards):</b> {html.escape(deck)}</div>")


def _counts(names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts


def draft_panel(scorer: dg.Scorer, info: Mapping[str, Mapping] | None = None, code: str = "QLT",
                seed: int = 0):
    """The panel: play a draft of set ``code`` against seven simulated drafters, advised by
    ``scorer`` (record -> {card: score}). ``panel.take(name)``, ``panel.follow()`` and
    ``panel.new(seed)`` do what the buttons do; ``panel.state["game"]`` is the current ``DraftGame``."""
    import ipywidgets as widgets

    from utils.core import panels

    def button(text: str, css_class: str, tooltip: str = "") -> widgets.Button:
        made = widgets.Button(description=text, tooltip=tooltip, layout=widgets.Layout(width="auto"))
        made.add_class(css_class)
        return made

    parts = {"status": panels.status_line(), "error": panels.error_area(), "state": widgets.HTML(),
             "suggestions": widgets.HTML(), "result": widgets.HTML(),
             "cards": widgets.GridBox(layout=widgets.Layout(grid_template_columns=panels.GRID_COLUMNS,
                                                            width="auto")),
             "follow": button("Follow the picker", "course-draft-follow", "take the picker's first choice"),
             "new": button("New draft", "course-draft-new", "start again with the seed")}
    for name in ("state", "suggestions", "result"):
        parts[name].add_class(f"course-draft-{name}")
    seed_box = widgets.IntText(value=seed, description="seed", layout=widgets.Layout(width="200px"))
    seed_box.add_class("course-seed")
    state = {"game": dg.new_game(code, seed), "followed": 0, "top": []}

    def buttons() -> list:
        return [parts["follow"], parts["new"], *parts["cards"].children]

    def show() -> dg.DraftGame:
        game = state["game"]
        if dg.finished(game):
            parts["state"].value = f"<b>Draft over</b>: {len(game.history)} picks."
            parts["cards"].children, parts["suggestions"].value = (), ""
            parts["result"].value = result_html(game, dg.result(game), state["followed"])
            return game
        record = dg.pick_record(game)
        pool = (dp.pool_colours(record["pool"], info) if info and record["pool"]
                else f"{len(record['pool'])} cards")
        parts["state"].value = (f"<b>Pack {record['pack_number']}, pick {record['pick_number']}</b>. "
                                f"Your pool: {html.escape(pool)}.")
        state["top"] = dg.suggestions(game, scorer, info)
        parts["suggestions"].value = suggestions_html(state["top"])
        cards = []
        for name in dict.fromkeys(record["pack"]):
            text = (info or {}).get(name, {}).get("text", "")
            card = button(name, "course-draft-card", text)
            card.on_click(lambda _b, chosen=name: take(chosen))
            cards.append(card)
        parts["cards"].children = cards
        parts["result"].value = ""
        return game

    def take(name: str):
        def work():
            game = dg.take(state["game"], name)
            state["followed"] += name == state["top"][0]["name"]
            state["game"] = game
            return show()

        return panels.run_busy(work, parts["status"], parts["error"], buttons(),
                               done_text=lambda game, s: f"took {name} ({s:.1f} s)")

    def follow():
        if dg.finished(state["game"]):  # through take, so the panel shows draft_game's message
            return take("")
        return take(state["top"][0]["name"])

    def new(seed_value: int | None = None):
        def work():
            state["game"] = dg.new_game(code, seed_box.value if seed_value is None else seed_value)
            state["followed"] = 0
            return show()

        return panels.run_busy(work, parts["status"], parts["error"], buttons(),
                               done_text=lambda game, s: f"new draft, seed {game.seed}")

    parts["follow"].on_click(lambda _b: follow())
    parts["new"].on_click(lambda _b: new())
    panel = panels.CoursePanel(
        [widgets.HBox([seed_box, parts["new"], parts["follow"], parts["status"]],
                      layout=widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="8px")),
         parts["error"], parts["state"], parts["suggestions"], parts["cards"], parts["result"]],
        "course-draft", "Draft panel: run the notebook to play a draft.")
    panel.parts, panel.state, panel.take, panel.follow, panel.new = parts, state, take, follow, new
    show()
    return panel
