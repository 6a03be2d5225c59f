"""``fleet status`` and ``fleet report``: every hub asked at once, the answers in one table
or one report."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from .console import err, out
from .fleetfile import Fleet, Hub
from .probe import Answer, ProbeError, Progress, error_detail, get, health, join

REPORT_PATH = "services/usage/api/report"
PAGINATION = "application/jupyterhub-pagination+json"


def _running_servers(hub: Hub, token: str, timeout: float) -> int:
    count, offset = 0, 0
    for _ in range(1000):
        answer = get(
            join(hub.base_url, "hub/api/users", {"state": "active", "offset": str(offset)}),
            token=token,
            timeout=timeout,
            accept=PAGINATION,
        )
        if answer.status != 200:
            raise ProbeError(f"{answer.status} {error_detail(answer)}".strip(), answer.status)
        data = answer.json()
        items = data["items"] if isinstance(data, dict) else data
        count += sum(len(user.get("servers") or {}) for user in items)
        following = (data.get("_pagination") or {}).get("next") if isinstance(data, dict) else None
        if not following:
            return count
        offset = following["offset"]
    return count


def hub_status(hub: Hub, timeout: float) -> dict[str, str]:
    row = {"hub": hub.name}
    state = health(hub.base_url, timeout=timeout)
    row["health"] = state.state
    not_passing = state.failing + [f"{name} (starting)" for name in state.starting]
    row["failing"] = ", ".join(not_passing) if not_passing else ("" if state.ok else state.reason)
    if state.status is None:
        row.update(jupyterhub="?", servers="?", settings="?")
        return row
    try:
        answer = get(join(hub.base_url, "hub/api/"), timeout=timeout)
        row["jupyterhub"] = str(answer.json().get("version", "?")) if answer.status == 200 else "?"
    except (ProbeError, AttributeError):
        row["jupyterhub"] = "?"
    token = hub.token()
    if not token:
        note = f"no token (${hub.token_env} unset)" if hub.token_env else "no token_env"
        row.update(servers=note, settings=note)
        return row
    try:
        row["servers"] = str(_running_servers(hub, token, timeout))
    except (ProbeError, KeyError, TypeError, AttributeError) as e:
        row["servers"] = f"? ({e})"
    try:
        answer = get(
            join(hub.base_url, "services/config/api/settings"), token=token, timeout=timeout
        )
        if answer.status == 200:
            row["settings"] = str(answer.json().get("version", "?"))
        else:
            row["settings"] = f"? ({answer.status})"
    except (ProbeError, AttributeError) as e:
        row["settings"] = f"? ({e})"
    return row


STATUS_COLUMNS = [
    ("hub", "HUB"),
    ("health", "HEALTH"),
    ("failing", "FAILING CHECKS"),
    ("jupyterhub", "JUPYTERHUB"),
    ("servers", "SERVERS"),
    ("settings", "SETTINGS VERSION"),
]


def table(rows: list[dict[str, str]], columns=STATUS_COLUMNS) -> str:
    widths = {k: max([len(title)] + [len(r.get(k, "")) for r in rows]) for k, title in columns}
    lines = ["  ".join(title.ljust(widths[k]) for k, title in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(row.get(k, "").ljust(widths[k]) for k, _ in columns).rstrip())
    return "\n".join(lines)


def in_parallel(hubs: list[Hub], work: Callable[[Hub], Any], workers: int = 16) -> list[Any]:
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hubs)))) as pool:
        return list(pool.map(work, hubs))


def cmd_status(args, fleet: Fleet, hubs: list[Hub]) -> int:
    rows = in_parallel(hubs, lambda hub: hub_status(hub, args.timeout))
    out(table(rows))
    bad = [r["hub"] for r in rows if r["health"] != "ok"]
    if bad:
        err(f"{len(bad)} of {len(rows)} hub(s) not healthy: {', '.join(bad)}")
        return 1
    return 0


def fetch_report(hub: Hub, query: dict[str, str], args) -> dict[str, Any]:
    token = hub.token()
    if not token:
        raise ProbeError(
            f"no token: ${hub.token_env} is not set" if hub.token_env else "no token_env"
        )
    url = join(hub.base_url, REPORT_PATH, query)
    last = ""
    for attempt in range(args.retries + 1):
        if attempt:
            import time

            time.sleep(min(8.0, args.retry_wait * 2 ** (attempt - 1)))
        try:
            answer: Answer = get(url, token=token, timeout=args.timeout)
        except ProbeError as e:
            last = str(e)
            continue
        if answer.status == 200:
            data = answer.json()
            if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
                raise ProbeError("the report has no rows")
            return data
        detail = error_detail(answer)
        last = f"answered {answer.status}" + (f": {detail}" if detail else "")
        if answer.status < 500 and answer.status != 429:
            break  # asking again gives the same answer
    raise ProbeError(last)


def cmd_report(args, fleet: Fleet, hubs: list[Hub]) -> int:
    for name in ("start", "end"):
        try:
            date.fromisoformat(getattr(args, name))
        except ValueError:
            err(f"--{name} {getattr(args, name)!r} is not a date (YYYY-MM-DD)")
            return 2
    query = {"start": args.start, "end": args.end, "group_by": args.group_by, "format": "json"}
    progress = Progress(len(hubs), "report")
    progress.show()

    def one(hub: Hub):
        try:
            result = (hub, fetch_report(hub, query, args), "")
        except ProbeError as e:
            result = (hub, None, str(e))
        progress.advance(hub.name + (" failed" if result[2] else ""))
        return result

    try:
        results = in_parallel(hubs, one)
    finally:
        progress.close()
    rows: list[dict[str, Any]] = []
    per_hub: dict[str, Any] = {}
    failed = []
    for hub, data, reason in results:
        if data is None:
            failed.append({"hub": hub.name, "reason": reason})
            continue
        per_hub[hub.name] = {k: data.get(k) for k in ("totals", "active_users")}
        rows += [{"hub": hub.name, **row} for row in data["rows"]]
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "json":
        document = {
            "start": args.start,
            "end": args.end,
            "group_by": args.group_by,
            "rows": rows,
            "hubs": per_hub,
            "failed": failed,
        }
        target.write_text(json.dumps(document, indent=2) + "\n")
    else:
        columns: list[str] = ["hub"]
        for row in rows:
            columns += [k for k in row if k not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        target.write_text(buffer.getvalue())
    out(f"{len(rows)} row(s) from {len(per_hub)} hub(s) written to {target}")
    for failure in failed:
        err(f"hub {failure['hub']}: no report: {failure['reason']}")
    return 1 if failed else 0


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value
