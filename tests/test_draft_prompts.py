"""utils.drafts.prompts: pick records as chat prompts, and the KV-cache candidate scorer."""


import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from utils.core.models import load_model
from utils.drafts import prompts as dp
from utils.drafts import simulation as sim
from utils.drafts.files import draft_picks_from_17lands

INFO = {"Gull": {"colour": "U", "rarity": "rare", "mana_value": 2},
        "Eel": {"colour": "B", "rarity": "common", "mana_value": 1},
        "Salt, Gull // Ebb": {"colour": "UB", "rarity": "uncommon", "mana_value": 3},
        "Gear": {"colour": "C", "rarity": "common", "mana_value": 4}}
RECORD = {"draft_id": "d1", "pack_number": 2, "pick_number": 3,
          "pack": ["Gull", "Eel", "Eel", "Salt, Gull // Ebb"], "pool": ["Eel", "Gear", "Salt, Gull // Ebb"],
          "pick": "Salt, Gull // Ebb"}


@pytest.fixture(scope="module")
def tiny():
    """A 2-layer random Llama with the course tokenizer: seconds to build and run."""
    _, tokenizer = load_model(quiet=True)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True)
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval(), tokenizer


def test_names_format_lists_pool_and_pack_by_name_with_copies():
    text = dp.pick_messages(RECORD, "names")[1]["content"]
    assert text.splitlines() == [
        "Pack 2, pick 3.",
        "Your pool (3 cards): Eel; Gear; Salt, Gull // Ebb.",
        "The pack (4 cards):", "- Gull", "- 2x Eel", "- Salt, Gull // Ebb",
        "Which card do you take?"]
    assert "rare" not in text  # names only: no annotations leak in


def test_annotated_format_adds_colour_rarity_mana_and_pool_colours():
    text = dp.pick_messages(RECORD, "annotated", INFO)[1]["content"]
    assert "- [U, rare, 2] Gull" in text and "- 2x [B, common, 1] Eel" in text
    # a two-colour card counts for both colours; a colourless card as colourless
    assert "Your pool (3 cards): W 0, U 1, B 2, R 0, G 0, colourless 1." in text
    assert dp.pick_messages(dict(RECORD, pool=[]), "annotated", INFO)[1]["content"].count("empty.") == 1


def test_prompt_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown; use one of names, annotated"):
        dp.pick_messages(RECORD, "json")
    with pytest.raises(ValueError, match="needs info=card_info"):
        dp.pick_messages(RECORD, "annotated")
    with pytest.raises(KeyError, match="'Newt' is not in the card table"):
        dp.pick_messages(dict(RECORD, pack=["Newt"]), "annotated", INFO)
    with pytest.raises(KeyError, match="lacks the field 'pool'"):
        dp.pick_messages({k: v for k, v in RECORD.items() if k != "pool"}, "names")
    with pytest.raises(ValueError, match="not in its pack"):
        dp.pick_example(dict(RECORD, pick="Newt"), "names")
    with pytest.raises(ValueError, match="lacks column"):
        dp.card_info(sim.set_cards("QLT").drop(columns=["rarity"]))


def test_pick_example_is_a_trl_prompt_completion_record():
    example = dp.pick_example(RECORD, "annotated", INFO)
    assert [m["role"] for m in example["prompt"]] == ["system", "user"]
    assert example["completion"] == [{"role": "assistant", "content": "Salt, Gull // Ebb"}]


def test_card_info_reads_the_course_card_list():
    info = dp.card_info(sim.set_cards("QGO"))
    assert len(info) == 90
    assert {card["rarity"] for card in info.values()} == {"common", "uncommon", "rare", "mythic"}
    assert all(set(card["colour"]) <= set("WUBRGC") for card in info.values())


def test_real_records_render_in_both_formats():
    records = draft_picks_from_17lands(sim.course_draft_file("QGO"), max_drafts=1)
    info = dp.card_info(sim.set_cards("QGO"), {c["name"]: c for c in sim.scryfall_cards("QGO")})
    for fmt in dp.FORMATS:
        for record in records:
            text = dp.pick_messages(record, fmt, info)[1]["content"]
            assert all(name in text for name in record["pack"])


def test_prompt_and_answer_tokens_join_cleanly(tiny):
    _, tokenizer = tiny
    messages = dp.pick_messages(RECORD, "names")
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": RECORD["pick"]}],
                                         tokenize=False)
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    joined = dp.prompt_ids(tokenizer, messages) + dp.candidate_ids(tokenizer, RECORD["pick"])
    assert ids[:len(joined)] == joined  # scoring sees exactly the tokens training saw
    assert joined[-1] == tokenizer.eos_token_id


def test_cached_scores_equal_full_forward_passes(tiny):
    model, tokenizer = tiny
    messages = dp.pick_messages(RECORD, "annotated", INFO)
    names = ["Gull", "Eel", "Salt, Gull // Ebb"]  # different token lengths: padding must not matter
    cached = dp.candidate_log_likelihoods(model, tokenizer, messages, names)
    prompt = dp.prompt_ids(tokenizer, messages)
    for name, score in zip(names, cached, strict=True):
        answer = dp.candidate_ids(tokenizer, name)
        with torch.no_grad():
            logits = model(torch.tensor([prompt + answer])).logits[0]
        log_probs = torch.log_softmax(logits.float(), -1)
        expected = sum(float(log_probs[len(prompt) - 1 + i, token]) for i, token in enumerate(answer))
        assert score == pytest.approx(expected, abs=1e-4)
    normalised = dp.candidate_log_likelihoods(model, tokenizer, messages, names, length_normalise=True)
    assert normalised[0] == pytest.approx(cached[0] / len(dp.candidate_ids(tokenizer, "Gull")), abs=1e-5)
    with pytest.raises(ValueError, match="no candidate"):
        dp.candidate_log_likelihoods(model, tokenizer, messages, [])


