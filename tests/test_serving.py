"""utils.production.serving and load_test: a loopback round trip with the openai client; servers that
fail to start are reported clearly and leave no process behind; malformed requests get the status
transformers serve is measured to give, and the server keeps serving; the load test's bounds and
summary math; the parameter probes' verdicts."""

import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.tiny_models import tiny_llama
from utils.evaluation.metrics import proportion_ci
from utils.production import load_test, serving


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory, tokenizer):
    """One transformers serve process on a tiny random Llama for the module; stopped and checked
    to leave no process behind."""
    folder = tmp_path_factory.mktemp("tiny")
    tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    server = serving.start_server(str(folder), timeout=120, log_path=folder / "server.log")
    yield server
    serving.stop_server(server)
    assert server.process.poll() is not None and not serving.group_alive(server.process.pid)


def test_command_and_port():
    command = serving.serve_command("runs/model", 8123)
    assert command[:4] == [sys.executable, "-m", "transformers.cli.transformers", "serve"]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    port = serving.free_port()
    assert 0 < port < 65536


def test_round_trip_on_loopback(tiny_server):
    assert tiny_server.base_url.startswith("http://127.0.0.1:")
    reply = tiny_server.client().chat.completions.create(
        model=tiny_server.model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0)
    assert len(reply.choices) == 1 and isinstance(reply.choices[0].message.content, str)
    assert reply.usage.completion_tokens <= 4


# what transformers serve 5.23 answers, as measured; the API would refuse every one with a 4xx
MEASURED_STATUS = {"body is not JSON": 422, "unknown model name": 400, "no messages": 500,
                   "messages is a string": 500, "misspelt field 'temprature'": 422, "temperature = 5": 200,
                   "temperature = -1": 200, "top_p = 2": 200, "n = 0": 200, "max_tokens = -1": 500}


def test_malformed_requests_get_the_measured_status_and_the_server_keeps_serving(tiny_server):
    table = serving.malformed_request_table(tiny_server)
    assert table["status"].to_dict() == {**MEASURED_STATUS, "a good request afterwards": 200}
    assert "JSON decode error" in table.loc["body is not JSON", "message"]
    assert "no-such-model" in table.loc["unknown model name", "message"]
    assert "temprature" in table.loc["misspelt field 'temprature'", "message"]
    assert table.loc["a good request afterwards", "message"].startswith("answered: ")
    assert serving.is_healthy(tiny_server.base_url.removesuffix("/v1"))


def test_load_test_through_the_server(tiny_server):
    prompts = [[{"role": "user", "content": f"Count to {i}."}] for i in range(8)]
    run = load_test.run_load_test(tiny_server.client(), tiny_server.model, prompts, concurrency=4,
                                  time_limit_s=60, max_tokens=3, temperature=0)
    summary = load_test.summarise(run, correct=[True] * 4 + [False] * 4)
    assert summary["answered"] == 8 and summary["failed"] == 0
    assert (run.requests["completion_tokens"] <= 3).all()
    assert summary["exact match"] == 0.5 and summary["latency p50 s"] <= summary["latency p95 s"]


def test_parameter_probes_through_the_server(tiny_server, tokenizer):
    ask = serving.server_ask(tiny_server, [{"role": "user", "content": "Hi"}])
    results = serving.probe_parameters(ask, tokenizer, max_tokens=4, only=["max_tokens", "n"])
    assert results["max_tokens"].startswith("yes: 3 tokens") and results["n"] == "NO: 1 choice"


def test_server_that_exits_is_reported_with_its_log_and_leaves_no_child(tmp_path):
    # a stand-in "server" that starts a child, prints an error and exits: the child must not survive
    crash = ("import subprocess, sys; "
             "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
             "print('OSError: no model in that folder'); sys.exit(3)")
    with pytest.raises(serving.ServerStartError) as error:
        serving.start_server("missing_folder", timeout=60, command=[sys.executable, "-c", crash],
                             log_path=tmp_path / "server.log")
    message = str(error.value)
    assert "exited with code 3" in message and "missing_folder" in message
    assert "OSError: no model in that folder" in message  # the log's last lines are quoted
    assert not serving.group_alive(error.value.pgid)


