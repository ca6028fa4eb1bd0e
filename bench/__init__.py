"""Benchmarks: ``python -m bench [name ...] [--quick]`` (``make bench``). Not part of the test suite.

Each module of this package with a ``run(quick: bool) -> None`` function is a
benchmark, named after the module.
"""
