"""Edits of the settings document: profile list changes and the three-way merge."""

from __future__ import annotations

import copy

import pytest

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.settings import merge

from .fixtures.forms import UNLISTED_PROFILE


def test_profile_list_changes():
    profiles = copy.deepcopy(DEMO_SETTINGS["profiles"])
    slugs = lambda ps: [p["slug"] for p in ps]  # noqa: E731
    assert slugs(merge.move_profile(profiles, "research", -1)) == ["python", "research", "classic"]
    assert slugs(merge.move_profile(profiles, "python", -1)) == ["python", "classic", "research"]
    assert slugs(merge.delete_profile(profiles, "classic")) == ["python", "research"]
    defaults = [p.get("default", False) for p in merge.make_default(profiles, "classic")]
    assert defaults == [False, True, False]
    replaced, index = merge.put_profile(
        profiles, {"display_name": "C", "slug": "c", "default": True}, "classic"
    )
    assert index == 1 and slugs(replaced) == ["python", "c", "research"]
    assert [bool(p.get("default")) for p in replaced] == [False, True, False]
    added, index = merge.put_profile(profiles, {"display_name": "New", "slug": "new"}, None)
    assert index == 3 and slugs(added)[-1] == "new"
    assert profiles == DEMO_SETTINGS["profiles"]  # the input is left alone
    with pytest.raises(merge.ProfileNotFound):
        merge.delete_profile(profiles, "nope")


def test_a_form_saved_over_someone_elses_change_keeps_both():
    base = {"organization_name": "Old", "funded_by": "Old funder", "contact": "x@example.org"}
    mine = {**base, "contact": "me@example.org"}
    theirs = {**base, "funded_by": "New funder", "contact": "them@example.org"}
    merged, clashes = merge.three_way(base, mine, theirs)
    assert merged == {
        "organization_name": "Old",
        "funded_by": "New funder",
        "contact": "me@example.org",
    }
    assert clashes == [("contact",)]


def test_three_way_merges_profiles_key_by_key_and_keeps_removals():
    base = copy.deepcopy(UNLISTED_PROFILE)
    mine = copy.deepcopy(base)
    mine["kubespawner_override"]["cpu_limit"] = 2
    del mine["profile_options"]["image"]["choices"]["r"]
    theirs = copy.deepcopy(base)
    theirs["description"] = "theirs"
    theirs["kubespawner_override"]["mem_limit"] = "4G"
    merged, clashes = merge.three_way(base, mine, theirs)
    assert clashes == []
    assert merged["description"] == "theirs"
    assert merged["kubespawner_override"]["cpu_limit"] == 2
    assert merged["kubespawner_override"]["mem_limit"] == "4G"
    assert list(merged["profile_options"]["image"]["choices"]) == ["scipy"]