def test_server_that_never_answers_is_killed_with_its_children(tmp_path):
    # a stand-in "server" that starts a child and never listens: both must be gone after the timeout
    hang = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)")
    with pytest.raises(serving.ServerStartError, match="did not answer .* within 2 s") as error:
        serving.start_server("stand-in", timeout=2, command=[sys.executable, "-c", hang],
                             log_path=tmp_path / "server.log")
    assert "larger timeout" in str(error.value)
    assert error.value.pgid is not None and not serving.group_alive(error.value.pgid)


# ---- the load test without a server ----

class FakeClient:
    """Answers like the openai client after ``delay`` seconds (echoing the prompt; "fail" raises)
    and records the most requests it ever had in flight at once."""

    def __init__(self, delay: float):
        self.delay, self.in_flight, self.peak, self.lock = delay, 0, 0, threading.Lock()
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, model, messages, **params):
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        if messages[0]["content"] == "fail":
            raise RuntimeError("Error code: 500 - Internal Server Error")
        message = SimpleNamespace(content=messages[0]["content"])
        return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop")],
                               usage=SimpleNamespace(completion_tokens=params["max_tokens"]))


def prompts(*contents):
    return [[{"role": "user", "content": c}] for c in contents]


def test_load_test_runs_at_most_concurrency_requests_at_once_and_records_failures():
    client = FakeClient(delay=0.05)
    run = load_test.run_load_test(client, "m", prompts(*"abcdefghijk", "fail"), concurrency=3, max_tokens=5)
    assert client.peak == 3 and run.concurrency == 3
    assert run.wall_s < 12 * 0.05  # concurrent, not one after another
    assert run.requests["answer"].tolist()[:3] == ["a", "b", "c"]  # rows keep the prompts' order
    summary = load_test.summarise(run)
    assert (summary["answered"], summary["failed"], summary["skipped"]) == (11, 1, 0)
    assert "500" in run.requests["error"].iloc[-1] and summary["completion tokens/s"] > 0


def test_load_test_skips_what_the_time_limit_leaves_unsent():
    run = load_test.run_load_test(FakeClient(delay=0.2), "m", prompts(*"abcdefgh"), concurrency=1,
                                  time_limit_s=0.3, max_tokens=5)
    summary = load_test.summarise(run)
    assert 1 <= summary["answered"] <= 3 and summary["skipped"] == 8 - summary["answered"]
    assert run.wall_s < 1.0


def test_load_test_refuses_bad_bounds():
    with pytest.raises(ValueError, match="concurrency must be at least 1 and at most 16"):
        load_test.run_load_test(FakeClient(0), "m", prompts("a"), concurrency=100)
    with pytest.raises(ValueError, match="time_limit_s must be a positive number"):
        load_test.run_load_test(FakeClient(0), "m", prompts("a"), time_limit_s=0)
    with pytest.raises(ValueError, match="prompts is empty"):
        load_test.run_load_test(FakeClient(0), "m", [])


def test_summary_math_on_fake_latencies():
    # 100 answered requests with latencies 1..100 s and 10 tokens each, 1 failed, 1 skipped, 50 s of wall time
    latencies = np.arange(1, 101, dtype=float)
    requests = pd.DataFrame({"latency_s": [*latencies, 0.5, np.nan], "completion_tokens": [10] * 100 + [0, 0],
                             "finish_reason": ["length"] * 2 + ["stop"] * 98 + [None, None],
                             "answer": ["x"] * 100 + [None, None],
                             "error": [None] * 100 + ["APIStatusError: 500", load_test.SKIPPED]})
    correct = [True] * 80 + [False] * 20 + [True, True]  # a failed or skipped request is never counted right
    summary = load_test.summarise(load_test.LoadTestRun(requests, wall_s=50.0, concurrency=4), correct)
    assert (summary["answered"], summary["failed"], summary["skipped"]) == (100, 1, 1)
    assert summary["latency p50 s"] == 50.5 and summary["latency p95 s"] == 95.05  # linear interpolation
    assert summary["requests/s"] == 2.0 and summary["completion tokens/s"] == 20.0
    assert summary["requests in flight (mean)"] == 101.0  # 5050 s of latency in 50 s of wall time
    assert summary["stopped by max_tokens"] == 2
    estimate, low, high = proportion_ci(80, 101)  # the failed request is in the denominator
    assert summary["exact match"] == round(estimate, 3)
    assert (summary["exact match low"], summary["exact match high"]) == (round(low, 3), round(high, 3))
    with pytest.raises(ValueError, match="correct has 3 entries for 102 requests"):
        load_test.summarise(load_test.LoadTestRun(requests, wall_s=50.0, concurrency=4), [True] * 3)


