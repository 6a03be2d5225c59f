"""Screenshots for the docs, made from the demo hub in Chromium: ``make screenshots``.

Starts ``jhub-managed demo`` on a free port with a throwaway data directory, drives Debian's
Chromium through Playwright as the demo's users, and writes small PNGs into
``docs/_static/screenshots/``: the spawn page, the settings editor, the history and a diff.
Run it again after changing a page, so the pictures stay true. Ends the demo it started.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "_static" / "screenshots"
PASSWORD = "screenshots"  # noqa: S105 - a throwaway demo on 127.0.0.1
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1100, "height": 760}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(log_path, "ab")  # kept open for the demo's life
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jhub_managed.cli",
            "demo",
            f"--port={port}",
            f"--data-dir={data_dir}",
        ],
        env=dict(os.environ, JHUB_MANAGED_DEMO_PASSWORD=PASSWORD),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise SystemExit(f"the demo stopped: see {log_path}")
        if "is up at" in log_path.read_text(errors="replace"):
            try:
                with urllib.request.urlopen(url + "hub/api/", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return demo, url
            except OSError:
                pass
        time.sleep(0.5)
    stop_demo(demo)
    raise SystemExit(f"the demo did not come up within 300 s: see {log_path}")


def stop_demo(demo: subprocess.Popen) -> None:
    if demo.poll() is None:
        demo.send_signal(signal.SIGINT)  # as a person stops it: it ends what it started
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(timeout=10)


def login(page, url: str, username: str) -> None:
    page.goto(url + "hub/login")
    page.get_by_label("Username:").fill(username)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/(hub/spawn|hub/home|user/).*"), wait_until="commit")


def shoot(page, name: str, out: Path, selector: str = "main") -> Path:
    """The page's main content (not the whole window), as a PNG."""
    path = out / f"{name}.png"
    page.locator(selector).first.screenshot(path=str(path), animations="disabled")
    print(f"  {path.relative_to(HERE.parent)} ({path.stat().st_size // 1024} KiB)")
    return path


def take(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            # the spawn page as alice (group researchers), the research profile chosen
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            login(page, url, "alice")
            page.goto(url + "hub/spawn")
            page.get_by_role("radio", name="Research environment").check()
            shoot(page, "spawn-page", out)
            context.close()

            # the settings as the hub admin: the profile editor, then two saves for the history
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.on("dialog", lambda dialog: dialog.accept())
            login(page, url, "admin")
            page.goto(url + "services/config/profiles/edit/research")
            shoot(page, "settings-editor", out)

            page.get_by_label("Memory limit").fill("6G")
            page.get_by_label("Environment variables").fill(
                "RESEARCH_ENVIRONMENT=1\nPROJECT=climate"
            )
            page.get_by_label("Comment for the history").fill("More memory for the climate runs")
            page.locator(".jhm-save").click()
            page.locator(".jhm-flash").wait_for()
            page.goto(url + "services/config/announcement")
            page.get_by_label("Text").fill("Maintenance on **Friday** from 18:00 UTC.")
            page.get_by_label("Comment for the history").fill("Announce the maintenance")
            page.locator(".jhm-save").click()
            page.locator(".jhm-flash").wait_for()

            page.goto(url + "services/config/history")
            shoot(page, "history", out)
            page.goto(url + "services/config/history/diff?from=0&to=1")
            shoot(page, "diff", out)
            context.close()
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jhm-screenshots-") as tmp:
        log_path = Path(tmp) / "demo.log"
        print("Starting the demo hub...", flush=True)
        demo, url = start_demo(Path(tmp) / "demo-data", log_path)
        try:
            print(f"Taking screenshots of {url} into {args.out}", flush=True)
            take(url, args.out)
        finally:
            stop_demo(demo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
