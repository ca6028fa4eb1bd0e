"""Test helpers for plugin authors: a recording driver context and the driver conformance suite.

In a driver distribution's tests::

    from dxconnect.testing import DriverConformance

    class TestMyDriverConformance(DriverConformance):
        driver_class = MyDriver

``pytest`` then runs every conformance check against ``MyDriver``. A driver
with a documented way to make a send fail subclasses
:class:`FailingSendConformance` instead and sets ``failing_recipient``.
"""

import pytest

pytest.register_assert_rewrite("dxconnect.testing.conformance", "dxconnect.testing.installation")

from dxconnect.testing.conformance import DriverConformance, FailingSendConformance
from dxconnect.testing.context import RecordingContext
from dxconnect.testing.installation import assert_driver_installed

__all__ = [
    "DriverConformance",
    "FailingSendConformance",
    "RecordingContext",
    "assert_driver_installed",
]
