"""The health probe under load: 200 requests a second against the health service of a real
hub, against a bare tornado handler returning the same cached JSON, in the same run.

A hub (subprocess, real proxy, local spawner) runs the health service on a known port; the
bare handler (``bare_json.py``) serves the service's own answer. ``load.py`` sends each
request at its scheduled time (open loop) for ``JHM_BENCH_SECONDS`` seconds (default 10), in
alternating rounds. Targets: service p99 at most 20 ms, and at most 2x the bare p99.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import write_results

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
RATE = 200
SECONDS = float(os.environ.get("JHM_BENCH_SECONDS", "10"))
#: alternating rounds: on a shared machine the load of the moment moves both alike
ROUNDS = int(os.environ.get("JHM_BENCH_ROUNDS", "4"))
PATH = "/services/health/api/health"


def load(url: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(HERE / "load.py"), url, str(RATE), str(SECONDS)],
        capture_output=True,
        text=True,
        timeout=SECONDS * 10 + 60,
        check=True,
    )
    return json.loads(result.stdout)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.health_hub import start_hub
    from tests.fixtures.processes import Process, free_port
    from tests.fixtures.waiting import wait_until

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        port = free_port()
        hub = start_hub(
            tmp_path,
            {"services": ["health"], "idle_timeout": 0, "service_ports": {"health": port}},
        )
        bare = None
        try:
            service_url = f"http://127.0.0.1:{port}{PATH}"
            # wait for a settled answer (every check has run), then serve the same bytes
            wait_until(lambda: hub.health()[0] == 200, 120, "the hub to be healthy", 0.5)
            with urllib.request.urlopen(service_url, timeout=10) as response:
                body = response.read()
            body_file = tmp_path / "answer.json"
            body_file.write_bytes(body)
            bare_port = free_port()
            bare = Process(
                [sys.executable, str(HERE / "bare_json.py"), str(bare_port), PATH, str(body_file)],
                tmp_path / "bare.log",
            )
            bare_url = f"http://127.0.0.1:{bare_port}{PATH}"

            def bare_up() -> bool:
                try:
                    with urllib.request.urlopen(bare_url, timeout=2) as r:
                        return r.status == 200
                except OSError:
                    return False

            wait_until(bare_up, 30, "the bare handler to answer")
            rounds = []
            for _ in range(ROUNDS):
                rounds.append({"bare": load(bare_url), "service": load(service_url)})
                time.sleep(1)
            proxied = load(hub.url.rstrip("/") + PATH)
        finally:
            if bare is not None:
                bare.stop()
            hub.stop()

    def median_of(kind: str, key: str) -> float:
        """The median over the rounds (each round's figure is already a percentile)."""
        return statistics.median(r[kind][key] for r in rounds)

    service_p99 = median_of("service", "p99_ms")
    bare_p99 = median_of("bare", "p99_ms")
    ratio = round(service_p99 / bare_p99, 2)
    answered = all(r[k]["answered"] == r[k]["sent"] for r in rounds for k in ("bare", "service"))
    write_results(
        "health",
        {
            "rate_per_s": RATE,
            "seconds_per_round": SECONDS,
            "rounds": rounds,
            "through_the_proxy": proxied,
            "service_p50_ms": median_of("service", "p50_ms"),
            "service_p99_ms": service_p99,
            "bare_p50_ms": median_of("bare", "p50_ms"),
            "bare_p99_ms": bare_p99,
            "p99_ratio": ratio,
            "every_request_answered": answered,
            "target": "service p99 at most 20 ms and at most 2x the bare p99",
            "met": answered and service_p99 <= 20 and ratio <= 2,
        },
    )


if __name__ == "__main__":
    main()