def test_pack_softmax_loss_is_cross_entropy_over_the_packs_cards(tiny):
    model, tokenizer = tiny
    names = ["Gull", "Eel", "Salt, Gull // Ebb"]  # the pack's distinct cards, in pack order
    messages = dp.pick_messages(RECORD, "annotated", INFO)
    scores = torch.tensor(dp.candidate_log_likelihoods(model, tokenizer, messages, names))
    expected = float(-torch.log_softmax(scores, 0)[2])
    loss = dp.pack_softmax_loss(model, tokenizer, RECORD, "annotated", INFO)
    assert float(loss) == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError, match="not in its pack"):
        dp.pack_softmax_loss(model, tokenizer, dict(RECORD, pick="Gear"), "annotated", INFO)


def test_pack_softmax_training_makes_the_pick_the_top_card(tiny):
    _, tokenizer = tiny
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)
    torch.manual_seed(1)
    model = LlamaForCausalLM(config)
    record = dict(RECORD, pick="Eel")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = dp.pack_softmax_loss(model, tokenizer, record, "annotated", INFO)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]  # the gradient reaches the weights through the cached prompt
    assert dp.llm_ranking(model.eval(), tokenizer, record, "annotated", INFO)[0] == "Eel"


def test_ratio_scores_start_at_zero_and_training_separates_the_pick(tiny):
    from peft import LoraConfig, get_peft_model

    _, tokenizer = tiny
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)
    torch.manual_seed(2)
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    messages = dp.pick_messages(RECORD, "fit", INFO)
    names = ["Gull", "Eel", "Salt, Gull // Ebb"]
    assert dp.ratio_scores(model, tokenizer, messages, names).abs().max() == 0  # LoRA's B starts at zero
    record = dict(RECORD, pick="Gull")
    assert float(dp.pack_softmax_loss(model, tokenizer, record, "fit", INFO, "ratio")) == pytest.approx(
        float(torch.log(torch.tensor(3.0))), abs=1e-5)  # uniform over the three distinct cards
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(6):
        dp.pack_softmax_loss(model, tokenizer, record, "fit", INFO, "ratio").backward()
        optimizer.step()
        optimizer.zero_grad()
    assert dp.llm_ranking(model.eval(), tokenizer, record, "fit", INFO, scoring="ratio")[0] == "Gull"
    with pytest.raises(ValueError, match="scoring 'pmi' is unknown; use one of likelihood, ratio"):
        dp.llm_ranking(model, tokenizer, record, "fit", INFO, scoring="pmi")


def test_fit_format_counts_pool_cards_sharing_a_colour():
    text = dp.pick_messages(RECORD, "fit", INFO)[1]["content"]
    # pool: Eel (B), Gear (colourless), Salt, Gull // Ebb (UB)
    assert "- [U, rare, 2, fit 1] Gull" in text and "- 2x [B, common, 1, fit 2] Eel" in text
    assert "- [UB, uncommon, 3, fit 2] Salt, Gull // Ebb" in text
    assert dp.shared_colour_count("Gear", RECORD["pool"], INFO) == 3  # colourless fits every card


def test_line_format_answers_with_the_cards_pack_line():
    fit, line = dp.pick_messages(RECORD, "fit", INFO), dp.pick_messages(RECORD, "line", INFO)
    assert line == fit  # the same prompt; only the answer differs
    completion = dp.pick_example(RECORD, "line", INFO)["completion"][0]["content"]
    assert completion == "[UB, uncommon, 3, fit 2] Salt, Gull // Ebb"
    assert "- " + completion in fit[1]["content"]  # the answer is the pack line, word for word
    assert dp.pick_example(RECORD, "fit", INFO)["completion"][0]["content"] == "Salt, Gull // Ebb"


def test_line_format_scores_the_pack_lines_as_answers(tiny):
    model, tokenizer = tiny
    messages = dp.pick_messages(RECORD, "line", INFO)
    names = ("Gull", "Eel", "Salt, Gull // Ebb")
    lines = [dp.render_card(name, "fit", INFO, RECORD["pool"]) for name in names]
    expected = -torch.log_softmax(dp.candidate_scores(model, tokenizer, messages, lines), dim=0)[2]
    loss = dp.pack_softmax_loss(model, tokenizer, RECORD, "line", INFO)
    assert float(loss) == pytest.approx(float(expected), abs=1e-5)
    names_loss = dp.pack_softmax_loss(model, tokenizer, RECORD, "fit", INFO)
    assert abs(float(loss) - float(names_loss)) > 1e-3  # the fit format scores bare names instead


def test_llm_ranking_is_a_legal_ordering_of_the_pack(tiny):
    model, tokenizer = tiny
    ranked = dp.llm_ranking(model, tokenizer, RECORD, "annotated", INFO)
    assert sorted(ranked) == sorted(set(RECORD["pack"]))


def test_pick_hits_one_row_per_record_with_flags():
    records = [RECORD, dict(RECORD, pick="Gull", draft_id="d2")]
    hits = dp.pick_hits(records, lambda r: ["Gull", "Eel", "Salt, Gull // Ebb"])
    assert hits[["draft_id", "top1", "top3"]].to_dict("records") == [
        {"draft_id": "d1", "top1": 0, "top3": 1}, {"draft_id": "d2", "top1": 1, "top3": 1}]
