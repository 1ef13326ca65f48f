"""The OpenAPI description served at /api/openapi.json."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

_KINDS = ["(the registry's kinds)"]  # replaced by spec() with the kinds of its registry


def _param(name: str, description: str, schema: dict[str, Any],
           where: str = "query", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema}


_TEXT = {"type": "string", "maxLength": 200}
_DATE = {"type": "string", "format": "date"}
_PAGE = [_param("limit", "results per page (1-100)",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
         _param("offset", "results to skip", {"type": "integer", "minimum": 0, "default": 0})]
_ERROR = {"description": "bad parameters", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}
_LIMITED = {"description": "too many searches from this client; see Retry-After"}
_ITEM = {"type": "object", "properties": {
    "time": {"type": "string"}, "network": {"type": "string"}, "channel": {"type": "string"},
    "meeting": {"type": "string"}, "meeting_id": {"type": "integer"},
    "kind": {"type": "string"}, "text": {"type": "string"}, "nick": {"type": "string"},
    "owners": {"type": "array", "items": {"type": "string"}}, "line": {"type": "integer"},
    "url": {"type": "string"}}}
_HIT = {"type": "object", "properties": {
    "time": {"type": "string"}, "network": {"type": "string"}, "channel": {"type": "string"},
    "series": {"type": "string"}, "meeting_id": {"type": "integer"},
    "kind": {"type": "string", "enum": _KINDS}, "nick": {"type": "string"},
    "line": {"type": "integer"}, "text": {"type": "string"}, "snippet": {"type": "string"},
    "matches": {"type": "array", "items": {"type": "string"}}, "url": {"type": "string"}}}
_MEETING = {"type": "object", "properties": {
    "id": {"type": "integer"}, "network": {"type": "string"}, "channel": {"type": "string"},
    "name": {"type": "string"}, "title": {"type": "string"},
    "started_at": {"type": "string"}, "ended_at": {"type": ["string", "null"]},
    "minutes": {"type": "string"}, "log": {"type": "string"}, "json": {"type": "string"}}}


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _list(schema: dict[str, Any]) -> dict[str, Any]:
    return _ok({"type": "object", "properties": {
        "total": {"type": "integer"}, "items": {"type": "array", "items": schema}},
        "required": ["total", "items"]})


_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "openminutes archive", "version": "1",
             "description": "Meetings, decisions, action items and full-text search."},
    "paths": {
        "/api/meetings": {"get": {
            "summary": "Published meetings and those open now (ended_at null, no files "
                       "yet; their live page is /live/{id}), newest first",
            "parameters": [_param("series", "meeting name", _TEXT), *_PAGE],
            "responses": {"200": _list(_MEETING), "400": _ERROR}}},
        "/api/meetings/{id}": {"get": {
            "summary": "One meeting: the JSON form documented in the README",
            "parameters": [_param("id", "meeting id", {"type": "integer"}, "path", True)],
            "responses": {"200": _ok({"type": "object"}), "400": _ERROR,
                          "404": {"description": "no such meeting"}}}},
        "/api/search": {"get": {
            "summary": "Full-text search over log lines and minutes items",
            "parameters": [
                _param("q", "words, \"a phrase\", -excluded, a OR b",
                       {"type": "string", "maxLength": 10000}, required=True),
                _param("kind", "an item kind, decision or line",
                       {"type": "string", "enum": _KINDS}),
                _param("series", "meeting name", _TEXT),
                _param("channel", "channel", _TEXT),
                _param("person", "nick", _TEXT),
                _param("since", "from this date (UTC)", _DATE),
                _param("until", "up to and including this date", _DATE), *_PAGE],
            "responses": {"200": _ok({"type": "object", "properties": {
                "total": {"type": "integer"}, "capped": {"type": "boolean"},
                "hits": {"type": "array", "items": _HIT}}}),
                "400": _ERROR, "429": _LIMITED}}},
        "/api/decisions": {"get": {
            "summary": "The decision register, newest first",
            "parameters": [_param("channel", "channel", _TEXT),
                           _param("series", "meeting name", _TEXT),
                           _param("since", "from this date (UTC)", _DATE),
                           _param("until", "up to and including this date", _DATE), *_PAGE],
            "responses": {"200": _list(_ITEM), "400": _ERROR}}},
        "/api/actions": {"get": {
            "summary": "Action items across meetings, newest first",
            "parameters": [_param("person", "owner nick", _TEXT),
                           _param("series", "meeting name", _TEXT), *_PAGE],
            "responses": {"200": _list(_ITEM), "400": _ERROR}}},
    },
}


def spec(kinds: Sequence[str]) -> dict[str, Any]:
    """The description, with the item kinds (and `decision`, `line`) a search takes."""
    document = copy.deepcopy(_SPEC)

    def fill(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("enum") == _KINDS:
                node["enum"] = list(kinds)
            for value in node.values():
                fill(value)
        elif isinstance(node, list):
            for value in node:
                fill(value)

    fill(document)
    return document
