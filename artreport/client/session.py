"""Logins: the token, the session's lifetime, and the cache that lets later commands reuse one.

The token is ``MD5(orgid + key)`` and never changes for a given key, so a "session" is only the
platform's memory that this token logged in less than two hours ago. The cache therefore keeps
no secret at all: base URL, orgid, login and expiry times, and a salted fingerprint of the token
so that a cached login is reused only with the key it was made with. The token itself is a
bearer credential for every call and is recomputed from the config's key when needed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from artreport.config import Config
from artreport.errors import ConfigError
from artreport.state import private_dir, state_dir, write_private

#: The platform's login lifetime, from the spec.
SESSION_LIFETIME_SECONDS = 2 * 60 * 60
#: Log in again this long before expiry, so a request sent just before it, or a clock a little
#: behind the platform's, does not meet a 40003.
RENEW_MARGIN_SECONDS = 5 * 60

_CACHE_FORMAT = 1


def make_token(orgid: str, key: str) -> str:
    # MD5 is the platform's choice, not a security measure of ours (FIPS builds need the flag).
    return hashlib.md5((orgid + key).encode("utf-8"), usedforsecurity=False).hexdigest().upper()


@dataclass(frozen=True)
class Session:
    base_url: str
    orgid: str
    logged_in_at: float
    expires_at: float
    #: True when this login was found in the cache rather than made now.
    reused: bool = False

    @classmethod
    def started(cls, base_url: str, orgid: str, at: float) -> Session:
        return cls(base_url, orgid, logged_in_at=at, expires_at=at + SESSION_LIFETIME_SECONDS)

    def usable(self, now: float) -> bool:
        """Still comfortably before expiry (and not from the future, after a clock change)."""
        return self.logged_in_at <= now < self.expires_at - RENEW_MARGIN_SECONDS


class SessionCache:
    """One owner-only JSON file per base URL and orgid in ``directory``."""

    def __init__(self, directory: Path, *, required: bool = False) -> None:
        self.directory = directory
        #: Saving the login is the command's job (``artreport login``), so failing to is its
        #: failure; for the others the cache only spares the next command a login.
        self.required = required

    @classmethod
    def for_config(cls, config: Config, *, required: bool = False) -> SessionCache:
        return cls(state_dir(config) / "sessions", required=required)

    def path_for(self, base_url: str, orgid: str) -> Path:
        # Hashed because a URL is no file name, and a directory listing need not spell orgids.
        digest = hashlib.sha256(f"{base_url}\n{orgid}".encode()).hexdigest()
        return self.directory / f"{digest[:32]}.json"

    def load(self, base_url: str, orgid: str, token: str) -> Session | None:
        """The cached login for this platform and organisation made with ``token``'s key, or
        None; a missing, unreadable or foreign file is simply no cache."""
        try:
            stored = json.loads(self.path_for(base_url, orgid).read_bytes())
            if (
                stored["format"] != _CACHE_FORMAT
                or stored["base_url"] != base_url
                or stored["orgid"] != orgid
                or stored["fingerprint"] != _fingerprint(token, bytes.fromhex(stored["salt"]))
            ):
                return None
            session = Session(
                base_url,
                orgid,
                logged_in_at=float(stored["logged_in_at"]),
                expires_at=float(stored["expires_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return replace(session, reused=True)

    def save(self, session: Session, token: str) -> None:
        salt = secrets.token_bytes(16)
        stored = {
            "format": _CACHE_FORMAT,
            "base_url": session.base_url,
            "orgid": session.orgid,
            "logged_in_at": session.logged_in_at,
            "expires_at": session.expires_at,
            "salt": salt.hex(),
            "fingerprint": _fingerprint(token, salt),
        }
        path = self.path_for(session.base_url, session.orgid)
        private_dir(self.directory)
        try:
            write_private(path, json.dumps(stored, indent=2).encode())
        except OSError as exc:
            raise ConfigError(
                "state-dir-unusable", path=str(self.directory), reason=exc.strerror or ""
            ) from None


def _fingerprint(token: str, salt: bytes) -> str:
    return hashlib.sha256(salt + token.encode()).hexdigest()
