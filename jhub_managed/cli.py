"""The ``jhub-managed`` command."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import __version__

DEMO_CONFIG = Path(__file__).parent / "demo" / "jupyterhub_config.py"
STOP_SECONDS = 10


class DemoError(Exception):
    """Something that stops the demo, said in one line."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "jhub-managed" / "demo"


def tool_path() -> str:
    """PATH with the venv's scripts and its configurable-http-proxy in front."""
    extra = [
        os.path.dirname(sys.executable),
        os.path.join(sys.prefix, "node", "node_modules", ".bin"),
    ]
    return os.pathsep.join([*extra, os.environ.get("PATH", "")])


def find_proxy(path: str) -> str:
    proxy = shutil.which("configurable-http-proxy", path=path)
    if not proxy:
        raise DemoError(
            "configurable-http-proxy was not found: run `make demo` from the source tree, "
            "or `npm install -g configurable-http-proxy`"
        )
    return proxy


def check_port(ip: str, port: int) -> None:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise DemoError(f"--ip {ip!r} is not an IP address") from None
    if not 0 < port < 65536:
        raise DemoError(f"--port {port} is not a port number (1-65535)")
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as e:
            raise DemoError(
                f"can't listen on {ip}:{port} ({e.strerror}); choose another with --port"
            ) from None


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|NotFound|Exit)\b.*")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_error_line(log_file: Path) -> str:
    """The line of the hub's log that best says why it stopped."""
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return ""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if "EADDRINUSE" in line or "address already in use" in line.lower():
            return line
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line)]
    if exceptions:
        return exceptions[-1]
    errors = [line for line in lines if line.startswith(("[E ", "[C "))]
    if errors:
        return errors[-1]
    return lines[-1] if lines else ""


def _alive(proc) -> bool:
    try:
        return proc.is_running() and proc.status() != "zombie"
    except Exception:
        return False


def _descendants(pid: int) -> list:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with the demo extra
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


