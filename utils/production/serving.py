"""Serve a model over an OpenAI-compatible HTTP API with ``transformers serve``, from Python.

``serve_model`` starts the server on the loopback address (127.0.0.1) on a free port, waits until
its ``/health`` endpoint answers, hands back the address, and stops the server when the block
ends, even after an error. A server that does not come up (it exits, or misses the timeout) is
killed with its whole process group and reported with the last lines of its log.

``malformed_request_table`` sends requests the OpenAI API forbids, as raw HTTP, and records what the
server answers; ``probe_parameters`` measures, one request design per parameter, whether a server
(``server_ask``) or the course's ``chat_completion`` (``local_ask``) honours it; ``parameter_table``
and ``source_only_table`` lay the results out, the latter for claims read from transformers' code.

Example:
    >>> from utils.core.models import ensure_bundled_cache
    >>> from utils.production import serving
    >>> folder = str(ensure_bundled_cache())  # any save_pretrained folder, e.g. notebook 10's SFT model
    >>> with serving.serve_model(folder) as server:  # doctest: +SKIP
    ...     reply = server.client().chat.completions.create(
    ...         model=server.model, messages=[{"role": "user", "content": "Hi"}], max_tokens=20)
    >>> reply.choices[0].message.content  # doctest: +SKIP
    'Hello! How can I assist you today?'
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from utils.core.checks import check_positive_int

HOST = "127.0.0.1"  # loopback only: nothing outside this machine can reach the server
LOG_LINES = 15  # lines of the server's log quoted in an error


class ServerStartError(RuntimeError):
    """The server exited or did not answer /health in time; the message quotes its log.
    ``pgid`` is the process group that was stopped (so a test can check nothing survived)."""

    def __init__(self, message: str, pgid: int | None = None):
        super().__init__(message)
        self.pgid = pgid


@dataclass
class Server:
    """A running server: its process, address, the model name it serves and its log file."""

    process: subprocess.Popen
    base_url: str  # e.g. http://127.0.0.1:40123/v1, what the openai client wants
    model: str
    log_path: Path

    def client(self, timeout: float = 120.0):
        """An ``openai.OpenAI`` client for this server (the key is unused but required)."""
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key="unused-on-loopback", timeout=timeout, max_retries=0)

    def log_tail(self, lines: int = LOG_LINES) -> str:
        return log_tail(self.log_path, lines)


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_command(model: str, port: int, host: str = HOST, device: str = "cpu",
                  extra_args: tuple[str, ...] = ()) -> list[str]:
    """The ``transformers serve`` command line, run with this Python so it uses this environment.

    Example:
        >>> serve_command("runs/model", 8000)[-6:]
        ['--host', '127.0.0.1', '--port', '8000', '--device', 'cpu']
    """
    return [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model),
            *extra_args, "--host", host, "--port", str(port), "--device", device]


def log_tail(path: Path, lines: int = LOG_LINES) -> str:
    """The last ``lines`` lines of a log file ("" when it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def is_healthy(base: str, timeout: float = 2.0) -> bool:
    """True when ``GET {base}/health`` answers 200 with ``{"status": "ok"}``."""
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=timeout) as response:
            return response.status == 200 and json.loads(response.read()).get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process of the process group ``pgid`` exists."""
    import psutil

    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
    return False


def start_server(model: str, *, port: int | None = None, host: str = HOST, device: str = "cpu",
                 timeout: float = 180.0, log_path: str | Path | None = None,
                 command: list[str] | None = None, extra_args: tuple[str, ...] = ()) -> Server:
    """Start ``transformers serve`` for ``model`` (a local folder) and wait for ``/health``.

    The server runs in its own process group, with no network access to the Hugging Face hub
    (``HF_HUB_OFFLINE=1``), and writes its output to ``log_path`` (a temporary file by default).
    ``command`` replaces the command line (the tests use it). Raises ``ServerStartError``, after
    killing the process group, when the server exits or misses ``timeout`` seconds.
    """
    port = port or free_port(host)
    command = command or serve_command(model, port, host, device, extra_args)
    log_path = Path(log_path) if log_path else Path(tempfile.mkdtemp(prefix="serve_")) / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
           "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)  # its own group: one signal stops all
    server = Server(process, f"http://{host}:{port}/v1", str(model), log_path)
    base = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        while not is_healthy(base):
            code = process.poll()
            if code is not None:
                raise ServerStartError(
                    f"transformers serve exited with code {code} before it answered {base}/health. "
                    f"Check the model folder ({model}) and that `transformers[serving]` is installed. "
                    f"Last lines of its log ({log_path}):\n{log_tail(log_path)}", pgid=process.pid)
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"transformers serve did not answer {base}/health within {timeout:.0f} s; "
                    f"it was stopped. On a slow or busy machine pass a larger timeout=. "
                    f"Last lines of its log ({log_path}):\n{log_tail(log_path)}", pgid=process.pid)
            time.sleep(0.25)
    except BaseException:  # also Ctrl-C in a notebook: never leave a server behind
        stop_server(server, grace=2.0)
        raise
    return server


def stop_server(server: Server, grace: float = 10.0) -> int | None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after ``grace`` seconds.
    Returns the exit code (None if it could not be collected)."""
    pgid = server.process.pid  # start_new_session made the server the leader of its own group
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if server.process.poll() is not None and not group_alive(pgid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=wait)
        end = time.monotonic() + wait
        while group_alive(pgid) and time.monotonic() < end:
            time.sleep(0.1)
    return server.process.poll()


