"""Settings: a YAML file, overridden by environment variables.

The file is found from ``--config PATH``, else ``$ARTREPORT_CONFIG``, else ``./artreport.yaml``.
``ARTREPORT_BASE_URL``, ``ARTREPORT_ORGID``, ``ARTREPORT_KEY`` and ``ARTREPORT_LANG`` override
the file's values.
The key is a secret: it is kept out of ``repr`` so that no log line or traceback shows it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import httpx
import yaml

from artreport import yamlload
from artreport.dictionaries import load_dictionaries
from artreport.errors import ConfigError
from artreport.messages import LANGUAGES

DEFAULT_CONFIG_NAME = "artreport.yaml"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5
DEFAULT_RETRY_MAX_SECONDS = 120.0
DEFAULT_CHUNK_SIZE = 200
DEFAULT_CHUNK_BYTES = 2_000_000
DEFAULT_CONCURRENCY = 1
#: The most requests in parallel, from the config as from ``push --concurrency``: ``sync`` has
#: only the config, and a hundred at once against the province's platform is an attack.
MAX_CONCURRENCY = 32

_ENV_OVERRIDES = {
    "ARTREPORT_BASE_URL": "base_url",
    "ARTREPORT_ORGID": "orgid",
    "ARTREPORT_KEY": "key",
    # Checked as the file's lang is: a typo in a crontab must stop the job, as the same typo
    # in the file or in --lang does, not quietly change the words its log is read in.
    "ARTREPORT_LANG": "lang",
}


@dataclass(frozen=True)
class Config:
    base_url: str = ""
    orgid: str = ""
    key: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    concurrency: int = DEFAULT_CONCURRENCY
    verify: bool = True
    ca_bundle: str | None = None
    state_dir: str | None = None
    lang: str | None = None
    #: For ``sync``: file name patterns per record type, beside the type's own names.
    sync_patterns: dict[str, list[str]] | None = field(default=None, hash=False)
    #: Code tables for coded fields, by ``field`` or ``type.field`` (see ``dictionaries``).
    dictionaries: dict[str, dict[int, str]] | None = field(default=None, hash=False)
    source: Path | None = None
    #: Settings in the file that artreport does not know (a typo, or one from a newer
    #: version): ignored, and named in a warning.
    unknown_settings: tuple[str, ...] = ()
    #: Settings the file writes more than once, with the lines they are on: the last one
    #: counts, as YAML has it, and a warning names them.
    repeated_settings: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def require(self, *names: str) -> None:
        """Raise a ConfigError naming the settings a command needs but the config lacks."""
        missing = [n for n in names if not getattr(self, n)]
        if missing and self.source is None:
            raise ConfigError("config-missing-no-file", names=", ".join(missing))
        if missing:
            raise ConfigError(
                "config-missing-settings", names=", ".join(missing), source=str(self.source)
            )


_NUMBER_SETTINGS: Mapping[str, type] = {
    "timeout": float,
    "retries": int,
    "retry_max_seconds": float,
    "chunk_size": int,
    "chunk_bytes": int,
    "concurrency": int,
}
_KNOWN = {f.name for f in fields(Config)} - {"source", "unknown_settings", "repeated_settings"}
_PATH_SETTINGS = frozenset({"state_dir", "ca_bundle"})
#: Settings that are text whatever they look like: ``key: 012345`` is octal to YAML (5349),
#: ``key: yes`` a boolean, ``orgid: 12:30`` a number of minutes. They are read as written.
_TEXT_SETTINGS = frozenset({"base_url", "orgid", "key", "lang"}) | _PATH_SETTINGS


#: Characters no text setting holds: a line break or a tab in a value comes from a backslash in
#: double quotes, which YAML reads as an escape ("C:\new\table" is C:, a line break, "ew", a
#: tab and "able").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: An environment variable in a path: $NAME, ${NAME} or Windows' %NAME%.
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)|%(\w+)%")

_SWITCH_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _switch(name: str, value: Any) -> bool:
    """A yes/no setting. ``verify: "false"`` (quoted, as some editors write it) is a
    non-empty string, which bool() takes for true: certificates would be checked although
    the user turned them off, or the other way round for any other word."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _SWITCH_WORDS:
        return _SWITCH_WORDS[value.strip().lower()]
    raise ConfigError("config-bad-value", name=name, value=value)


