"""Validation of a 200-profile settings document, as a save checks it.

``document_errors`` with the operator's ceilings (schema, rules, ceilings for every profile
and every choice merged into it), and the schema check alone, against the Python
``jsonschema`` package checking the same schema in the same run (what the suite used
before). Target: the whole validation at most 30 ms (median).
"""

from __future__ import annotations

import random

from benchmarks.bench_profiles import make_settings
from benchmarks.common import summary_ms, time_calls, write_results

REPEAT = 60
CEILINGS = {
    "cpu_limit": 8,
    "mem_limit": "32G",
    "gpu_limit": 1,
    "image_patterns": [r"quay\.io/x/.*"],
}


def main() -> None:
    import jsonschema

    from jhub_managed.settings import Ceilings, document_errors
    from jhub_managed.settings.schema import OPERATOR_SETTINGS_SCHEMA
    from jhub_managed.settings.validate import schema_errors

    document = make_settings(random.Random(42))
    ceilings = Ceilings.from_config(CEILINGS)
    assert document_errors(document, ceilings) == []
    reference = jsonschema.Draft202012Validator(
        OPERATOR_SETTINGS_SCHEMA, format_checker=jsonschema.FormatChecker(formats=("date-time",))
    )
    for _ in range(5):  # warm up
        document_errors(document, ceilings)
        list(reference.iter_errors(document))
    whole, schema, before = [], [], []
    for _ in range(REPEAT):  # interleaved, so a noisy moment touches all three
        whole += time_calls(lambda: document_errors(document, ceilings), 1)
        schema += time_calls(lambda: schema_errors(document), 1)
        before += time_calls(lambda: list(reference.iter_errors(document)), 1)
    whole_summary = summary_ms(whole)
    write_results(
        "validation",
        {
            "profiles": len(document["profiles"]),
            "document_errors_with_ceilings": whole_summary,
            "schema_alone": summary_ms(schema),
            "schema_alone_python_jsonschema": summary_ms(before),
            "target": "document_errors median at most 30 ms",
            "met": whole_summary["median_ms"] <= 30,
        },
    )


if __name__ == "__main__":
    main()
