"""oauthenticator's own tests of the GitHub, generic and CILogon classes, run against the
managed classes: every test that passes with the upstream class passes with ours.

The suite runs twice in subprocesses (see ``tests/upstream/compare.py``), outside this
repository's pytest settings; kubespawner's suite runs the same way with
``make upstream-kubespawner KUBESPAWNER_SRC=...`` where its source was fetched.
"""

from __future__ import annotations

import pytest

from tests.upstream.compare import Comparison, Run, compare_oauthenticator
from tests.upstream.swap import parse_swaps

pytestmark = pytest.mark.upstream


@pytest.mark.timeout(2400)  # two runs of about 130 tests in subprocesses, on a loaded machine
def test_oauthenticator_suite_passes_with_the_managed_classes():
    comparison = compare_oauthenticator()
    print(comparison.report())  # the counts, plain vs managed, in the test's output
    assert len(comparison.plain.outcomes) > 100, comparison.report()
    assert comparison.plain.count("passed") > 50, comparison.report()
    assert set(comparison.managed.outcomes) == set(comparison.plain.outcomes)
    assert not comparison.managed_only_failures, comparison.report()


@pytest.mark.timeout(1200)
def test_the_comparison_notices_a_managed_class_that_breaks_an_upstream_test():
    broken = (
        "oauthenticator.github:GitHubOAuthenticator="
        "tests.upstream.broken:LetsEveryoneInGitHubOAuthenticator"
    )
    # two rows of upstream's table: one where upstream refuses the person, one where it
    # lets them in; the broken class lets everyone in
    comparison = compare_oauthenticator(
        swap=broken,
        modules=["oauthenticator.tests.test_github"],
        select="test_github and (00-class_config0 or 03-class_config3)",
    )
    assert set(comparison.plain.outcomes) == {
        "test_github.py::test_github[00-class_config0-False-None]",
        "test_github.py::test_github[03-class_config3-False-None]",
    }
    assert comparison.plain.count("passed") == 2
    assert comparison.managed_only_failures == sorted(comparison.plain.outcomes)


def test_a_test_missing_from_the_managed_run_counts_as_a_failure():
    plain = Run("plain", {"a::x": "passed", "a::y": "failed", "a::z": "passed"})
    managed = Run("managed", {"a::x": "passed", "a::y": "passed"})
    comparison = Comparison(plain, managed)
    assert comparison.managed_only_failures == ["a::z"]
    assert comparison.fixed_by_managed == ["a::y"]
    assert "failing only with the managed classes: 1" in comparison.report()


def test_swaps_are_named_or_preset():
    assert len(parse_swaps("oauthenticator")) == 3
    assert parse_swaps("m:A=n:B") == [("m:A", "n:B")]
    with pytest.raises(ValueError, match="not module:Name=module:Name"):
        parse_swaps("nonsense")
