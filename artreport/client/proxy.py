"""Which proxy a request to the platform goes through, as httpx picks it from the environment
(``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` …), and which setting named it: so that a failure of
the proxy is said to be the proxy's, and ``doctor`` dials the proxy rather than the platform."""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass

import httpx

from artreport.messages import Phrase

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Proxy:
    url: httpx.URL
    #: Where the proxy was set: an environment variable's name, or the system's settings
    #: (Windows, macOS), which the user has to change to change it.
    source: str

    @property
    def host(self) -> str:
        return self.url.host

    @property
    def port(self) -> int:
        return self.url.port or _DEFAULT_PORTS.get(self.url.scheme, 80)

    @property
    def address(self) -> str:
        """Host and port, never the user name and password the URL may hold."""
        return f"{self.host}:{self.port}"


def proxy_for(url: httpx.URL) -> Proxy | None:
    """The proxy for ``url`` read as httpx reads it (through urllib's ``getproxies``), or None.
    The client turns proxies off for a loopback platform; callers check that first."""
    proxies = urllib.request.getproxies()
    scheme = url.scheme if proxies.get(url.scheme) else "all"
    value = proxies.get(scheme)
    if not value or urllib.request.proxy_bypass_environment(url.host, proxies):
        return None
    # Lower case first, as urllib prefers it.
    names = (f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
    source = next((name for name in names if os.environ.get(name) == value), None)
    return Proxy(
        httpx.URL(value if "://" in value else f"http://{value}"),
        source or Phrase("proxy-from-system"),
    )


def asks_for_login(exc: httpx.ProxyError) -> bool:
    """The proxy refused to open the tunnel with 407 Proxy Authentication Required (httpx
    words the error as the status line's code and reason)."""
    return str(exc).startswith("407")