def _from_mapping(
    raw: Mapping[str, Any],
    source: Path | None,
    repeated: tuple[tuple[str, tuple[int, ...]], ...] = (),
) -> Config:
    values: dict[str, Any] = {}
    unknown = []
    for written_name, value in raw.items():
        # A full-width or non-breaking space copied in before the name is no part of it.
        name = str(written_name).strip()
        if name not in _KNOWN:
            # Not fatal: a config shared with a newer version may hold its new settings.
            unknown.append(str(written_name))
            continue
        if value is None:
            continue
        if name in _TEXT_SETTINGS:
            value = _text_setting(name, value)
            if not value:
                # state_dir: '' would be the config file's own folder; key: ' ' no key.
                continue
        if name in _NUMBER_SETTINGS:
            try:
                value = _NUMBER_SETTINGS[name](value)
            except (TypeError, ValueError):
                raise ConfigError("config-bad-value", name=name, value=value) from None
            if value <= 0 and name not in ("retries",):
                raise ConfigError("config-bad-value", name=name, value=value)
            if name == "concurrency" and value > MAX_CONCURRENCY:
                raise ConfigError("config-too-large", name=name, value=value, limit=MAX_CONCURRENCY)
        elif name == "verify":
            value = _switch(name, value)
        elif name == "lang":
            value = value.lower()
            if value not in LANGUAGES:
                raise ConfigError("config-bad-value", name=name, value=value)
        elif name == "sync_patterns":
            if isinstance(value, dict):
                # One pattern without the brackets of a list is that one pattern.
                value = {k: [v] if isinstance(v, str) else v for k, v in value.items()}
            if not isinstance(value, dict) or not all(
                isinstance(patterns, list) for patterns in value.values()
            ):
                raise ConfigError("config-bad-value", name=name, value="…")
            value = {str(k): [str(p) for p in v] for k, v in value.items()}
        elif name == "dictionaries":
            # A file named in the config is found beside it, wherever the command runs.
            if isinstance(value, str):
                value = _with_variables(name, value.strip())
            value = load_dictionaries(value, source.parent if source else None)
        elif name in _PATH_SETTINGS:
            value = _path_setting(name, value, source)
        values[name] = value
    base_url = values.get("base_url")
    if base_url:
        values["base_url"] = base_url.rstrip("/")
    return Config(
        source=source, unknown_settings=tuple(unknown), repeated_settings=repeated, **values
    )


def _text_setting(name: str, value: Any) -> str:
    """A text setting as the program uses it: without the spaces around it (a quoted
    "ZJ3301001 ", a Windows ``set ARTREPORT_KEY=… `` that keeps the space before the line's
    end), refused when it is a list or a mapping, or holds a control character. Neither
    message quotes the value, which may be the key."""
    if isinstance(value, (dict, list)):
        raise ConfigError("config-not-text", name=name)
    text = str(value).strip()
    if _CONTROL.search(text):
        raise ConfigError("config-control-character", name=name)
    return text


def _path_setting(name: str, value: str, source: Path | None) -> str:
    """A path from the config, with its environment variables and ``~`` expanded, and
    relative to the config file's folder: cron runs in another folder than the one the config
    was written in, and a state folder that moved with the working folder would split the
    ledger and the run lock in two."""
    path = Path(_with_variables(name, value)).expanduser()
    if source is not None and not path.is_absolute():
        path = source.parent / path
    return str(path)


def _with_variables(name: str, value: str) -> str:
    """``value`` with each ``$NAME``, ``${NAME}`` and ``%NAME%`` replaced by the environment
    variable's value; a ConfigError naming the first that is not set, rather than a folder of
    that name made beside the config (cron's environment lacks most of a login shell's)."""

    def replaced(match: re.Match[str]) -> str:
        variable = next(group for group in match.groups() if group)
        found = os.environ.get(variable)
        if not found:
            raise ConfigError("config-path-variable", name=name, variable=match.group(0))
        return found

    return _VARIABLE.sub(replaced, value)


def checked_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash, or a ConfigError when it is no http(s) address
    or holds a user name, a password or a query, which would leak into every message that
    names the address."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        url = None
    if (
        url is None
        or url.scheme not in ("http", "https")
        or not url.host
        or url.userinfo
        or url.query
    ):
        raise ConfigError("client-bad-base-url", url=_without_credentials(base_url))
    return base_url.rstrip("/")


def shown_base_url(base_url: str) -> str:
    """``base_url`` as a run records it and a command shows it: as it is when it is usable,
    else without a user name, password or query. The client refuses such an address, but
    only once the run has started, which the ledger and the log keep for good."""
    try:
        return checked_base_url(base_url)
    except ConfigError:
        return _without_credentials(base_url)


