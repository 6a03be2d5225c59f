"""The settings service's writes against the real store, on SQLite and PostgreSQL: validated
versions, conflicts that lose nothing, restores that overwrite nothing, and the log."""

from __future__ import annotations

import copy
import json
import logging
import threading

import pytest

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.services.config.editor import (
    SaveConflict,
    SaveRefused,
    SettingsEditor,
    UnknownVersion,
)
from jhub_managed.settings import Ceilings
from jhub_managed.store import SettingsStore
from jhub_managed.store.source import SettingsSource

CEILINGS = Ceilings.from_config({"cpu_limit": 4, "mem_limit": "8G"})


@pytest.fixture
def editor(db_url):
    source = SettingsSource(db_url, hub_values=DEMO_SETTINGS)
    editor = SettingsEditor(source, CEILINGS, log=logging.getLogger("test.config"))
    yield editor
    source.store.dispose()


def with_profiles(document: dict, profiles: list[dict]) -> dict:
    document = copy.deepcopy(document)
    document["profiles"] = profiles
    return document


def test_a_save_stores_the_layer_and_resolves_over_the_deployment(editor, caplog):
    assert editor.current().version == 0
    layer = {"branding": {"organization_name": "Physics"}}
    with caplog.at_level(logging.INFO, logger="test.config"):
        saved = editor.save(layer, author="admin", comment="our name", expected_version=0)
    assert saved.version == 1
    # mappings merge with the deployment's values; nothing else changed
    assert saved.settings["branding"]["organization_name"] == "Physics"
    assert saved.settings["branding"]["contact"] == DEMO_SETTINGS["branding"]["contact"]
    assert saved.settings["profiles"] == DEMO_SETTINGS["profiles"]
    assert editor.current().version == 1
    assert editor.stored_layer(1) == layer
    record = next(r for r in caplog.records if getattr(r, "event", "") == "settings.saved")
    assert (record.author, record.version, record.comment) == ("admin", 1, "our name")


def test_a_refused_save_stores_nothing_and_says_every_problem(editor):
    profiles = copy.deepcopy(DEMO_SETTINGS["profiles"])
    profiles[0]["kubespawner_override"]["cpu_limit"] = 16
    profiles[1]["slug"] = "python"
    profiles[2]["profile_options"]["interface"]["unlisted_choice"] = {
        "enabled": True,
        "validation_regex": "(",
    }
    document = with_profiles(DEMO_SETTINGS, profiles)
    document["announcement"]["text"] = "x" * 6000
    with pytest.raises(SaveRefused) as refused:
        editor.save(document, author="admin", expected_version=0)
    paths = {e.path for e in refused.value.errors}
    assert "/announcement/text" in paths
    # schema errors come first; the rules are checked once the schema holds
    document["announcement"]["text"] = "ok"
    with pytest.raises(SaveRefused) as refused:
        editor.save(document, author="admin", expected_version=0)
    messages = {e.path: e.message for e in refused.value.errors}
    assert "ceiling of 4 CPUs" in messages["/profiles/0/kubespawner_override/cpu_limit"]
    assert "already used" in messages["/profiles/1/slug"]
    assert (
        "regular expression"
        in messages["/profiles/2/profile_options/interface/unlisted_choice/validation_regex"]
    )
    assert editor.current().version == 0
    assert editor.store.history() == []


def test_oversized_documents_and_comments_are_refused(editor):
    huge = {"profiles": [], "announcement": {"text": "x"}, "junk": "y" * 1_100_000}
    with pytest.raises(SaveRefused, match="bytes"):
        editor.save(huge, author="admin", expected_version=0)
    with pytest.raises(SaveRefused, match="comment"):
        editor.save({}, author="admin", comment="c" * 1001, expected_version=0)
    with pytest.raises(SaveRefused, match="must be an object"):
        editor.save([], author="admin", expected_version=0)
    assert editor.current().version == 0


def test_two_admins_from_the_same_version_one_wins_nothing_is_lost(editor):
    start = editor.current()
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def save(author: str, name: str) -> None:
        document = copy.deepcopy(start.document)
        document["branding"]["organization_name"] = name
        barrier.wait()
        try:
            results[author] = editor.save(document, author=author, expected_version=start.version)
        except SaveConflict as e:
            results[author] = e

    threads = [
        threading.Thread(target=save, args=(author, name))
        for author, name in (("ada", "Ada's hub"), ("bo", "Bo's hub"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    conflicts = [a for a, r in results.items() if isinstance(r, SaveConflict)]
    winners = [a for a, r in results.items() if not isinstance(r, SaveConflict)]
    assert len(conflicts) == 1 and len(winners) == 1, results
    assert results[conflicts[0]].current == 1
    assert editor.current().version == 1
    assert [r.author for r in editor.store.history()] == winners
    # the loser starts again from the winner's version: both changes are kept
    document = copy.deepcopy(editor.current().document)
    document["branding"]["contact"] = f"{conflicts[0]}@example.org"
    editor.save(document, author=conflicts[0], expected_version=1)
    final = editor.current().document["branding"]
    assert final["organization_name"] == ("Ada's hub" if winners == ["ada"] else "Bo's hub")
    assert final["contact"] == f"{conflicts[0]}@example.org"


def test_restore_makes_a_new_version_and_overwrites_nothing(editor):
    first = with_profiles(DEMO_SETTINGS, DEMO_SETTINGS["profiles"][:1])
    editor.save(first, author="admin", comment="only python", expected_version=0)
    second = with_profiles(DEMO_SETTINGS, DEMO_SETTINGS["profiles"][1:])
    editor.save(second, author="admin", comment="no python", expected_version=1)
    restored = editor.restore(1, author="carol")
    assert restored.version == 3
    assert [p["slug"] for p in restored.settings["profiles"]] == ["python"]
    history = editor.store.history()
    assert [(r.version, r.restored_from, r.comment) for r in history] == [
        (3, 1, "Restored version 1"),
        (2, None, "no python"),
        (1, None, "only python"),
    ]
    assert editor.stored_layer(2) == second  # untouched
    # version 0: back to the deployment's settings, as a new version
    back = editor.restore(0, author="carol", expected_version=3)
    assert back.version == 4 and back.settings == editor.source.base_document()
    with pytest.raises(SaveConflict):
        editor.restore(1, author="carol", expected_version=3)
    with pytest.raises(UnknownVersion):
        editor.restore(99, author="carol")
    with pytest.raises(UnknownVersion):
        editor.restore(2**40, author="carol")


def test_a_version_that_breaks_todays_ceilings_is_not_restored(db_url):
    store = SettingsStore(db_url)
    generous = copy.deepcopy(DEMO_SETTINGS)
    generous["profiles"][0]["kubespawner_override"]["cpu_limit"] = 8
    store.save(json.loads(json.dumps(generous)), author="admin", expected_version=0)
    store.save({}, author="admin", expected_version=1)
    store.dispose()
    # the operator lowered the ceiling since version 1 was saved
    source = SettingsSource(db_url)
    editor = SettingsEditor(source, CEILINGS)
    with pytest.raises(SaveRefused, match="ceiling of 4 CPUs"):
        editor.restore(1, author="admin")
    assert editor.current().version == 2
    source.store.dispose()
