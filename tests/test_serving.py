"""utils.production.serving: a loopback round trip with the openai client, and servers that fail to start
are reported clearly and leave no process behind."""

import sys

import pytest

from tests.tiny_models import tiny_llama
from utils.production import serving


def test_command_and_port():
    command = serving.serve_command("runs/model", 8123)
    assert command[:4] == [sys.executable, "-m", "transformers.cli.transformers", "serve"]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    port = serving.free_port()
    assert 0 < port < 65536


def test_round_trip_on_loopback(tmp_path, tokenizer):
    folder = tmp_path / "tiny"
    tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    with serving.serve_model(str(folder), timeout=120, log_path=tmp_path / "server.log") as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        reply = server.client().chat.completions.create(
            model=server.model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0)
        pgid = server.process.pid
    assert len(reply.choices) == 1 and isinstance(reply.choices[0].message.content, str)
    assert reply.usage.completion_tokens <= 4
    assert server.process.poll() is not None and not serving.group_alive(pgid)


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
