"""Edits of a config's text at PyYAML's node marks, so every other byte (comments, quotes, layout, and
`os.environ/...` references) stays as it was. A YAML round-trip would re-emit the whole document.

An edit is `(start, end, replacement)` over the text; `apply` makes them from the end backwards.
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

Edit = tuple[int, int, str]


def apply(text: str, edits: Iterable[Edit]) -> str:
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + new + text[end:]
    return text


def model_list_items(text: str) -> list[yaml.Node]:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    found = next((v for k, v in root.value if k.value == "model_list"), None)
    return list(found.value) if isinstance(found, yaml.SequenceNode) else []


def _value(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _key(mapping: yaml.MappingNode, key: str) -> yaml.Node:
    return next(k for k, _ in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key)


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end


def _block_end(node: yaml.Node) -> int:
    """Where a block node's last value ends (PyYAML's end mark of a block collection lies past the
    comments and blank lines after it)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return int(node.end_mark.index)


def _add_entry(text: str, mapping: yaml.MappingNode, key: str, value: str) -> Edit:
    """An edit adding `key: value` to `mapping` (flow: before its `}`; block: a line after its last
    entry, at the indentation of its keys)."""
    if mapping.flow_style:
        close = mapping.end_mark.index - 1  # the `}`
        sep = ", " if mapping.value else ""
        return close, close, f"{sep}{key}: {value}"
    first_key = mapping.value[0][0]
    indent = " " * first_key.start_mark.column
    at = _line_end(text, _block_end(mapping))
    return at, at, f"\n{indent}{key}: {value}"


def set_model_info(text: str, index: int, key: str, value: str) -> Edit | None:
    """The edit setting `model_info.<key>` of model_list[index] to the plain scalar `value`: the scalar
    replaced when present, else the entry added to model_info, else `model_info: {key: value}` added
    to the item. None when the item is not a mapping."""
    items = model_list_items(text)
    item = items[index] if index < len(items) else None
    if not isinstance(item, yaml.MappingNode) or not item.value:
        return None
    info = _value(item, "model_info")
    if isinstance(info, yaml.MappingNode):
        old = _value(info, key)
        if isinstance(old, yaml.ScalarNode):
            return old.start_mark.index, old.end_mark.index, value
        if info.value:
            return _add_entry(text, info, key, value)
        return info.start_mark.index, info.end_mark.index, f"{{{key}: {value}}}"
    if isinstance(info, yaml.ScalarNode) and info.value == "":  # `model_info:` with nothing after it
        colon = text.index(":", _key(item, "model_info").end_mark.index) + 1
        return colon, colon, f" {{{key}: {value}}}"
    if info is not None:  # `model_info: ~` or another scalar: replaced
        return info.start_mark.index, info.end_mark.index, f"{{{key}: {value}}}"
    return _add_entry(text, item, "model_info", f"{{{key}: {value}}}")
