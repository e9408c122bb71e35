"""YAML reading through libyaml when PyYAML has it: the schema and the message catalogue are
read at every start, and the pure-Python parser takes a large part of a second for them."""

from __future__ import annotations

from typing import Any

import yaml

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=LOADER)
