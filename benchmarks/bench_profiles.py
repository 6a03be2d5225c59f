"""Profile resolution for one spawn: 200 profiles, 100 groups.

What a spawn costs on top of the hub: read the settings version (one query, against a real
SQLite store), filter the profiles by the user's groups, validate the request. The baseline,
measured in the same run, is one bare ``SELECT 1`` on the same engine: the floor of any
per-spawn store access. Target: median under 2 ms.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from sqlalchemy import text

from benchmarks.common import summary_ms, time_calls, write_results
from jhub_managed.settings import profiles_for_groups, select_profile
from jhub_managed.store import SettingsStore
from jhub_managed.store.source import SettingsSource

N_PROFILES = 200
N_GROUPS = 100
REPEAT = 2000


def make_settings(rng: random.Random) -> dict:
    groups = [f"group-{i}" for i in range(N_GROUPS)]
    profiles = []
    for i in range(N_PROFILES):
        profiles.append(
            {
                "display_name": f"Profile {i}",
                "slug": f"profile-{i}",
                "description": "An environment " * 5,
                "allowed_groups": rng.sample(groups, k=rng.randint(0, 5)),
                "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"},
                "profile_options": {
                    "image": {
                        "display_name": "Image",
                        "choices": {
                            f"v{j}": {
                                "display_name": f"Version {j}",
                                "allowed_groups": rng.sample(groups, k=rng.randint(0, 2)),
                                "kubespawner_override": {"image": f"quay.io/x/image:{j}"},
                            }
                            for j in range(5)
                        },
                        "unlisted_choice": {
                            "enabled": True,
                            "validation_regex": r"quay\.io/x/[a-z-]+:[0-9.]+",
                            "kubespawner_override": {"image": "{value}"},
                        },
                    }
                },
            }
        )
    return {"profiles": profiles}


def main() -> None:
    rng = random.Random(42)
    settings = make_settings(rng)
    user_groups = rng.sample([f"group-{i}" for i in range(N_GROUPS)], k=10)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        store = SettingsStore(url)
        store.save(settings, author="bench", expected_version=0)
        source = SettingsSource(url)
        source.current()  # the hub has read this version before
        allowed = profiles_for_groups(source.current().profiles, user_groups)
        request = {"profile": allowed[-1]["slug"], "image--unlisted-choice": "quay.io/x/y:1.0"}

        def one_spawn():
            current = source.current()
            profiles_for_groups(current.profiles, user_groups)
            select_profile(current.profiles, user_groups, request)

        def baseline():
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1")).scalar()

        for _ in range(100):  # warm up both
            one_spawn()
            baseline()
        spawn_times = time_calls(one_spawn, REPEAT)
        base_times = time_calls(baseline, REPEAT)
        store.dispose()
        source.store.dispose()
    spawn = summary_ms(spawn_times)
    base = summary_ms(base_times)
    write_results(
        "profiles",
        {
            "profiles": N_PROFILES,
            "groups": N_GROUPS,
            "user_groups": len(user_groups),
            "allowed_profiles": len(allowed),
            "resolution": spawn,
            "baseline_select_1": base,
            "ratio_to_baseline": round(spawn["median_ms"] / base["median_ms"], 2),
            "target": "median under 2 ms",
            "met": spawn["median_ms"] < 2,
        },
    )


if __name__ == "__main__":
    main()