def _without_credentials(base_url: str) -> str:
    """The address as a message may quote it: without what stands before an ``@`` nor after a
    ``?``, read by hand, since a password with a ``/`` or a ``#`` in it is what makes the
    address one httpx cannot read."""
    scheme, separator, rest = base_url.partition("://")
    if not separator:
        scheme, rest = "", base_url
    return scheme + separator + rest.rpartition("@")[2].split("?")[0]


def find_config_path(explicit: str | os.PathLike[str] | None) -> tuple[Path | None, bool]:
    """The config file to read and whether the user named it (so its absence is an error)."""
    if explicit:
        return Path(explicit), True
    from_env = os.environ.get("ARTREPORT_CONFIG")
    if from_env:
        return Path(from_env), True
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return (local, False) if local.exists() else (None, False)


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    path, named = find_config_path(explicit)
    raw: dict[str, Any] = {}
    repeated: tuple[tuple[str, tuple[int, ...]], ...] = ()
    if path is not None:
        if not path.exists():
            if named:
                raise ConfigError("config-not-found", path=str(path))
        else:
            text = _config_text(path)
            try:
                loaded = yamlload.safe_load(text)
            except yaml.YAMLError as exc:
                raise _yaml_error(exc, text, path) from None
            if loaded is None:
                loaded = {}
            if not isinstance(loaded, dict):
                raise _not_settings(text, path)
            lines = _setting_lines(text)
            loaded.update(_as_written(text, loaded))
            raw.update(loaded)
            repeated = tuple(
                (name, tuple(where))
                for name, where in lines.items()
                if len(where) > 1 and name in _KNOWN
            )
    overridden = {}
    for variable, name in _ENV_OVERRIDES.items():
        if os.environ.get(variable):
            raw[name] = os.environ[variable]
            overridden[name] = variable
    try:
        return _from_mapping(raw, path if path is not None and path.exists() else None, repeated)
    except ConfigError as error:
        # A value from the environment is named by its variable: the file has no such line.
        if error.params.get("name") in overridden:
            error.params["name"] = overridden[error.params["name"]]
        raise


def _config_text(path: Path) -> str:
    """The config file's text, in whatever encoding a Windows editor saved it; a ConfigError
    naming the line of what cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("config-unreadable", path=str(path), reason=_reason(exc)) from None
    try:
        text = yamlload.decode(raw)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError("config-encoding", path=str(path), line=line) from None
    unprintable = _UNPRINTABLE.search(text)
    if unprintable:
        # YAML's own error gives a place in bytes (libyaml) or characters, and no line.
        line = text.count("\n", 0, unprintable.start()) + 1
        character = f"U+{ord(unprintable.group()):04X}"
        raise ConfigError("config-bad-character", path=str(path), line=line, character=character)
    return text


#: What YAML refuses in a file (its "printable" characters' complement), a line break or a
#: tab excepted.
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _yaml_error(error: Any, text: str, path: Path) -> ConfigError:
    """The ConfigError for a file YAML could not read: the line at fault and, where its text
    shows why, what to change there. Never the line itself, which could hold the key."""
    if getattr(error, "problem_mark", None) is None:
        return ConfigError("config-unreadable", path=str(path), reason="YAML")
    line, column = _faulty_place(error, text)
    lines = text.splitlines()
    problem = str(getattr(error, "problem", "") or "")
    code = _fault_on_line(lines[line - 1] if line <= len(lines) else "", problem)
    if code is None:
        # The line before, whose value YAML took for the start of a text going on into this
        # line (orgid:ZJ3301001 with no space, a non-breaking space after the colon).
        before = line - 1
        while before > 0 and (
            not lines[before - 1].strip() or lines[before - 1].lstrip().startswith("#")
        ):
            before -= 1
        code = _fault_on_line(lines[before - 1], problem) if before > 0 else None
        if code is not None:
            line, column = before, 1
    return ConfigError(code or "config-bad-yaml", path=str(path), line=line, column=column)


#: A setting's name and its colon with no space after it (``orgid:ZJ3301001``).
_NO_SPACE = re.compile(r"^\s*(\w+):[^\s:/]")
#: A value starting with a character YAML reserves (``key: @abc``, ``key: *abc``).
_RESERVED_START = re.compile(r"^\s*\w+:\s+[@`%!&*]")


def _fault_on_line(line: str, problem: str) -> str | None:
    """The message code of what is plainly wrong on a line YAML stopped at, if anything."""
    indent = line[: len(line) - len(line.lstrip())]
    if "\t" in indent or "'\\t'" in problem:
        return "config-yaml-tab"
    # Not what a comment says (# 超时：秒).
    line = "" if line.lstrip().startswith("#") else line.split(" #", 1)[0]
    if "escape" in problem and '"' in line and "\\" in line:
        return "config-yaml-backslash"
    if "：" in line:
        return "config-yaml-fullwidth-colon"
    if any(space in line for space in ("\u3000", "\xa0")):
        return "config-yaml-odd-space"
    no_space = _NO_SPACE.match(line)
    if no_space and no_space.group(1) in _KNOWN:
        return "config-yaml-colon-space"
    if _RESERVED_START.match(line):
        return "config-yaml-quote-value"
    return None


def _not_settings(text: str, path: Path) -> ConfigError:
    """The ConfigError for a file that YAML reads as one text or a list, not settings: what
    settings written with a full-width colon, or without the space after the colon, are."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        code = _fault_on_line(line, "")
        if code in ("config-yaml-fullwidth-colon", "config-yaml-colon-space"):
            return ConfigError(code, path=str(path), line=number, column=1)
    return ConfigError("config-not-settings", path=str(path))


