"""Run an upstream test suite twice, with the upstream classes and with ours, and compare.

``python -m tests.upstream.compare oauthenticator`` runs oauthenticator's own tests of the
GitHub, generic and CILogon classes (shipped in its wheel) once as they are and once with
``tests.upstream.swap`` putting the managed classes in their place. ``kubespawner`` does the
same for kubespawner's cluster-free tests, from a source checkout (``--src``) and a venv of
their own (``--python``). The exit code is 1 when a test fails with our classes that passes
with theirs; the counts of both runs are printed either way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OAUTHENTICATOR_MODULES = [
    "oauthenticator.tests.test_github",
    "oauthenticator.tests.test_generic",
    "oauthenticator.tests.test_cilogon",
]
KUBESPAWNER_FILES = ["tests/test_profile.py", "tests/test_spawner.py"]

#: a kubeconfig for tests that only need one to exist: nothing listens at this address
THROWAWAY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: nobody
  user: {token: not-a-token}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody, namespace: kubespawner-test}
current-context: nowhere
"""


@dataclass
class Run:
    """One run's outcome per test id: ``passed``, ``failed`` or ``skipped``."""

    label: str
    outcomes: dict[str, str] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    def summary(self) -> str:
        return (
            f"{self.label}: {self.count('passed')} passed, {self.count('failed')} failed, "
            f"{self.count('skipped')} skipped of {len(self.outcomes)}"
        )


@dataclass
class Comparison:
    plain: Run
    managed: Run

    @property
    def managed_only_failures(self) -> list[str]:
        """Tests that pass with the upstream classes and fail (or vanish) with ours."""
        return sorted(
            test
            for test, outcome in self.plain.outcomes.items()
            if outcome == "passed" and self.managed.outcomes.get(test) != "passed"
        )

    @property
    def fixed_by_managed(self) -> list[str]:
        return sorted(
            test
            for test, outcome in self.managed.outcomes.items()
            if outcome == "passed" and self.plain.outcomes.get(test) == "failed"
        )

    def report(self) -> str:
        lines = [self.plain.summary(), self.managed.summary()]
        only = self.managed_only_failures
        lines.append(f"failing only with the managed classes: {len(only)}")
        lines += [f"  {test}" for test in only]
        return "\n".join(lines)


def run_pytest(
    label: str,
    python: str,
    args: list[str],
    *,
    swap: str = "",
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 1100,
) -> Run:
    with tempfile.TemporaryDirectory(prefix="jhm-upstream-") as tmp:
        report = Path(tmp) / "outcomes.json"
        command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-p", "tests.upstream.record"]
        run_env = {**os.environ, **(env or {}), "JHUB_MANAGED_UPSTREAM_REPORT": str(report)}
        # our package and this plugin from this checkout, whatever the venv has
        run_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), run_env.get("PYTHONPATH", "")])
        )
        if swap:
            command += ["-p", "tests.upstream.swap"]
            run_env["JHUB_MANAGED_SWAP"] = swap
        else:
            run_env.pop("JHUB_MANAGED_SWAP", None)
        result = subprocess.run(
            command + args,
            cwd=cwd,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if not report.exists():
            raise RuntimeError(
                f"{label}: pytest wrote no report (exit {result.returncode}):\n"
                + (result.stdout + result.stderr)[-4000:]
            )
        return Run(label, json.loads(report.read_text()))


def compare_oauthenticator(
    python: str = sys.executable,
    swap: str = "oauthenticator",
    modules: list[str] | None = None,
    select: str = "",
) -> Comparison:
    """oauthenticator's tests, plain and with ``swap`` (the managed classes by default);
    ``select`` is a pytest ``-k`` expression."""
    args = ["-o", "asyncio_mode=auto", "--pyargs", *(modules or OAUTHENTICATOR_MODULES)]
    if select:
        args += ["-k", select]
    with tempfile.TemporaryDirectory(prefix="jhm-upstream-cwd-") as cwd:
        # run outside this repository, so that its pytest settings and conftest stay out
        plain = run_pytest("oauthenticator, plain classes", python, args, cwd=Path(cwd))
        managed = run_pytest(
            "oauthenticator, managed classes", python, args, swap=swap, cwd=Path(cwd)
        )
    return Comparison(plain, managed)


def compare_kubespawner(src: Path, python: str, swap: str = "kubespawner") -> Comparison:
    """kubespawner's cluster-free tests from its source checkout ``src``."""
    with tempfile.TemporaryDirectory(prefix="jhm-kubeconfig-") as tmp:
        kubeconfig = Path(tmp) / "config"
        kubeconfig.write_text(THROWAWAY_KUBECONFIG)
        env = {"KUBECONFIG": str(kubeconfig)}
        args = [*KUBESPAWNER_FILES, "-p", "no:randomly"]
        plain = run_pytest("kubespawner, plain class", python, args, cwd=src, env=env)
        managed = run_pytest(
            "kubespawner, managed class", python, args, swap=swap, cwd=src, env=env
        )
    return Comparison(plain, managed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=["oauthenticator", "kubespawner"])
    parser.add_argument("--src", type=Path, help="kubespawner source checkout (tag 7.1.0)")
    parser.add_argument("--python", default=sys.executable, help="the venv's python")
    options = parser.parse_args(argv)
    if os.sep in options.python:  # a path: the suites run in the source checkout's directory
        options.python = os.path.abspath(options.python)
    if options.suite == "oauthenticator":
        comparison = compare_oauthenticator(options.python)
    else:
        if not options.src or not (options.src / "tests" / "test_profile.py").exists():
            parser.error("kubespawner needs --src: a checkout of kubespawner 7.1.0")
        comparison = compare_kubespawner(options.src.resolve(), options.python)
    print(comparison.report())
    return 1 if comparison.managed_only_failures else 0


if __name__ == "__main__":
    sys.exit(main())
