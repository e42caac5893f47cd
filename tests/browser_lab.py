"""Drive a notebook's widget panel in a real JupyterLab, in headless Chromium (Playwright).

Nothing here knows about one panel: a test opens a notebook, runs it up to a tagged cell, finds
the panel by its CSS class and uses the helpers below. The panels follow one DOM contract: the
root widget has the class ``course-panel`` (and its own, e.g. ``course-explorer``), the error
area ``course-error``, the status line ``course-status``.

    with lab_session(Path("notebooks/06_sampling_parameters.ipynb"), upto_tag="explorer") as lab:
        root = panel(lab.page, "course-explorer")
        assert cut_elements(root) == []
        lab.screenshot(root, "explorer")
        assert lab.errors() == []

What a session does:

- a fresh workspace (temp folder) ``root/`` holding the notebook, truncated after the cell that
  carries ``upto_tag``, in ``root/notebooks/``, and a symlink to every other top-level entry of
  the repository (``root/utils``, ``root/data``...), so the setup cell's
  ``sys.path.insert(0, os.path.abspath(".."))`` imports the course; its results go to the
  workspace (``COURSE_RESULTS_DIR``), never to the repository;
- JupyterLab on 127.0.0.1, a free port, a random token, its own settings, workspaces, config and
  runtime folders (no news or update pop-up, no autosave, no windowed notebook: JupyterLab 4
  leaves off-screen cells empty otherwise), env ``COURSE_FAST=1`` and ``OMP_NUM_THREADS=1``;
  a fresh server, so a fresh kernel, every session;
- headless Chromium from the system (``/usr/bin/chromium`` or ``$COURSE_CHROMIUM``), driven by
  Playwright through ``executable_path``: no ``playwright install``, no network;
- Run All through the app's command registry (``--LabApp.expose_app_in_browser``), then a wait
  on the kernel's ``execution_state`` from the server's REST API (``/api/sessions``): busy
  first, then idle for several polls in a row, and no cell left pending (``[*]``) in the page.
  The toolbar's indicator is not used: it reads idle while no kernel is attached;
- in ``finally``: the kernels (REST), the server (``/api/shutdown``, then signals to the
  processes it started) and the browser are shut down.

What counts as an error (``LabSession.errors``):

- ``console``: a browser console message of type ``error`` and every uncaught page exception
  (``pageerror``): a widget view that fails to render, a front-end exception;
- ``log``: an entry of level error or critical in JupyterLab's log console for the notebook.
  ipywidgets sends there what a widget callback writes to stderr and the traceback of an
  exception a callback does not catch (output that no cell owns);
- ``cell``: an error output of a cell run by Run All, read from the notebook's model (the page
  renders tracebacks with the stderr MIME type, so the DOM cannot tell them from warnings).
Warnings on a cell's stderr are not errors; ``LabSession.cell_stderr`` returns them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from utils.production.serving import free_port  # the OS picks a port nothing listens on

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ENV = "COURSE_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
ARTIFACTS_ENV = "COURSE_ARTIFACTS"
PLAYWRIGHT_PIN = "playwright==1.63.0"
INSTALL_HINT = (f"install the browser with `apt-get install -y --no-install-recommends chromium` "
                f"(or set {CHROMIUM_ENV} to a Chromium binary) and the driver with "
                f"`.venv/bin/python -m pip install {PLAYWRIGHT_PIN}`; never `playwright install`")

# JupyterLab user settings written for every session: quiet, deterministic, every cell rendered.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}

# Elements of a panel whose content must show in full: labels (descriptions), slider readouts,
# buttons, HTML widgets (and the tables and preformatted text in them), images, tab titles and the
# text of output areas inside the panel. Text boxes are left out: their text scrolls by design.
CUT_SELECTOR = ", ".join([
    ".widget-label", ".widget-label-basic", ".widget-readout", "button", ".widget-button",
    ".widget-html-content", ".widget-htmlmath-content", "label", "img", "pre", "table",
    ".lm-TabBar-tabLabel",
])

# Run in the page by cut_elements: one description per element whose content does not show.
# Position checks use what is painted: the extent of an element's text (a Range over it), or an
# image's box; a box a few pixels wider than its text (a margin) cuts nothing.
_CUT_JS = """
([root, selector]) => {
  const cut = [];
  const box = root.getBoundingClientRect();
  const width = window.innerWidth;
  const px = (v) => Math.round(v);
  const name = (el) => el.tagName.toLowerCase() + [...el.classList]
      .filter(c => c.startsWith('widget-') || c.startsWith('course-') || c.startsWith('lm-'))
      .map(c => '.' + c).join('');
  const describe = (el) => {
    const text = (el.tagName === 'IMG' ? (el.alt || 'image') : el.textContent || '').trim();
    return `${name(el)} "${text.slice(0, 60)}"`;
  };
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0;
  };
  const singleLine = (el) => {
    const s = getComputedStyle(el);
    return s.whiteSpace === 'nowrap' || s.whiteSpace === 'pre' || el.tagName === 'BUTTON' ||
           el.classList.contains('widget-readout');
  };
  const painted = (el) => {  // the painted extent: the text's, or the box of an image
    if (el.tagName === 'IMG') return el.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(el);
    const r = range.getBoundingClientRect();
    return r.width > 0 ? r : null;
  };
  const outside = (r, u, vertical) => r.left < u.left - 1 || r.right > u.right + 1 ||
      (vertical && (r.top < u.top - 1 || r.bottom > u.bottom + 1));
  if (box.left < -1 || box.right > width + 1) {
    cut.push(`the panel itself: ${px(box.left)}..${px(box.right)}px, viewport 0..${width}px`);
  }
  // containers that scroll sideways: a scrollbar, and part of the content out of sight
  for (const el of [root, ...root.querySelectorAll('*')]) {
    if (!visible(el)) continue;
    const s = getComputedStyle(el);
    if (['auto', 'scroll'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1) {
      cut.push(`${name(el)}: scrolls sideways, content ${el.scrollWidth}px wide in ${el.clientWidth}px`);
    }
  }
  for (const el of root.querySelectorAll(selector)) {
    if (!visible(el)) continue;
    const reasons = [];
    if (el.tagName !== 'IMG' && el.scrollWidth > el.clientWidth + 1) {
      reasons.push(`text ${el.scrollWidth}px wide in ${el.clientWidth}px`);
    }
    if (singleLine(el) && el.tagName !== 'IMG' && el.scrollHeight > el.clientHeight + 1) {
      reasons.push(`text ${el.scrollHeight}px high in ${el.clientHeight}px`);
    }
    const r = painted(el);
    if (r && outside(r, box, false)) {
      reasons.push(`shows at ${px(r.left)}..${px(r.right)}px, outside the panel ` +
                   `${px(box.left)}..${px(box.right)}px`);
    }
    if (r && (r.left < -1 || r.right > width + 1)) {
      reasons.push(`shows at ${px(r.left)}..${px(r.right)}px, outside the viewport`);
    }
    // clipped by a container: inside the panel on any side, outside it (the output area, the
    // notebook) sideways only, since the notebook scrolls up and down
    for (let up = el.parentElement; r && up && up !== document.body; up = up.parentElement) {
      const s = getComputedStyle(up);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      if (outside(r, up.getBoundingClientRect(), root.contains(up))) {
        reasons.push(`clipped by ${name(up)}`);
        break;
      }
    }
    if (reasons.length) cut.push(`${describe(el)}: ${reasons.join('; ')}`);
  }
  return cut;
}
"""

_PENDING_JS = """
() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]
        .some(p => p.textContent.includes('*'))
