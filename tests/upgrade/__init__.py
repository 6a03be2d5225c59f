"""Upgrading from an earlier release: a store written by that release's own code, in a venv
of its own (:mod:`tests.fixtures.previous_release`), then read by this one.

``store_contents`` is run by the earlier release's Python to write the store and work out
its figures; the tests call the same functions with this release's code to compare.
"""
