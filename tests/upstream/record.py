"""pytest plugin: write each test's outcome to the JSON file named in
``JHUB_MANAGED_UPSTREAM_REPORT``, as ``{"test_file.py::test_name[id]": "passed"}``.

Test ids are the file's name and the test's name, so the runs with and without our classes
(and runs from different checkouts or venvs) name the same test the same way.
"""

from __future__ import annotations

import json
import os

_OUTCOMES: dict[str, str] = {}


def _test_id(report) -> str:
    path = os.path.basename(report.location[0])
    name = report.nodeid.split("::", 1)[1] if "::" in report.nodeid else report.nodeid
    return f"{path}::{name}"


def pytest_runtest_logreport(report):
    test = _test_id(report)
    if report.failed:
        _OUTCOMES[test] = "failed"
    elif report.skipped and _OUTCOMES.get(test) != "failed":
        _OUTCOMES[test] = "skipped"
    elif report.when == "call" and report.passed and test not in _OUTCOMES:
        _OUTCOMES[test] = "passed"


def pytest_collectreport(report):
    if report.failed:  # a module that does not even import: counted as one failure
        _OUTCOMES[f"{report.nodeid or 'collection'}::<collection>"] = "failed"


def pytest_sessionfinish(session):
    path = os.environ.get("JHUB_MANAGED_UPSTREAM_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(_OUTCOMES, f, indent=1, sort_keys=True)
