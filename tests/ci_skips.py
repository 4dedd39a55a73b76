"""With LLAMA_MESH_CI=1 (set by .ci/run), a test skipped for a reason that must not happen on a CI machine (a package
that is not installed, no PostgreSQL) fails the run: such a skip means a part of the suite silently did not run.
Every skip is listed either way (`-rs` in the pytest options)."""

from __future__ import annotations

import os

import pytest

CI_ENV = "LLAMA_MESH_CI"
# Words of skip reasons that name something a CI machine (after `make setup`) must have.
# (`could not import` is pytest.importorskip's own reason.)
FORBIDDEN_IN_CI = ("not installed", "could not import", "No module named", "PostgreSQL", "needs modules")

_forbidden: list[str] = []


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def forbidden_in_ci(reason: str) -> bool:
    return any(word in reason for word in FORBIDDEN_IN_CI)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and os.environ.get(CI_ENV) == "1":
        reason = skip_reason(report)
        if forbidden_in_ci(reason):
            _forbidden.append(f"{report.nodeid}: {reason}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _forbidden:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"{CI_ENV}=1: {len(_forbidden)} test(s) skipped for a reason CI must not have:", red=True
            )
            for line in _forbidden:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
