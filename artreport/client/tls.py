"""Why the platform's certificate was not accepted, and what to do about it: one diagnosis for
``doctor``'s TLS line and for the error that stops a push, so that both give the same advice."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

E = TypeVar("E", bound=BaseException)

# OpenSSL's X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code gives them, grouped
# by what the user has to do about them.
_VERIFY_CODES = {
    9: "doctor-tls-not-yet-valid",  # CERT_NOT_YET_VALID
    10: "doctor-tls-expired",  # CERT_HAS_EXPIRED
    2: "doctor-tls-unknown-authority",  # UNABLE_TO_GET_ISSUER_CERT
    18: "doctor-tls-unknown-authority",  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: "doctor-tls-unknown-authority",  # SELF_SIGNED_CERT_IN_CHAIN
    20: "doctor-tls-unknown-authority",  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "doctor-tls-unknown-authority",  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    62: "doctor-tls-name-mismatch",  # HOSTNAME_MISMATCH
    64: "doctor-tls-name-mismatch",  # IP_ADDRESS_MISMATCH
}
_TLS_HINTS = {
    "doctor-tls-not-yet-valid": "doctor-hint-clock",
    "doctor-tls-expired": "doctor-hint-tls-expired",
    "doctor-tls-name-mismatch": "doctor-hint-tls-name",
}


@dataclass(frozen=True)
class CertificateProblem:
    """What is wrong (``code``) and what to do (``hint``): message codes, both rendered with
    ``params``."""

    code: str
    hint: str
    params: dict[str, Any] = field(default_factory=dict)


def certificate_problem(
    exc: BaseException, *, host: str, ca_bundle: str | None
) -> CertificateProblem | None:
    """The diagnosis of a failed certificate check among ``exc`` and its causes; None when the
    failure was something else. Advice to set ``ca_bundle`` is given only where it can help:
    not for an expired certificate, nor for one made out for another name."""
    verification = cause(exc, ssl.SSLCertVerificationError)
    if verification is not None:
        code = _VERIFY_CODES.get(getattr(verification, "verify_code", None), "doctor-tls-rejected")
        reason = getattr(verification, "verify_message", None) or str(verification)
    else:
        # Some wrappers keep only OpenSSL's words for it.
        said = next((str(e) for e in _chain(exc) if "CERTIFICATE_VERIFY_FAILED" in str(e)), None)
        if said is None:
            return None
        code, reason = "doctor-tls-rejected", said
    params: dict[str, Any] = {"host": host, "reason": reason.rstrip(".")}
    hint = _TLS_HINTS.get(code)
    if hint is None:
        hint = "doctor-hint-ca-bundle-wrong" if ca_bundle else "doctor-hint-ca-bundle"
        params["path"] = ca_bundle or "-"
    return CertificateProblem(code, hint, params)


def cause(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of ``kind`` among ``exc`` and its causes (httpx wraps ssl's errors
    in two layers of its own)."""
    return next((seen for seen in _chain(exc) if isinstance(seen, kind)), None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__
