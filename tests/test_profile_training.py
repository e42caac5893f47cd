"""scripts/profile_training.py: profiler ops sorted into kinds of work, and the tables it writes."""

from types import SimpleNamespace

from scripts import profile_training


def test_ops_are_sorted_into_kinds_of_work():
    microseconds = {"aten::mm": 2_000_000, "aten::_scaled_dot_product_flash_attention_for_cpu": 500_000,
                    "aten::copy_": 250_000, "aten::_fused_adamw_": 100_000, "aten::silu": 50_000}
    events = [SimpleNamespace(key=key, self_cpu_time_total=value) for key, value in microseconds.items()]
    shares = profile_training.categorise(events)
    assert shares["matrix multiplies"] == 2.0 and shares["attention"] == 0.5
    assert shares["casts and copies"] == 0.25 and shares["optimizer"] == 0.1
    assert shares["everything else"] == 0.05 and sum(shares.values()) == 2.9


def test_markdown_tables_name_every_case():
    step = {"precision": "bf16", "seconds_per_step": 1.4, "tokens_per_s": 400, "gflops": 260,
            "peak_share": 0.26, "losses": [0.9, 0.5], "profile": {"matrix multiplies": 0.6, "attention": 0.2}}
    results = {"peaks": {"fp32": 200, "bf16": 900}, "threads": 2, "hardware": "a CPU",
               "course_precision": "bf16",
               "cases": {"full SFT": step, "scoring": {"seconds": 2.4, "loss": 0.93}}}
    text = profile_training.markdown(results)
    assert "| full SFT | bf16 | 1.4 | 400 | 260 | 26% | 0.9, 0.5 |" in text
    assert "| scoring | 2.4 | 0.93 |" in text
    assert "| full SFT | 0.60 | 0.20 |" in text and "200 GFLOP/s in float32, 900 in bf16" in text
