"""Open-loop HTTP load: ``python benchmarks/load.py URL RATE SECONDS``.

Sends ``RATE`` requests a second for ``SECONDS`` seconds, each at its scheduled time whether
or not earlier ones were answered (so a slow server shows as latency, not as fewer
requests), and prints JSON: how many were sent and answered, the statuses, and latency
percentiles measured from each request's scheduled time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

import aiohttp


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run(url: str, rate: float, seconds: float) -> dict:
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=200, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(scheduled: float) -> None:
            try:
                async with session.get(url) as response:
                    await response.read()
                    statuses[str(response.status)] += 1
            except Exception as e:
                errors[type(e).__name__] += 1
                return
            latencies.append(time.perf_counter() - scheduled)

        # a first request opens a connection; it is not counted
        async with session.get(url) as response:
            await response.read()
        start = time.perf_counter() + 0.05
        tasks = []
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(scheduled)))
        await asyncio.gather(*tasks)
    return {
        "url_path": url.split("//", 1)[-1].split("/", 1)[-1],
        "rate": rate,
        "seconds": seconds,
        "sent": total,
        "answered": len(latencies),
        "statuses": dict(statuses),
        "errors": dict(errors),
        "p50_ms": round(1000 * percentile(latencies, 50), 2) if latencies else None,
        "p99_ms": round(1000 * percentile(latencies, 99), 2) if latencies else None,
        "max_ms": round(1000 * max(latencies), 2) if latencies else None,
    }


def main(argv: list[str]) -> int:
    url, rate, seconds = argv[0], float(argv[1]), float(argv[2])
    print(json.dumps(asyncio.run(run(url, rate, seconds))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