# ---- the parameter probes without a server ----

def deaf_ask(**params) -> dict:
    """A server that ignores every parameter but max_tokens: one greedy, repetitive answer."""
    if params.get("frequency_penalty", 0) < 0:
        raise RuntimeError("Error code: 500 - Internal Server Error")
    words = ["Ha"] + ["ha"] * (params["max_tokens"] - 1)
    return {"texts": [" ".join(words)], "completion_tokens": params["max_tokens"],
            "finish_reasons": ["length"], "has_logprobs": False}


def test_a_server_that_ignores_every_parameter_gets_no_or_cannot_tell(tokenizer):
    results = serving.probe_parameters(deaf_ask, tokenizer, max_tokens=8, samples=3)
    assert results["max_tokens"] == "yes: 3 tokens, finish_reason 'length'"
    assert results["n"] == "NO: 1 choice" and results["temperature"].startswith("NO: 1 distinct")
    assert results["top_p"].startswith("cannot tell") and results["seed"].startswith("cannot tell")
    for name in ("stop", "frequency_penalty", "presence_penalty", "logit_bias", "logit_bias, float",
                 "logprobs"):
        assert results[name].startswith("NO"), (name, results[name])
    assert results["frequency_penalty < 0"].startswith(
        "NO: the request failed (RuntimeError: Error code: 500")
    assert results["greedy answer"] == "Ha ha ha ha ha ha ha ha"
    table = serving.parameter_table({"deaf": results})
    assert list(table.index) == list(serving.PROBES) and table.loc["n", "deaf"] == "NO: 1 choice"


def test_verdicts_tell_honoured_from_ignored():
    assert serving._stop_verdict("Ha ha ha", lambda stop: "Ha ") == "yes: 'Ha ' (stop='ha')"
    assert serving._stop_verdict("Ha ha ha", lambda stop: "Ha ha").startswith("partly: stopped there")
    assert serving._stop_verdict("Ha ha ha", lambda stop: "Ha ha ha").startswith("NO")
    assert serving._penalty_verdict("ha ha ha ha", "ha ho hi hu") == "yes: repeated words 75% -> 0%"
    assert serving._penalty_verdict("one two", "one one").startswith("cannot tell: the greedy answer")
    assert serving._seed_verdict({1: ["a", "a"], 2: ["b", "b"], 3: ["a", "a"]}).startswith("yes: 3 of 3")
    assert serving._seed_verdict({1: ["a", "b"], 2: ["b", "c"], 3: ["c", "a"]}).startswith("NO: 0 of 3")
    assert serving._top_p_verdict(["g", "g"], "g", ["x", "y"]) == "yes: 2 of 2 samples are the greedy answer"
    with pytest.raises(ValueError, match=r"no probe for \['temprature'\]"):
        serving.probe_parameters(deaf_ask, None, only=["temprature"])


def test_malformed_cases_and_reply_messages():
    cases = serving.malformed_cases("m")
    assert cases["body is not JSON"][1] == b'{"model": "m", "messages": ['
    assert b'"n": 0' in cases["n = 0"][1] and b'"no-such-model"' in cases["unknown model name"][1]
    assert serving.reply_message(b'{"detail": "Server is pinned to \'m\'"}') == "Server is pinned to 'm'"
    assert serving.reply_message(b'{"choices": [{"message": {"content": "hi"}}]}') == "answered: 'hi'"


def test_source_only_claims_are_labelled():
    table = serving.source_only_table()
    assert table["evidence"].str.startswith("read from source, not measured").all()
    assert "presence_penalty" in table.loc["dropped fields", "claim"]
