"""The ``helm`` executable: rendering our templates, linting, and upgrades.

``render`` and ``lint`` work on a copy of the chart with its zero-to-jupyterhub dependency
left out (it can't be fetched everywhere; z2jh's values are checked against its schema by
``fleet validate`` instead). ``deploy`` runs ``helm upgrade --install`` on the chart itself.
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
def chart_without_dependencies(chart: Path) -> Iterator[Path]:
    """A temporary copy of ``chart`` whose Chart.yaml names no dependency (and whose
    values.schema.json is made from the traits of the installed jhub-managed)."""
    with tempfile.TemporaryDirectory(prefix="jhm-chart-") as tmp:
        copy = Path(tmp) / chart.name
        shutil.copytree(chart, copy, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
        schema.write(copy)
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


def template(helm: str, chart: Path, release: str, namespace: str, values_file: Path) -> str:
    """Our templates rendered by ``helm template`` (the dependency left out)."""
    with chart_without_dependencies(chart) as copy:
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
    with chart_without_dependencies(chart) as copy:
        args = ["lint", "--strict", str(copy)]
        if values_file is not None:
            args += ["--values", str(values_file)]
        return run_helm(helm, args)
