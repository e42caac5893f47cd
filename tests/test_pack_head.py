"""The one-pass pack picker: card lines found in the tokens, training lowers the pick loss, save/load."""

import torch
from peft import LoraConfig, get_peft_model

from utils.core.models import load_model
from utils.drafts import pack_head as ph
from utils.drafts import prompts as dp

INFO = {name: {"colour": colour, "rarity": "common", "mana_value": 2, "text": text}
        for name, colour, text in [("Gull", "U", "{1}{U} Creature — Bird 2/1. Flying."),
                                   ("Eel", "U", "{1}{U} Creature — Fish 1/1."),
                                   ("Crab", "G", "{1}{G} Creature — Crab 1/3."),
                                   ("Bolt", "R", "{1}{R} Instant. Deal 3 damage to target creature.")]}
RECORDS = [{"pack_number": 1, "pick_number": i + 1, "pack": pack, "pool": [], "pick": pick}
           for i, (pack, pick) in enumerate([(["Eel", "Gull", "Crab"], "Gull"), (["Bolt", "Eel"], "Bolt"),
                                             (["Crab", "Bolt", "Gull"], "Bolt"), (["Crab", "Eel"], "Crab")])]


def test_line_ends_point_at_each_cards_line(tokenizer):
    for record in RECORDS:
        ids, names, ends = ph.encode_pick(tokenizer, record, INFO)
        assert names == list(dict.fromkeys(record["pack"])) and ends == sorted(ends)
        for name, end in zip(names, ends, strict=True):
            line = dp.render_card(name, "text", INFO, record["pool"])
            upto = tokenizer.decode(ids[:end + 1])
            assert upto.endswith(line[-3:]) and line in upto  # the line ends at that token


def test_training_lowers_the_pick_loss_and_the_picker_round_trips(tiny_llama_dir, tmp_path):
    torch.manual_seed(0)
    model, tokenizer = load_model(str(tiny_llama_dir))
    lora = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    picker = ph.PackHead(lora)
    batch = [ph.encode_pick(tokenizer, record, INFO) for record in RECORDS]
    inputs = [(ids, ends) for ids, _, ends in batch]
    targets = [names.index(record["pick"]) for (_, names, _), record in zip(batch, RECORDS, strict=True)]
    optimizer = torch.optim.AdamW([p for p in picker.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(15):
        loss = ph.pick_loss(picker(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    picker.eval()
    before = [s.detach() for s in picker(inputs)]
    ph.save_picker(picker, tmp_path / "picker")
    fresh, _ = load_model(str(tiny_llama_dir))
    loaded = ph.load_picker(fresh, tmp_path / "picker")
    for a, b in zip(before, loaded(inputs), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert ph.head_ranking(loaded, tokenizer, RECORDS[0], INFO)[0] == "Gull"
