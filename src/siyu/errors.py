"""Exceptions every layer shares. The CLI turns them into one-line messages and exit codes."""

from __future__ import annotations


class SiyuError(Exception):
    """A problem the user can fix; the message says what and how (exit code 1)."""

    exit_code = 1


class UsageError(SiyuError):
    """Bad input given on the command line or to the API (exit code 2)."""

    exit_code = 2


class WorkspaceNotFound(SiyuError):
    """No workspace at the given or discovered location."""


class WorkspaceBusy(SiyuError):
    """Another process holds the warehouse file (DuckDB allows one writer)."""


class UnreadableFile(UsageError):
    """A source file that cannot be parsed at all; nothing from it was loaded (exit code 2)."""
