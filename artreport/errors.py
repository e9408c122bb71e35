"""Errors that stop a command, and the exit codes they map to.

Problems found in the data (a bad cell, a rejected row) are not exceptions: they are
:class:`artreport.validation.problems.Problem` values collected into a report. The exceptions
here are for conditions that stop the whole command::

    ArtreportError            exit 2 unless a subclass says otherwise
     ├── UsageError           unknown record type, contradictory options
     ├── ConfigError          config file missing, unreadable or incomplete
     │    └── LedgerError     the ledger cannot be opened, read or written
     ├── InputError           input file missing, unreadable, empty or of an unknown format
     ├── AuthError            exit 3: the platform rejected our credentials
     ├── UnreachableError     exit 4: the platform could not be reached after retries, or
     │                        failed on its side (its login, its sessions, its answers)
     ├── StoppedError         the run was stopped by a signal: the client starts no new request
     └── LockedError          exit 5: another artreport run holds the lock

Every error carries a message code from :mod:`artreport.messages` and its parameters, so the
CLI can print it in the user's language.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_UNREACHABLE = 4
EXIT_LOCKED = 5
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class ArtreportError(Exception):
    exit_code = EXIT_USAGE

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(code)

    def message(self, lang: str = "zh") -> str:
        from artreport.messages import translate

        return translate(self.code, lang, **self.params)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message('en')}"


class UsageError(ArtreportError):
    pass


class ConfigError(ArtreportError):
    pass


class LedgerError(ConfigError):
    """The ledger cannot be used (damaged, another account's, its disk full). Told apart
    from other config errors so that a push it stops lists the rows it did not send for it."""


class InputError(ArtreportError):
    pass


class AuthError(ArtreportError):
    exit_code = EXIT_AUTH


class UnreachableError(ArtreportError):
    exit_code = EXIT_UNREACHABLE


class StoppedError(ArtreportError):
    """Raised by a client whose run was stopped (SIGINT/SIGTERM) instead of starting a request.
    The push lists the request's rows as not sent; the exit code comes from the signal."""


class LockedError(ArtreportError):
    exit_code = EXIT_LOCKED