@contextlib.contextmanager
def serve_model(model: str, **kwargs):
    """``with serve_model(folder) as server:`` start (see ``start_server``), then always stop."""
    server = start_server(model, **kwargs)
    try:
        yield server
    finally:
        stop_server(server)


# ---- requests the API forbids, sent as raw HTTP so no client library checks them first ----

GOOD_MESSAGES = [{"role": "user", "content": "Say hello."}]


def malformed_cases(model: str, messages: list[dict] = GOOD_MESSAGES) -> dict[str, tuple[str, bytes]]:
    """Request bodies a server should refuse: name -> (what the OpenAI API allows, raw body).

    Example:
        >>> cases = malformed_cases("runs/model")
        >>> cases["body is not JSON"]
        ('a JSON object', b'{"model": "runs/model", "messages": [')
    """
    def body(**fields) -> bytes:
        return json.dumps({"model": model, "messages": messages, "max_tokens": 8, **fields}).encode()

    return {
        "body is not JSON": ("a JSON object", f'{{"model": "{model}", "messages": ['.encode()),
        "unknown model name": ("a model the server serves", body(model="no-such-model")),
        "no messages": ("messages is required", json.dumps({"model": model, "max_tokens": 8}).encode()),
        "messages is a string": ("a list of messages", body(messages="Say hello.")),
        "misspelt field 'temprature'": ("only the API's fields", body(temprature=0.5)),
        "temperature = 5": ("temperature from 0 to 2", body(temperature=5)),
        "temperature = -1": ("temperature from 0 to 2", body(temperature=-1)),
        "top_p = 2": ("top_p from 0 to 1", body(top_p=2)),
        "n = 0": ("n of at least 1", body(n=0)),
        "max_tokens = -1": ("max_tokens of at least 1", body(max_tokens=-1)),
    }


def post_json(url: str, body: bytes, timeout: float = 60.0) -> tuple[int | None, str]:
    """POST ``body`` as JSON; return the HTTP status and a readable message: the error's ``detail``
    (or ``error``), or the answer's text when the server answered (status None: no answer at all).

    Example:
        >>> post_json(f"{server.base_url}/chat/completions", b"{")  # doctest: +SKIP
        (422, 'JSON decode error')
    """
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:  # no answer at all (a timeout, a refused connection)
        return None, f"no answer: {error}"
    return status, reply_message(raw)


