"""Benchmarks of the paths users run, each beside a baseline measured in the same run.

Run them all with ``python -m bench`` (see ``bench/__main__.py`` and docs/performance.md).
"""
