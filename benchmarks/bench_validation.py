"""Validation of a 200-profile settings document, as the hub and a save check it.

``document_errors`` with the operator's ceilings (schema, rules, ceilings for every profile
and every choice merged into it), and the schema check alone, against the Python
``jsonschema`` package checking the same schema in the same run (what the suite used
before). Target: the whole validation at most 30 ms (median). And a hub admin's save-back of
the same profiles written by the operator with a key of a spawn-page extension on each
profile and choice (``save_errors``: every such key found by the settings schema and
judged the operator's, place by place).
"""

from __future__ import annotations

import copy
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
    from jhub_managed.settings.admin import save_errors
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
    served = copy.deepcopy(document)
    for profile in served["profiles"]:
        profile["x-order"] = 1
        for choice in profile["profile_options"]["image"]["choices"].values():
            choice["slug"] = choice["display_name"].lower()
            choice["x-badge"] = "stable"
    assert save_errors(served, ceilings, base=served, previous=served) == []
    whole, schema, before, save_back = [], [], [], []
    for _ in range(REPEAT):  # interleaved, so a noisy moment touches them all
        whole += time_calls(lambda: document_errors(document, ceilings), 1)
        schema += time_calls(lambda: schema_errors(document), 1)
        before += time_calls(lambda: list(reference.iter_errors(document)), 1)
        save_back += time_calls(
            lambda: save_errors(served, ceilings, base=served, previous=served), 1
        )
    whole_summary = summary_ms(whole)
    write_results(
        "validation",
        {
            "profiles": len(document["profiles"]),
            "document_errors_with_ceilings": whole_summary,
            "schema_alone": summary_ms(schema),
            "schema_alone_python_jsonschema": summary_ms(before),
            "save_back_with_extension_keys": summary_ms(save_back),
            "target": "document_errors median at most 30 ms",
            "met": whole_summary["median_ms"] <= 30,
        },
    )


if __name__ == "__main__":
    main()