def reply_message(raw: bytes) -> str:
    """The human part of a reply body: FastAPI's ``detail`` (its validation list joined), an
    ``error`` field, the first choice's text, or the raw text.

    Example:
        >>> reply_message(b'{"detail": [{"msg": "JSON decode error", "loc": ["body", 9]}]}')
        'JSON decode error'
        >>> reply_message(b"Internal Server Error")
        'Internal Server Error'
    """
    text = raw.decode(errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    if "detail" in data:
        detail = data["detail"]
        return "; ".join(d.get("msg", str(d)) for d in detail) if isinstance(detail, list) else str(detail)
    if "error" in data:
        return str(data["error"])
    if data.get("choices"):
        return f"answered: {data['choices'][0]['message']['content']!r}"
    return text


def malformed_request_table(server: Server, messages: list[dict] = GOOD_MESSAGES, timeout: float = 60.0):
    """Send each of ``malformed_cases`` to the server, then one good request: a table with what
    the API allows, the HTTP status and the message (first 100 characters) of each.

    Example:
        >>> table = malformed_request_table(server)  # doctest: +SKIP
        >>> table.loc["a good request afterwards", "status"]  # doctest: +SKIP
        200
    """
    import pandas as pd

    good = {"model": server.model, "messages": messages, "max_tokens": 8, "temperature": 0}
    cases = {**malformed_cases(server.model, messages),
             "a good request afterwards": ("(valid)", json.dumps(good).encode())}
    rows = {}
    for name, (allowed, body) in cases.items():  # in order: the good request comes last
        status, message = post_json(f"{server.base_url}/chat/completions", body, timeout)
        rows[name] = {"the API allows": allowed, "status": status, "message": message[:100]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "request"
    return table


# ---- which request parameters a server honours: each row measured by a request ----

HOT = 1.5  # a temperature high enough that sampling visibly varies a short answer
PROBES = {  # parameter -> (what the probe sends, what the reply shows when the parameter is honoured)
    "max_tokens": ("max_tokens=3, temperature=0", "at most 3 tokens, finish_reason 'length'"),
    "n": ("n=3, temperature=0", "3 choices"),
    "temperature": (f"temperature={HOT}, one request per sample", "the samples differ (greedy: one answer)"),
    "top_p": (f"top_p=1e-6, temperature={HOT}, one request per sample", "every sample is the greedy answer"),
    "seed": (f"seeds 1, 2, 3 at temperature={HOT}, each twice", "a seed repeats its answer; seeds differ"),
    "stop": ("stop=[the greedy answer's second word]", "the greedy answer cut just before that word"),
    "frequency_penalty": ("frequency_penalty=2, temperature=0", "fewer repeated words than greedy"),
    "frequency_penalty < 0": ("frequency_penalty=-1 (the API allows -2 to 2)", "an answer"),
    "presence_penalty": ("presence_penalty=2, temperature=0", "fewer repeated words than greedy"),
    "logit_bias": ("logit_bias={greedy answer's commonest token: -100}", "that token never appears"),
    "logit_bias, float": ("the same bias written -100.0 (JSON float)", "that token never appears"),
    "logprobs": ("logprobs=true, temperature=0", "the choice carries logprobs"),
}


def _reply_summary(choices: list, completion_tokens: int) -> dict:
    return {"texts": [c["message"]["content"] for c in choices], "completion_tokens": completion_tokens,
            "finish_reasons": [c["finish_reason"] for c in choices],
            "has_logprobs": any(c.get("logprobs") for c in choices)}


def server_ask(server: Server, messages: list[dict], extra_body: dict | None = None):
    """``ask(**params) -> {"texts", "completion_tokens", "finish_reasons", "has_logprobs"}``: one chat
    completion for ``messages`` from the server (``extra_body``: fields outside the API, such as
    transformers' ``generation_config``).

    Example:
        >>> ask = server_ask(server, [{"role": "user", "content": "Hi"}])  # doctest: +SKIP
        >>> ask(max_tokens=3)["completion_tokens"]  # doctest: +SKIP
        3
    """
    def ask(**params) -> dict:
        # a fresh connection per probe: after a 500 the server drops its kept-alive connection, and a
        # client that reuses it fails the *next* request with a connection error (measured)
        with server.client() as client:
            reply = client.chat.completions.create(model=server.model, messages=messages,
                                                   extra_body=extra_body, **params).model_dump()
        return _reply_summary(reply["choices"], reply["usage"]["completion_tokens"])
    return ask


def local_ask(model, tokenizer, messages: list[dict]):
    """The same ``ask`` as ``server_ask``, on a local model through notebook 06's ``chat_completion``
    (the course's reference for the API's parameters).

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> ask = local_ask(model, tokenizer, [{"role": "user", "content": "Hi"}])
        >>> ask(max_tokens=2)["completion_tokens"]
        2
    """
    from utils.generation.sampling import chat_completion

    def ask(**params) -> dict:
        reply = chat_completion(model, tokenizer, messages, **params)
        return _reply_summary(reply["choices"], reply["usage"]["completion_tokens"])
    return ask


def repeated_share(text: str) -> float:
    """Share of the words of ``text`` that repeat an earlier word (case and punctuation ignored).

    Example:
        >>> repeated_share("Ha ha ha, no")
        0.5
    """
    from utils.generation.sampling import repetition_rate  # the penalties' measure, over words here

    words = [word.strip(".,!?;:'\"").lower() for word in text.split()]
    return repetition_rate(words) if words else 0.0


def probe_parameters(ask, tokenizer, *, max_tokens: int = 16, samples: int = 5,
                     only: list[str] | None = None) -> dict[str, str]:
    """Run the probes of ``PROBES`` (or those named in ``only``) through ``ask`` (``server_ask`` or
    ``local_ask``). Each value starts with "yes", "partly", "NO" or "cannot tell", then what was
    measured; a request that fails is a "NO" quoting the error. Adds the "greedy answer".

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> ask = local_ask(model, tokenizer, [{"role": "user", "content": "Laugh: ha ha ha ha ha ha"}])
        >>> probe_parameters(ask, tokenizer, only=["n"])["n"]
        'yes: 3 choices'
    """
    check_positive_int(max_tokens, "max_tokens")
    check_positive_int(samples, "samples")
    unknown = sorted(set(only or ()) - set(PROBES))
    if unknown:
        raise ValueError(f"no probe for {unknown}; the probes are {list(PROBES)}.")
    text = lambda **p: ask(max_tokens=max_tokens, **p)["texts"][0]  # noqa: E731
    greedy = text(temperature=0)
    hot = functools.cache(lambda: [text(temperature=HOT) for _ in range(samples)])
    probes = {
        "max_tokens": lambda: _max_tokens_verdict(ask(max_tokens=3, temperature=0)),
        "n": lambda: _count_verdict(len(ask(max_tokens=max_tokens, temperature=0, n=3)["texts"])),
        "temperature": lambda: _temperature_verdict(hot()),
        "top_p": lambda: _top_p_verdict([text(temperature=HOT, top_p=1e-6) for _ in hot()], greedy, hot()),
        "seed": lambda: _seed_verdict({s: [text(temperature=HOT, seed=s) for _ in "ab"] for s in (1, 2, 3)}),
        "stop": lambda: _stop_verdict(greedy, lambda stop: text(temperature=0, stop=[stop])),
        "frequency_penalty": lambda: _penalty_verdict(greedy, text(temperature=0, frequency_penalty=2.0)),
        "frequency_penalty < 0": lambda: f"yes: answered {text(temperature=0, frequency_penalty=-1.0)!r}",
        "presence_penalty": lambda: _penalty_verdict(greedy, text(temperature=0, presence_penalty=2.0)),
        "logit_bias": lambda: _logit_bias_verdict(greedy, tokenizer, text, -100),
        "logit_bias, float": lambda: _logit_bias_verdict(greedy, tokenizer, text, -100.0),
        "logprobs": lambda: _logprobs_verdict(ask(max_tokens=3, temperature=0, logprobs=True)),
    }
    results = {}
    for name in only or PROBES:
        try:
            results[name] = probes[name]()
        except Exception as error:  # a refused request is the measurement
            results[name] = f"NO: the request failed ({type(error).__name__}: {error})"[:160]
    return {**results, "greedy answer": greedy}


def _verdict(honoured: bool, shown: str) -> str:
    return f"{'yes' if honoured else 'NO'}: {shown}"


def _max_tokens_verdict(reply: dict) -> str:
    tokens, finish = reply["completion_tokens"], reply["finish_reasons"][0]
    return _verdict(tokens <= 3 and finish == "length", f"{tokens} tokens, finish_reason {finish!r}")


def _count_verdict(choices: int) -> str:
    return _verdict(choices == 3, f"{choices} choice{'s' * (choices != 1)}")


def _logprobs_verdict(reply: dict) -> str:
    has = reply["has_logprobs"]
    return _verdict(has, "logprobs in the reply" if has else "no logprobs in the reply")


def _temperature_verdict(hot: list[str]) -> str:
    return _verdict(len(set(hot)) > 1, f"{len(set(hot))} distinct answers in {len(hot)} samples")


def _top_p_verdict(cut: list[str], greedy: str, hot: list[str]) -> str:
    if len(set(hot)) == 1:
        return "cannot tell: temperature alone gave one answer (sampling is off)"
    greedy_count = sum(t == greedy for t in cut)
    return _verdict(greedy_count == len(cut), f"{greedy_count} of {len(cut)} samples are the greedy answer")


def _seed_verdict(pairs: dict[int, list[str]]) -> str:
    repeated = sum(a == b for a, b in pairs.values())
    distinct = len({a for a, _ in pairs.values()})
    if repeated == len(pairs) and distinct == 1:
        return "cannot tell: every answer is the same (sampling is off)"
    shown = f"{repeated} of {len(pairs)} seeds repeated their answer, {distinct} distinct across seeds"
    return _verdict(repeated == len(pairs) and distinct > 1, shown)


def _stop_verdict(greedy: str, answer_with_stop) -> str:
    words = greedy.split()
    if len(words) < 2:
        return "cannot tell: the greedy answer has fewer than two words"
    stop = words[1]
    expected = greedy[:greedy.index(stop)]  # the API cuts at the first occurrence, without the string
    got = answer_with_stop(stop)
    if got == expected:
        return f"yes: {got!r} (stop={stop!r})"
    if got.rstrip() == (expected + stop).rstrip():
        return f"partly: stopped there, but kept the stop string: {got!r} (stop={stop!r})"
    return f"NO: {got!r} (stop={stop!r})"


def _penalty_verdict(greedy: str, penalised: str) -> str:
    before, after = repeated_share(greedy), repeated_share(penalised)
    if before == 0:
        return "cannot tell: the greedy answer repeats no word (use a prompt that invites repetition)"
    same = " (the greedy answer)" if penalised == greedy else ""
    return _verdict(after < before, f"repeated words {before:.0%} -> {after:.0%}{same}")


def _logit_bias_verdict(greedy: str, tokenizer, text, bias: float) -> str:
    from collections import Counter

    token_ids = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    banned, count = Counter(token_ids(greedy)).most_common(1)[0]
    left = token_ids(text(temperature=0, logit_bias={str(banned): bias})).count(banned)
    return _verdict(left == 0, f"{tokenizer.decode([banned])!r} appears {left} times (greedy: {count})")


SOURCE_ONLY = {  # claims about transformers serve read from its code, which no request here measures
    "frequency_penalty, how": "repetition_penalty = 1 + frequency_penalty: transformers divides a positive "
                              "logit (multiplies a negative one) of every token already in the prompt or "
                              "the answer, once; the API subtracts frequency_penalty x count",
    "top_k": "when sampling, transformers' default top_k=50 applies; the API has no top_k",
    "seed, concurrent requests": "seed calls torch.manual_seed, one generator for the whole process, so "
                                 "requests in flight at once draw from the same stream",
    "dropped fields": "accepted, logged as 'Ignoring unsupported fields' and dropped: {dropped}",
}


def source_only_table():
    """The claims of ``SOURCE_ONLY`` as a table, each labelled "read from source, not measured" with
    the file it comes from (the installed transformers' ``cli/serving/``).

    Example:
        >>> source_only_table().loc["top_k", "evidence"]
        'read from source, not measured: transformers/cli/serving/utils.py, generation/configuration_utils.py'
    """
    import pandas as pd
    from transformers.cli.serving.chat_completion import UNUSED_CHAT_COMPLETION_FIELDS

    files = {"frequency_penalty, how": "transformers/cli/serving/chat_completion.py",
             "top_k": "transformers/cli/serving/utils.py, generation/configuration_utils.py",
             "seed, concurrent requests": "transformers/cli/serving/utils.py (set_torch_seed)",
             "dropped fields": "transformers/cli/serving/chat_completion.py (UNUSED_CHAT_COMPLETION_FIELDS)"}
    dropped = ", ".join(sorted(UNUSED_CHAT_COMPLETION_FIELDS))
    table = pd.DataFrame({"claim": {k: v.format(dropped=dropped) for k, v in SOURCE_ONLY.items()},
                          "evidence": {k: f"read from source, not measured: {v}" for k, v in files.items()}})
    table.index.name = "parameter"
    return table


def parameter_table(columns: dict[str, dict[str, str]]):
    """One row per probe of ``PROBES``: what is sent, what honouring looks like, then the measured
    verdict for each column (``probe_parameters`` results by name; "not probed" where missing).

    Example:
        >>> table = parameter_table({"server": {"n": "NO: 1 choice"}})
        >>> table.loc["n"].tolist()
        ['n=3, temperature=0', '3 choices', 'NO: 1 choice']
    """
    import pandas as pd

    rows = {name: {"we send": sent, "honoured if": shows, **{
        column: results.get(name, "not probed") for column, results in columns.items()}}
        for name, (sent, shows) in PROBES.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "parameter"
    return table
