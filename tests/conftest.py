"""Shared test settings: hypothesis profiles and a float-type guard.

Profiles: "ci" (the default: derandomized, few examples, so the Keras comparisons stay fast
and CI is repeatable) and "deep" (many more examples, for a run by hand:
`HYPOTHESIS_PROFILE=deep pytest`).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # the kernels on every CPU: reference/__init__.py

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=15, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _restore_floatx():
    """Every test starts and ends in float32, whatever it switches to."""
    import minidl

    minidl.config.set_floatx("float32")
    yield
    minidl.config.set_floatx("float32")


@pytest.fixture
def float64():
    """Run the test in float64 (for central-difference gradient checks)."""
    import minidl

    minidl.config.set_floatx("float64")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skipped test is a failed test: every test here must run there."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"
