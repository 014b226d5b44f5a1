"""RFC 6902 JSON Patch for ``PATCH /personas/{id}`` (protocol reference §8.1), by the
:mod:`jsonpatch` library, with the fake's messages for its failures."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch  # a test-only dependency: cvibot's dev extra

__all__ = ["apply_json_patch", "json_equal"]

_ERRORS = (
    jsonpatch.InvalidJsonPatch,
    jsonpatch.JsonPatchConflict,
    jsonpatch.JsonPatchTestFailed,
    jsonpatch.JsonPointerException,
)


def apply_json_patch(document: Any, operations: Any) -> Any:
    """``document`` with the RFC 6902 ``operations`` applied, on a copy (all or nothing).

    Raises ``ValueError`` naming the failing operation by its index: a failed ``test``, a
    path that does not exist, a malformed operation.
    """
    if not isinstance(operations, list):
        raise ValueError("The request body must be a JSON Patch array")
    doc = copy.deepcopy(document)
    for n, op in enumerate(operations):
        try:  # one at a time, so that an error names its operation
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        except _ERRORS as exc:
            raise ValueError(f"JSON Patch operation {n}: {_reason(exc, op)}") from None
    return doc


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality as a ``test`` operation has it (RFC 6902 §4.6): ``1`` is not ``true``,
    ``1`` equals ``1.0``, object members in any order."""
    try:
        jsonpatch.JsonPatch([{"op": "test", "path": "", "value": b}]).apply(a, in_place=True)
    except jsonpatch.JsonPatchTestFailed:
        return False
    return True


def _reason(exc: Exception, op: Any) -> str:
    """The message for ``exc``, raised by ``op``. The library's own text is kept only for
    a malformed operation: its pointer errors can quote the whole document."""
    if isinstance(exc, jsonpatch.InvalidJsonPatch):
        return f"malformed operation: {exc}"
    kind, path, source = op.get("op"), op.get("path"), op.get("from")
    if isinstance(exc, jsonpatch.JsonPatchTestFailed):
        return f"test failed: {path} does not hold the given value"
    if isinstance(exc, jsonpatch.JsonPatchPathNotFound):
        return f"path does not exist: {source if kind in ('move', 'copy') else path}"
    if isinstance(exc, jsonpatch.JsonPatchConflict):
        if kind == "remove" and path == "":
            return "cannot remove the whole document"
        if kind == "move" and jsonpatch.JsonPointer(path).contains(jsonpatch.JsonPointer(source)):
            return f"cannot move {source} into itself"
        return f"cannot {kind} at {path}: array index out of range, or not in an object or array"
    where = path if source is None else f"{source} or {path}"
    return f"path does not exist or is not a valid JSON Pointer: {where}"
