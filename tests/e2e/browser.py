"""Open a page in headless Chromium and report what a reader's browser would see.

Talks the DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON messages separated by
NUL bytes on file descriptors 3 and 4), so the test needs no browser-driver package and no
network. Returns every request the page made, the images' natural widths and a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
HOW_TO_INSTALL = ("no Chromium found: install Debian's chromium (`sudo apt-get install chromium`) or set "
                  "MLPROJ_CHROMIUM to a Chrome/Chromium executable to run the report's browser test")


def find_chromium() -> str | None:
    named = os.environ.get("MLPROJ_CHROMIUM")
    if named:
        return named if shutil.which(named) or Path(named).is_file() else None
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


@dataclass
class PageLoad:
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    images: list[dict] = field(default_factory=list)  # {"src": first chars, "naturalWidth": n, "complete": bool}
    screenshot: bytes = b""
    title: str = ""


class _Pipe:
    def __init__(self, process: subprocess.Popen, write_fd: int, read_fd: int):
        self.process, self.write_fd, self.read_fd = process, write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive(timeout)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self.receive(timeout)
            if event.get("method") == method:
                return event
            self.events.append(event)


def load_page(path: Path, *, width: int = 412, height: int = 900, chromium: str | None = None) -> PageLoad:
    """Load `path` at a phone's width and return what happened (requests, images, a full-page screenshot)."""
    executable = chromium or find_chromium()
    if executable is None:
        raise FileNotFoundError(HOW_TO_INSTALL)
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()
    profile = tempfile.mkdtemp(prefix="mlproj-chromium-")
    # The browser reads commands on fd 3 and writes replies on fd 4.
    process = subprocess.Popen(
        [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(3, 4), preexec_fn=lambda: (os.dup2(to_browser_read, 3), os.dup2(from_browser_write, 4)))
    os.close(to_browser_read)
    os.close(from_browser_write)
    pipe = _Pipe(process, to_browser_write, from_browser_read)
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        pipe.send("Network.enable", session=session)
        pipe.send("Page.enable", session=session)
        pipe.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True}, session=session)
        pipe.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        pipe.wait_for("Page.loadEventFired")
        result = PageLoad()
        result.requests = [e["params"]["request"]["url"] for e in pipe.events
                           if e.get("method") == "Network.requestWillBeSent"]
        images = pipe.send("Runtime.evaluate", {
            "expression": "JSON.stringify(Array.from(document.images).map(i => ({src: i.src.slice(0, 40), "
                          "naturalWidth: i.naturalWidth, complete: i.complete})))",
            "returnByValue": True}, session=session)
        result.images = json.loads(images["result"]["value"])
        result.title = pipe.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                                 session=session)["result"]["value"]
        shot = pipe.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
        result.screenshot = base64.b64decode(shot["data"])
        return result
    finally:
        try:
            pipe.send("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        os.close(to_browser_write)
        os.close(from_browser_read)
        shutil.rmtree(profile, ignore_errors=True)
