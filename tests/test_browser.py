"""JupyterLab in a real browser: a notebook runs, its widgets render, a click reaches the
kernel and the kernel's answer comes back. Debian's chromium, driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="no chromium: `apt-get install chromium` (make test installs it when run as root)"),
]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

DEMO_CELLS = [
    "import json, boto3, lambdalab\nlambdalab.start()\nlam = boto3.client('lambda')\niam = boto3.client('iam')",
    "import io, zipfile\n"
    "trust = {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'}, 'Action': 'sts:AssumeRole'}]}\n"
    "role = iam.create_role(RoleName='browser-role', AssumeRolePolicyDocument=json.dumps(trust))['Role']['Arn']\n"
    "buffer = io.BytesIO()\n"
    "with zipfile.ZipFile(buffer, 'w') as z:\n"
    "    z.writestr('lambda_function.py', 'def handler(event, context):\\n    return {\"answer\": event.get(\"n\", 0) * 2}\\n')\n"
    "lam.create_function(FunctionName='browser-double', Runtime='python3.12', Role=role, Handler='lambda_function.handler', Code={'ZipFile': buffer.getvalue()})\n"
    "print('created')",
    "panel = lambdalab.invoke_panel('browser-double', {'n': 21})\npanel",
    "from lambdalab.grader.registry import register, NotYet\n"
    "@register('browser.demo', 'a check that is not passed yet')\n"
    "def demo(probe):\n    raise NotYet('The demo check never passes.', 'The hint arrived from the kernel.')\n"
    "lambdalab.check('browser.demo')",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path: Path):
    root = Path(__file__).resolve().parent.parent
    home = root / ".pytest-tmp" / f"browser-home-{os.getpid()}"
    work = tmp_path / "work"
    work.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in DEMO_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, work / "demo.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    env = dict(os.environ, LAMBDALAB_HOME=str(home), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--IdentityProvider.token=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={work}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(tmp_path / "jupyter.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    yield url
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    from lambdalab.client import control as client

    client.stop(home)


def test_widgets_render_and_a_click_reaches_the_kernel(jupyterlab: str):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{jupyterlab}/lab/tree/demo.ipynb?reset")
        # The toolbar says idle before the kernel session exists; the status bar does not.
        expect(page.locator(".jp-StatusBar-Widget", has_text="Python 3 (ipykernel) | Idle").first).to_be_visible(
            timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        expect(page.locator(".jp-InputPrompt", has_text="[4]:").first).to_be_visible(timeout=120_000)
        invoke = page.locator(".widget-button", has_text="Invoke")
        expect(invoke.first).to_be_visible(timeout=60_000)
        outputs = page.locator(".jp-OutputArea").all_inner_texts()
        assert not any("Error displaying widget" in text or "Loading widget" in text for text in outputs)
        invoke.first.click()
        expect(page.locator(".widget-html", has_text='"answer": 42').first).to_be_visible(timeout=60_000)
        page.locator(".widget-button", has_text="Show hint").first.click()
        expect(page.locator(".widget-html", has_text="The hint arrived from the kernel.").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(Path(__file__).resolve().parent.parent / ".pytest-tmp" / "browser-widgets.png"))
        browser.close()
