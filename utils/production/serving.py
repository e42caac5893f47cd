"""Serve a model over an OpenAI-compatible HTTP API with ``transformers serve``, from Python.

``serve_model`` starts the server on the loopback address (127.0.0.1) on a free port, waits until
its ``/health`` endpoint answers, hands back the address, and stops the server when the block
ends, even after an error. A server that does not come up (it exits, or misses the timeout) is
killed with its whole process group and reported with the last lines of its log.

Example:
    >>> from utils.core.models import ensure_bundled_cache
    >>> from utils.production import serving
    >>> folder = str(ensure_bundled_cache())  # any save_pretrained folder, e.g. notebook 09's SFT model
    >>> with serving.serve_model(folder) as server:  # doctest: +SKIP
    ...     reply = server.client().chat.completions.create(
    ...         model=server.model, messages=[{"role": "user", "content": "Hi"}], max_tokens=20)
    >>> reply.choices[0].message.content  # doctest: +SKIP
    'Hello! How can I assist you today?'
"""

from __future__ import annotations

import contextlib
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