def _setting_lines(text: str) -> dict[str, list[int]]:
    """The lines (from 1) each top-level setting is written on."""
    document = yaml.compose(text, Loader=yamlload.LOADER)
    lines: dict[str, list[int]] = {}
    if isinstance(document, yaml.MappingNode):
        for name_node, _ in document.value:
            if isinstance(name_node, yaml.ScalarNode):
                name = name_node.value.strip()
                lines.setdefault(name, []).append(name_node.start_mark.line + 1)
    return lines


#: What the parser was reading when it failed, in the errors about something that began at
#: their context mark and never ended: a key without its colon (``orgid ZJ3301001``), a quote
#: or a bracket never closed. The problem mark is only where the parser gave up on it (the
#: next line, the end of the file); the faulty line is the one where it began. In other errors
#: the context is what encloses the fault (the whole mapping, a value cut by a tab), and the
#: problem mark is the fault.
_UNENDED_CONTEXTS = ("simple key", "quoted scalar", "flow sequence", "flow mapping")


def _faulty_place(error: Any, text: str) -> tuple[int, int]:
    """The line and column (from 1) of the line a YAML error is about."""
    context = getattr(error, "context_mark", None)
    if context is not None and any(word in (error.context or "") for word in _UNENDED_CONTEXTS):
        return context.line + 1, context.column + 1
    mark = error.problem_mark
    lines = text.splitlines()
    line = mark.line
    # An error found at the end of the file, or on the blank lines before it, is about the
    # last line that says something. (Not a line of a tab: a tab is a fault in YAML's indent.)
    while line > 0 and (line >= len(lines) or not lines[line].strip(" ")):
        line -= 1
    return line + 1, (mark.column + 1 if line == mark.line else 1)


def _as_written(text: str, loaded: Mapping[str, Any]) -> dict[str, str]:
    """The text settings YAML turned into something else (a number, a boolean), as the file
    writes them."""
    retyped = [
        name
        for name in _TEXT_SETTINGS
        if loaded.get(name) is not None and not isinstance(loaded[name], str)
    ]
    if not retyped:
        return {}
    document = yaml.compose(text, Loader=yamlload.LOADER)
    written: dict[str, str] = {}
    if isinstance(document, yaml.MappingNode):
        for name_node, value_node in document.value:
            if name_node.value in retyped and isinstance(value_node, yaml.ScalarNode):
                written[name_node.value] = value_node.value
    return written


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def exposed_key_file(config: Config) -> tuple[Path, int] | None:
    """The config file and its permission bits when it holds the key and other users of the
    computer may read or change it (POSIX only); else None."""
    if config.source is None or os.name != "posix":
        return None
    path = config.source.absolute()
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o066 or not holds_key(path):
        return None
    return path, mode


def holds_key(path: Path) -> bool:
    """Whether the file itself has a key, rather than only the environment."""
    try:
        raw = yamlload.safe_load(yamlload.decode(path.read_bytes()))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    # By what is written, not what YAML makes of it: key: 0000 (the number 0) or key: no
    # (false) is a key all the same.
    return isinstance(raw, dict) and raw.get("key") is not None and str(raw["key"]) != ""
