"""Whole spawn through the hub against the Kubernetes API emulator.

``ManagedKubeSpawner`` (profiles from the settings store, validated, attribution labels)
against plain ``KubeSpawner`` with the same static profile list, in the same run, in
alternating blocks. Target: ratio of medians at most 1.05.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks.common import write_results

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "times.jsonl"
        os.environ["JHM_BENCH_OUT"] = str(out)
        sys.path.insert(0, str(ROOT))
        code = pytest.main(
            [
                str(ROOT / "benchmarks" / "spawn_measure.py"),
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "tests.conftest",
                "--rootdir",
                str(ROOT),
            ]
        )
        if code != 0:
            raise SystemExit(f"spawn benchmark failed (pytest exit {code})")
        blocks = [json.loads(line) for line in out.read_text().splitlines()]
    times = {"managed": [], "plain": [], "work-managed": [], "work-plain": []}
    for block in blocks:
        times[block["kind"]] += block["times"]
    managed = statistics.median(times["managed"])
    plain = statistics.median(times["plain"])
    work_managed = statistics.median(times["work-managed"])
    work_plain = statistics.median(times["work-plain"])
    write_results(
        "spawn",
        {
            "spawner_work_per_spawn": {
                "managed_median_ms": round(1000 * work_managed, 3),
                "plain_median_ms": round(1000 * work_plain, 3),
                "difference_ms": round(1000 * (work_managed - work_plain), 3),
                "n": len(times["work-managed"]),
            },
            "spawns_per_class": len(times["managed"]),
            "managed_kube_spawner_median_s": round(managed, 3),
            "plain_kube_spawner_median_s": round(plain, 3),
            "managed_times_s": [round(t, 3) for t in times["managed"]],
            "plain_times_s": [round(t, 3) for t in times["plain"]],
            "ratio": round(managed / plain, 3),
            # the managed work added to a spawn, against the plain spawn's median
            "ratio_from_work": round((plain + work_managed - work_plain) / plain, 4),
            "target": "ratio at most 1.05",
            "met": managed / plain <= 1.05,
        },
    )


if __name__ == "__main__":
    main()
