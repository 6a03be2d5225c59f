"""The ``helm`` executable: rendering our templates, linting, and upgrades.

``render`` works on a copy of the chart with the values schema made from the installed
package's traits: with its dependencies from its ``charts/`` folder (so zero-to-jupyterhub is
rendered too, and helm checks its values against its schema), or with them left out when the
operator chose to go without them. ``lint`` leaves them out. ``deploy`` runs
``helm upgrade --install`` on the chart itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from . import schema
from .fleetfile import FleetError

HELM_ENV = "JHUB_MANAGED_HELM"


def find_helm(explicit: str | None = None) -> str:
    """``--helm``, else ``$JHUB_MANAGED_HELM``, else ``helm`` beside Python or on ``PATH``."""
    candidate = explicit or os.environ.get(HELM_ENV)
    if candidate:
        path = shutil.which(candidate)
        if not path:
            raise FleetError(f"the helm executable {candidate!r} was not found")
        return path
    beside = Path(sys.executable).parent / "helm"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    path = shutil.which("helm")
    if not path:
        raise FleetError(
            "helm was not found: install Helm 3, pass --helm, or set JHUB_MANAGED_HELM "
            "(`make helm` puts one in the development venv)"
        )
    return path


@contextmanager
def chart_copy(chart: Path, *, dependencies: bool) -> Iterator[Path]:
    """A temporary copy of ``chart`` whose values.schema.json is made from the traits of the
    installed jhub-managed: with the dependencies in its ``charts/`` folder, or with none
    (its Chart.yaml then names no dependency)."""
    with tempfile.TemporaryDirectory(prefix="jhm-chart-") as tmp:
        copy = Path(tmp) / chart.name
        left_out = () if dependencies else ("charts", "Chart.lock")
        shutil.copytree(chart, copy, ignore=shutil.ignore_patterns(*left_out))
        schema.write(copy)
        if not dependencies:
            meta_file = copy / "Chart.yaml"
            meta = yaml.safe_load(meta_file.read_text()) or {}
            meta.pop("dependencies", None)
            meta_file.write_text(yaml.safe_dump(meta, sort_keys=False))
        yield copy


def run_helm(helm: str, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [helm, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise FleetError(f"helm {args[0]} did not finish within {timeout:.0f}s") from None
    except OSError as e:
        raise FleetError(f"can't run {helm}: {e.strerror}") from None


def helm_error(result: subprocess.CompletedProcess) -> str:
    text = (result.stderr or result.stdout or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return " / ".join(lines[-3:]) if lines else f"exit code {result.returncode}"


def template(
    helm: str,
    chart: Path,
    release: str,
    namespace: str,
    values_file: Path,
    *,
    dependencies: bool,
) -> str:
    """The chart rendered by ``helm template``: with the dependencies in its ``charts/``
    folder, or our own templates only."""
    with chart_copy(chart, dependencies=dependencies) as copy:
        result = run_helm(
            helm,
            [
                "template",
                release,
                str(copy),
                "--namespace",
                namespace,
                "--values",
                str(values_file),
            ],
        )
    if result.returncode != 0:
        raise FleetError(f"helm template failed: {helm_error(result)}", hub=release)
    return result.stdout


def lint(helm: str, chart: Path, values_file: Path | None = None) -> subprocess.CompletedProcess:
    with chart_copy(chart, dependencies=False) as copy:
        args = ["lint", "--strict", str(copy)]
        if values_file is not None:
            args += ["--values", str(values_file)]
        return run_helm(helm, args)