"""

_LOG_JS = """
() => [...document.querySelectorAll('.jp-LogConsolePanel .jp-OutputArea-child')].map(child => {
  const prompt = child.querySelector('[data-log-level]');
  const output = child.querySelector('.jp-OutputArea-output');
  return {level: prompt ? prompt.dataset.logLevel : '',
          text: (output ? output.textContent : child.textContent).trim()};
})
"""

# The outputs of the notebook's cells from its model (JupyterLab renders an error output with the
# stderr MIME type, so the DOM cannot tell a traceback from a warning): [[type, text]].
_CELL_OUTPUTS_JS = """
(path) => {
  const app = window.jupyterapp;
  const notebook = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  const found = [];
  for (const cell of notebook.content.model.cells) {
    if (cell.type !== 'code') continue;
    for (const output of cell.toJSON().outputs || []) {
      if (output.output_type === 'error') {
        found.push(['error', `${output.ename}: ${output.evalue}`]);
      } else if (output.output_type === 'stream' && output.name === 'stderr') {
        found.push(['stderr', [].concat(output.text).join('')]);
      }
    }
  }
  return found;
}
"""


class LabError(RuntimeError):
    """JupyterLab, the kernel or the browser did not do what the session needed."""


def chromium_path() -> str | None:
    """The Chromium binary to drive ($COURSE_CHROMIUM, else /usr/bin/chromium), None if absent."""
    path = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


def browser_missing() -> str | None:
    """Why a browser test cannot run here (None when it can), with how to install what is missing."""
    missing = []
    if chromium_path() is None:
        missing.append(f"no Chromium at {os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)}")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed")
    return f"{' and '.join(missing)}: {INSTALL_HINT}" if missing else None


def artifacts_dir() -> Path:
    """Where screenshots go: $COURSE_ARTIFACTS, else .artifacts/browser/ in the repository."""
    folder = Path(os.environ.get(ARTIFACTS_ENV) or REPO_ROOT / ".artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def truncate_notebook(source: Path, target: Path, upto_tag: str | None) -> int:
    """Write ``source`` to ``target`` with the cells up to and including the first cell tagged
    ``upto_tag`` (all cells when None), outputs and widget state cleared. Returns the cell count."""
    nb = nbformat.read(source, as_version=4)
    if upto_tag is not None:
        tagged = [i for i, cell in enumerate(nb.cells) if upto_tag in cell.metadata.get("tags", [])]
        if not tagged:
            raise LabError(f"{source}: no cell is tagged {upto_tag!r}; add the tag to the cell that "
                           "displays the panel (cell toolbar, or metadata \"tags\").")
        nb.cells = nb.cells[:tagged[0] + 1]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return len(nb.cells)


def make_workspace(notebook: Path, upto_tag: str | None, workspace: Path) -> Path:
    """The temp repository the notebook runs in (see the module docstring); returns the copy."""
    root = workspace / "root"
    (root / "notebooks").mkdir(parents=True)
    for entry in REPO_ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name != "notebooks":
            (root / entry.name).symlink_to(entry)
    notebook = notebook.resolve()
    for sibling in notebook.parent.iterdir():  # files the notebook may read beside it
        if sibling.suffix != ".ipynb" and not sibling.name.startswith("."):
            (root / "notebooks" / sibling.name).symlink_to(sibling)
    copy = root / "notebooks" / notebook.name
    truncate_notebook(notebook, copy, upto_tag)
    return copy


def _write_settings(folder: Path) -> None:
    for name, values in LAB_SETTINGS.items():
        path = folder / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@dataclass
class LabServer:
    process: subprocess.Popen
    url: str
    token: str
    log: Path

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_server(root: Path, workspace: Path, env: dict[str, str], timeout: float = 90) -> LabServer:
    """JupyterLab serving ``root``; returns once /api/status answers."""
    port, token = free_port(), secrets.token_hex(16)
    settings = workspace / "lab-settings"
    _write_settings(settings)
    for folder in ("lab-workspaces", "jupyter-config", "jupyter-runtime", "ipython"):
        (workspace / folder).mkdir(exist_ok=True)
    env = {**os.environ, "COURSE_FAST": "1", "OMP_NUM_THREADS": "1",
           "COURSE_RESULTS_DIR": str(workspace / "results"),
           "JUPYTER_CONFIG_DIR": str(workspace / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(workspace / "jupyter-runtime"),
           "IPYTHONDIR": str(workspace / "ipython"), **env}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={workspace / 'lab-workspaces'}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
               "--ServerApp.log_level=WARN"]
    log = workspace / "jupyter-server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(process, f"http://127.0.0.1:{port}", token, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabError(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(OSError, ValueError):
            server.api("/api/status", timeout=2)
            return server
        time.sleep(0.3)
    stop_server(server)
    raise LabError(f"JupyterLab did not answer /api/status within {timeout:.0f} s:\n{server.log_tail()}")


def stop_server(server: LabServer) -> None:
    """Shut down the kernels, then the server, then any process it left (by process id)."""
    import psutil

    try:
        children = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    with contextlib.suppress(OSError, ValueError):
        for kernel in server.api("/api/kernels", timeout=5):
            with contextlib.suppress(OSError, ValueError):
                server.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=10)
    with contextlib.suppress(OSError, ValueError):
        server.api("/api/shutdown", method="POST", timeout=5)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@dataclass
class LabSession:
    """An open notebook in JupyterLab: the Playwright ``page``, the server, what went wrong."""

    page: object  # playwright.sync_api.Page
    server: LabServer
    notebook: Path  # the copy in the workspace
    workspace: Path
    console: list[str] = field(default_factory=list)  # browser console errors, page exceptions

    @property
    def notebook_path(self) -> str:
        """The notebook's path as the server names it (relative to the workspace root)."""
        return f"notebooks/{self.notebook.name}"

    def kernel(self) -> dict | None:
        """The notebook's kernel model from /api/sessions (execution_state...), None if none yet."""
        for session in self.server.api("/api/sessions"):
            if session.get("path") == self.notebook_path and session.get("kernel"):
                return session["kernel"]
        return None

    def wait_for_kernel(self, timeout: float = 60) -> dict:
        """Wait until the notebook has a kernel that is idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kernel = self.kernel()
            if kernel and kernel.get("execution_state") == "idle":
                return kernel
            time.sleep(0.3)
        raise LabError(f"no idle kernel for {self.notebook_path} within {timeout:.0f} s: "
                       f"{self.kernel()}\n{self.server.log_tail()}")

    def wait_until_idle(self, before: dict, timeout: float = 240, settle: int = 4,
                        interval: float = 0.4) -> float:
        """Wait until the kernel has worked (busy seen, or its last_activity moved past
        ``before``'s) and then reads idle ``settle`` polls in a row with no cell pending in the
        page. Returns the seconds waited."""
        start = time.monotonic()
        worked, idle_polls, state = False, 0, None
        while time.monotonic() - start < timeout:
            kernel = self.kernel()
            state = kernel.get("execution_state") if kernel else None
            worked = worked or state == "busy" or (
                kernel is not None and kernel.get("last_activity") != before.get("last_activity"))
            if worked and state == "idle" and not self.page.evaluate(_PENDING_JS):
                idle_polls += 1
                if idle_polls >= settle:
                    return time.monotonic() - start
            else:
                idle_polls = 0
            time.sleep(interval)
        raise LabError(f"the kernel did not finish within {timeout:.0f} s (state {state}, "
                       f"worked {worked})\n{self.server.log_tail()}")

    def run_all(self, timeout: float = 240) -> float:
        """Run every cell of the notebook and wait for the kernel to finish; returns seconds."""
        before = self.wait_for_kernel()
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        return self.wait_until_idle(before, timeout=timeout)

    def wait_for_kernel_work(self, action, timeout: float = 120) -> float:
        """Do ``action()`` (a click, a key) and wait until the kernel has handled what it sent."""
        before = self.kernel() or {}
        action()
        return self.wait_until_idle(before, timeout=timeout, settle=3, interval=0.25)

    def log_entries(self) -> list[dict]:
        """Entries of JupyterLab's log console for this notebook: [{level, text}]."""
        if not self.page.locator(".jp-LogConsolePanel").count():
            self.page.evaluate("() => window.jupyterapp.commands.execute('logconsole:open', "
                               "{insertMode: 'split-bottom', activate: false})")
            self.page.locator(".jp-LogConsolePanel").wait_for(state="attached", timeout=10_000)
        return self.page.evaluate(_LOG_JS)

    def log_errors(self) -> list[str]:
        """Log console entries of level error or critical."""
        return [e["text"] for e in self.log_entries() if e["level"] in ("error", "critical")]

    def cell_errors(self) -> list[str]:
        """The errors of the notebook's cells ("ValueError: ..."), from the notebook's model."""
        found = self.page.evaluate(_CELL_OUTPUTS_JS, self.notebook_path)
        return [text for kind, text in found if kind == "error"]

    def cell_stderr(self) -> list[str]:
        """What the cells wrote to stderr (warnings; not counted as errors)."""
        found = self.page.evaluate(_CELL_OUTPUTS_JS, self.notebook_path)
        return [text for kind, text in found if kind == "stderr"]

    def errors(self) -> list[str]:
        """Every error the session saw: browser console, log console, cell outputs, labelled."""
        return ([f"console: {e}" for e in self.console] + [f"log: {e}" for e in self.log_errors()]
                + [f"cell: {e}" for e in self.cell_errors()])

    def screenshot(self, locator, name: str) -> Path:
        """A screenshot of ``locator`` (not the page: outputs above re-render and scroll it). A
        panel taller than the window is shot in a window made tall enough for a moment (the
        notebook scrolls inside the page, so the page itself cannot show more); the width, and
        so the layout, stay as they are."""
        path = artifacts_dir() / f"{name}.png"
        size = self.page.viewport_size
        box = locator.bounding_box()
        tall = box is not None and box["height"] + 200 > size["height"]
        if tall:
            self.page.set_viewport_size({"width": size["width"],
                                         "height": min(int(box["height"]) + 300, 6000)})
        try:
            locator.scroll_into_view_if_needed()
            locator.screenshot(path=str(path), animations="disabled")
        finally:
            if tall:
                self.page.set_viewport_size(size)
        return path


@contextlib.contextmanager
def lab_session(notebook: Path, upto_tag: str | None = None, *, width: int = 1024,
                height: int = 768, run: bool = True, run_timeout: float = 240,
                env: dict[str, str] | None = None, name: str | None = None) -> Iterator[LabSession]:
    """Open ``notebook`` (truncated after the cell tagged ``upto_tag``) in a fresh JupyterLab in
    headless Chromium at ``width`` x ``height``, run all its cells when ``run``, and yield the
    session. ``env`` adds to the server's (and kernel's) environment. On an exception a screenshot
    of the page and the server's log are saved as artifacts named after ``name``."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise LabError(f"no Chromium: {INSTALL_HINT}")
    name = name or Path(notebook).stem
    workspace = Path(tempfile.mkdtemp(prefix="course-lab-"))
    server = session = None
    try:
        copy = make_workspace(Path(notebook), upto_tag, workspace)
        server = start_server(workspace / "root", workspace, env or {})
        with sync_playwright() as playwright:
            # scrollbars shown, as a student sees them (Playwright hides them by default)
            browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                                 ignore_default_args=["--hide-scrollbars"])
            try:
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.set_default_timeout(30_000)
                session = LabSession(page, server, copy, workspace)
                page.on("console", lambda msg: msg.type == "error" and session.console.append(
                    f"{msg.text} ({msg.location.get('url', '')}:{msg.location.get('lineNumber', '')})"))
                page.on("pageerror", lambda err: session.console.append(f"uncaught {err}"))
                page.goto(f"{server.url}/lab/tree/{session.notebook_path}?token={server.token}")
                page.wait_for_function(
                    "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                    " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=60_000)
                page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=30_000)
                if run:
                    session.run_all(timeout=run_timeout)
                yield session
            except BaseException:
                if session is not None:
                    _save_failure(session, name)
                raise
            finally:
                browser.close()
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(workspace, ignore_errors=True)


def _save_failure(session: LabSession, name: str) -> None:
    with contextlib.suppress(Exception):
        folder = artifacts_dir()
        session.page.screenshot(path=str(folder / f"{name}-failure.png"), full_page=True)
        shutil.copy(session.server.log, folder / f"{name}-jupyter-server.log")


def panel(page, css_class: str):
    """The locator of the widget panel whose root has ``css_class`` (waits until it shows)."""
    locator = page.locator(f".jp-OutputArea-output .{css_class}").first
    locator.wait_for(state="visible", timeout=60_000)
    return locator


def cut_elements(locator) -> list[str]:
    """Descriptions of what in the panel at ``locator`` does not show in full: text wider (or, on
    one line, higher) than its box (an ellipsis), text or an image painted outside the panel or
    the viewport or clipped by a container, and containers that scroll sideways (a scrollbar
    hides part of them). Empty when everything fits."""
    return locator.evaluate("(root, selector) => (" + _CUT_JS + ")([root, selector])", CUT_SELECTOR)


def text_of(locator) -> str:
    """The text of an element, also when JupyterLab has not rendered it on screen."""
    return (locator.text_content() or "").strip()


def wait_for_change(locator, old: str | None, *, attribute: str | None = None,
                    timeout: float = 60, error=None) -> str:
    """Wait until the text (or ``attribute``) of ``locator`` differs from ``old``; return it. When
    ``error`` (a panel's error area) shows text first, fail at once with that text: a callback
    that raised is why nothing changed."""
    deadline = time.monotonic() + timeout
    current = old
    while time.monotonic() < deadline:
        if error is not None and error.count() and text_of(error):
            raise AssertionError(f"the panel shows an error instead of an update: {text_of(error)}")
        if locator.count():
            current = locator.get_attribute(attribute) if attribute else text_of(locator)
            if current != old:
                return current
        time.sleep(0.2)
    raise AssertionError(f"{attribute or 'text'} did not change within {timeout:.0f} s; still "
                         f"{(current or '')[:200]!r}")


BUSY_WORDS = ("busy", "working")  # what a panel's status line says while a callback works


def require_browser() -> None:
    """Skip when Chromium or playwright is missing, or fail when COURSE_REQUIRE_BROWSER=1 (CI)."""
    import pytest

    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("COURSE_REQUIRE_BROWSER", "").strip() in {"1", "true", "yes"}:
        pytest.fail(f"COURSE_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser test skipped: {reason} (set COURSE_REQUIRE_BROWSER=1 to make this a failure)")


def wait_for_status(root, timeout: float = 60) -> str:
    """Wait until the panel's status line no longer says it is busy ("busy…", "working…")."""
    status = root.locator(".course-status").first
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = text_of(status)
        if not any(word in text.lower() for word in BUSY_WORDS):
            return text
        time.sleep(0.2)
    raise AssertionError(f"the panel stayed busy for {timeout:.0f} s: {text!r}")
