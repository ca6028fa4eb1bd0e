"""Benchmarks: ``python -m bench [name ...] [--quick]`` (``make bench``); not run by the tests.

Each module of this package with a ``run(quick: bool) -> None`` function is a
benchmark, named after the module.
"""
