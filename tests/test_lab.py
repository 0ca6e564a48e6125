"""explore.ipynb as an analyst meets it: JupyterLab (bound to 127.0.0.1, with a token) driven by a real browser
(Debian's chromium through playwright) runs every cell over a finished run; the outputs are read off the page."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from gentrend.core import paths

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WAIT_MS = 600_000  # a loaded 2-core machine: a kernel start and the notebook's imports take minutes there


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(two_runs, tmp_path):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of explore.ipynb; stopped and cleaned up after."""
    if CHROMIUM is None:
        message = "needs chromium (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(paths.NOTEBOOKS_DIR / "explore.ipynb", root)
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])
    env = os.environ | {"JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=root)
    try:
        for line in server.stderr:  # the marker: the server prints its URL once it listens
            if f"http://127.0.0.1:{port}/" in line:
                break
        else:
            pytest.fail(f"JupyterLab exited before listening (code {server.wait()})")
        threading.Thread(target=server.stderr.read, daemon=True).start()  # its log must never fill the pipe
        yield f"http://127.0.0.1:{port}/lab/tree/explore.ipynb?token={token}", root / "explore.ipynb"
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_explore_notebook_runs_in_jupyterlab_in_a_browser(lab, tmp_path):
    """Run All from the menu, wait for the last cell's execution count, save; then read what ran from the saved
    notebook (JupyterLab renders only the cells in view, so the page never holds all outputs at once)."""
    from playwright.sync_api import sync_playwright

    url, notebook = lab
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(notebook, as_version=4).cells)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()  # the status bar: the kernel is up
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            page.locator(".jp-InputPrompt", has_text=f"[{code_cells}]:").wait_for()  # the last cell has run
            page.get_by_text("comparing run second with first").wait_for()
            page.screenshot(path=str(tmp_path / "explore.png"))
            page.keyboard.press("Control+s")
            page.locator(".lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached")  # saved
        finally:
            browser.close()
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert [c.execution_count for c in cells] == list(range(1, code_cells + 1))
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert "<gentrend run second: complete" in cells[1].outputs[0]["data"]["text/plain"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1  # the chart, redrawn once
    compared = cells[-1].outputs[0]["data"]["text/plain"]
    assert "first" in compared and "second" in compared