class DemoHub:
    """A JupyterHub subprocess in its own process group, and everything it started."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.data_dir = Path(args.data_dir).expanduser().resolve()
        self.log_file = self.data_dir / "hub.log"
        self.url = f"http://{self._url_host(args.ip)}:{args.port}/"
        self.process: subprocess.Popen | None = None
        # everything the hub started, seen while it ran: the proxy and the servers run in
        # sessions of their own, and outlive a hub that dies
        self.known_children: dict[int, object] = {}
        self.password = os.environ.get("JHUB_MANAGED_DEMO_PASSWORD") or secrets.token_urlsafe(9)
        self.generated_password = not os.environ.get("JHUB_MANAGED_DEMO_PASSWORD")

    @staticmethod
    def _url_host(ip: str) -> str:
        if ip in ("0.0.0.0", "::"):  # noqa: S104 - only shown, not bound
            return "127.0.0.1"
        return f"[{ip}]" if ":" in ip else ip

    def prepare(self) -> dict[str, str]:
        path = tool_path()
        find_proxy(path)
        check_port(self.args.ip, self.args.port)
        if self.args.config and not Path(self.args.config).is_file():
            raise DemoError(f"--config {self.args.config}: no such file")
        try:
            (self.data_dir / "users").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DemoError(f"can't create the data directory {self.data_dir}: {e}") from None
        env = dict(os.environ)
        env.update(
            PATH=path,
            JHUB_MANAGED_DEMO_DATA_DIR=str(self.data_dir),
            JHUB_MANAGED_DEMO_IP=self.args.ip,
            JHUB_MANAGED_DEMO_PORT=str(self.args.port),
            # the hub's own API and the proxy's API get free ports, so a demo runs beside
            # any other hub on this machine
            JHUB_MANAGED_DEMO_HUB_PORT=str(free_port()),
            JHUB_MANAGED_DEMO_PROXY_API_PORT=str(free_port()),
            JHUB_MANAGED_DEMO_PASSWORD=self.password,
            JHUB_MANAGED_DEMO_EXTRA_CONFIG=os.path.abspath(self.args.config)
            if self.args.config
            else "",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, env: dict[str, str]) -> None:
        log = open(self.log_file, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(DEMO_CONFIG)],
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # the hub must take Ctrl-C and SIGTERM as they come, even if we were started
            # with SIGINT ignored (as background jobs of scripts are)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        threading.Thread(target=self._copy_output, args=(log,), daemon=True).start()

    def _copy_output(self, log) -> None:
        assert self.process and self.process.stdout
        with log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if self.args.verbose:
                    sys.stderr.buffer.write(line)
                    sys.stderr.flush()

    def watch_children(self) -> None:
        if self.process is not None and self.process.poll() is None:
            for child in _descendants(self.process.pid):
                self.known_children.setdefault(child.pid, child)

    def wait_ready(self, timeout: float = 180) -> None:
        api = f"{self.url}hub/api/"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.watch_children()
            if self.process.poll() is not None:
                raise DemoError(
                    f"the hub stopped: {last_error_line(self.log_file)} (log: {self.log_file})"
                )
            try:
                with urllib.request.urlopen(api, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise DemoError(f"the hub did not answer within {timeout:.0f}s (log: {self.log_file})")

    def stop(self) -> None:
        """Stop the hub, its proxy, services and servers, killing what is left after 10s."""
        if self.process is None:
            return
        deadline = time.monotonic() + STOP_SECONDS
        self.watch_children()
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=max(0.5, deadline - time.monotonic() - 2))
            except subprocess.TimeoutExpired:
                pass
        leftovers = [p for p in self.known_children.values() if _alive(p)]
        for proc in leftovers:
            try:
                proc.terminate()
            except Exception:  # noqa: S110 - it may have just gone
                pass
        while leftovers and time.monotonic() < deadline - 0.5:
            leftovers = [p for p in leftovers if _alive(p)]
            time.sleep(0.1)
        for proc in leftovers:
            try:
                proc.kill()
            except Exception:  # noqa: S110
                pass
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=2)

    def banner(self) -> str:
        password_note = (
            "(generated; set JHUB_MANAGED_DEMO_PASSWORD to choose one)"
            if self.generated_password
            else "(from JHUB_MANAGED_DEMO_PASSWORD)"
        )
        return "\n".join(
            [
                "",
                f"  jhub-managed demo hub is up at {self.url}",
                "",
                "  Log in as one of:",
                "    admin  hub admin: /services/config/ shows the hub's settings",
                "    alice  in group 'researchers': may use the Research environment",
                "    bob    in no group",
                f"  Password: {self.password}  {password_note}",
                "",
                f"  Data and logs: {self.data_dir} (hub log: {self.log_file.name})",
                "  Press Ctrl-C to stop the hub, its services and every server.",
                "",
            ]
        )


def run_demo(args: argparse.Namespace) -> int:
    hub = DemoHub(args)
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        env = hub.prepare()
        print(f"Starting the demo hub; data in {hub.data_dir}", flush=True)
        hub.start(env)
        hub.wait_ready()
        print(hub.banner(), flush=True)
        while not stopping.is_set():
            hub.watch_children()
            if hub.process.poll() is not None:
                raise DemoError(
                    f"the hub stopped: {last_error_line(hub.log_file)} (log: {hub.log_file})"
                )
            stopping.wait(0.5)
        print("Stopping the demo hub...", flush=True)
        return 0
    except DemoError as e:
        print(f"jhub-managed demo: {e}", file=sys.stderr, flush=True)
        return 2
    finally:
        hub.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jhub-managed",
        description=(
            "jhub-managed: a JupyterHub plugin suite for running many managed hubs. "
            "Hubs load it with `from jhub_managed.hub import configure` in "
            "jupyterhub_config.py; this command runs a demo hub."
        ),
    )
    parser.add_argument("--version", action="version", version=f"jhub-managed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="run a real JupyterHub with the whole suite on this machine",
        description=(
            "Run a real JupyterHub with every part of jhub-managed: the local managed spawner "
            "starting real JupyterLab servers, the demo login (users admin, alice in group "
            "'researchers', bob in no group; password from $JHUB_MANAGED_DEMO_PASSWORD or "
            "generated and printed), example profiles, and the config, usage and health "
            "services. Needs configurable-http-proxy (`make demo` installs it). Ctrl-C stops "
            "the hub, its proxy, services and servers."
        ),
    )
    demo.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    demo.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
    )
    demo.add_argument(
        "--data-dir",
        default=str(default_data_dir()),
        help="where the demo keeps its databases, logs and users' files (default: %(default)s)",
    )
    demo.add_argument(
        "--config",
        metavar="FILE",
        help="an extra jupyterhub_config.py loaded after the demo's, to try options",
    )
    demo.add_argument("-v", "--verbose", action="store_true", help="show the hub's log here too")

    from .fleet.commands import add_fleet_parser

    add_fleet_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo(args)
    if args.command == "fleet":
        from .fleet.commands import run_fleet

        return run_fleet(args, parser)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
