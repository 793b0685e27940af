"""Stripe-style bracket form decoding: `a[b][0]=x&c[]=y` -> `{"a": {"b": ["x"]}, "c": ["y"]}`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class FormError(ValueError):
    """A key that cannot be decoded (e.g. `a[b` or a scalar used as a container)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Invalid parameter name: {key}")
        self.key = key


def _split(key: str) -> list[str]:
    match = _KEY.match(key)
    if not match:
        raise FormError(key)
    head, rest = match.groups()
    return [head, *re.findall(r"\[([^\[\]]*)\]", rest)]


def _listify(node: Any) -> Any:
    """Turn dicts whose keys are all indices (or `[]` appends) into lists, in index order."""
    if isinstance(node, list):
        return [_listify(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode ordered key/value pairs into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split(key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            nxt = None if last else parts[index + 1]
            if isinstance(node, list):
                if part != "":
                    raise FormError(key)
                if last:
                    node.append(value)
                    break
                child: Any = [] if nxt == "" else {}
                node.append(child)
                node = child
                continue
            if not isinstance(node, dict):
                raise FormError(key)
            if last:
                if part == "":
                    raise FormError(key)
                node[part] = value
                break
            if part not in node:
                node[part] = [] if nxt == "" else {}
            node = node[part]
    return _listify(root)


def decode(body: str) -> dict[str, Any]:
    """Decode an `application/x-www-form-urlencoded` body or query string."""
    return decode_pairs(parse_qsl(body, keep_blank_values=True))
