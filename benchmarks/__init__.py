"""Benchmarks: each ``bench_*.py`` measures one performance target of the suite.

Every benchmark compares against a baseline measured in the same run (the machine is shared
and noisy), prints a short table and writes ``benchmarks/results/<name>.json``. Run them all
with ``make benchmarks`` (``python -m benchmarks``) or one with ``python -m benchmarks NAME``.
"""
