"""Running the upstream projects' own test suites against the managed classes.

``swap`` is a pytest plugin that puts a managed class in place of the upstream one before
the upstream tests import it; ``compare`` runs a suite with and without it and reports
which tests fail only with the managed classes.
"""
