"""Validate what the fake Spotify serves against the public OpenAPI description.

The description (``shared/contracts/spotify-web-api.openapi.yml``) is OpenAPI 3.0, so it
is adapted to JSON Schema before use:

* ``discriminator`` keys are deleted (they name schemas that do not exist);
* ``nullable: true`` becomes a ``null`` alternative;
* one documented deviation: ``PlaylistTrackObject.item`` / ``.track`` may be ``null``.  The
  real API returns null entries for tracks removed from the catalogue, and the spec itself
  says so ("Note, a track object may be null") on ``SimplifiedPlaylistObject.items``.

Bodies filtered with ``fields=`` legitimately lack required properties, so they are
checked against the same schemas without ``required`` (types, enums and structure still
count), and the unfiltered body they were cut from is checked strictly.  Token endpoint
bodies belong to the accounts service, which the description does not cover; they are
checked against RFC 6749 sections 5.1 and 5.2.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

BASE = "urn:spotify-web-api"
_ERROR_RESPONSES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}
TOKEN_SCHEMA = {  # RFC 6749 5.1
    "type": "object", "required": ["access_token", "token_type", "expires_in"],
    "properties": {"access_token": {"type": "string", "minLength": 1}, "token_type": {"enum": ["Bearer"]},
                   "expires_in": {"type": "integer", "minimum": 1}, "refresh_token": {"type": "string"},
                   "scope": {"type": "string"}},
}
TOKEN_ERROR_SCHEMA = {  # RFC 6749 5.2
    "type": "object", "required": ["error"],
    "properties": {"error": {"enum": ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                                      "unsupported_grant_type", "invalid_scope"]},
                   "error_description": {"type": "string"}},
}


def adapt(spec: dict[str, Any], *, drop_required: bool) -> dict[str, Any]:
    """The OpenAPI document as plain JSON Schema (see the module docstring)."""
    doc = copy.deepcopy(spec)
    track = doc["components"]["schemas"]["PlaylistTrackObject"]["properties"]
    for key in ("item", "track"):
        track[key]["nullable"] = True

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = {k: walk(v) for k, v in node.items()
                if not (k == "discriminator" and isinstance(v, dict))
                and not (drop_required and k == "required" and isinstance(v, list))}
        if node.pop("nullable", False) is True:
            if "type" in node and not any(k in node for k in ("allOf", "oneOf", "anyOf", "$ref")):
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            else:
                return {"anyOf": [node, {"type": "null"}]}
        return node

    return walk(doc)


class SpotifyContract:
    """Response-schema checks for every body the fake served."""

    def __init__(self, path: Path) -> None:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.strict = Registry().with_resource(BASE, DRAFT4.create_resource(adapt(spec, drop_required=False)))
        self.relaxed = Registry().with_resource(BASE, DRAFT4.create_resource(adapt(spec, drop_required=True)))
        self._validators: dict[tuple[str, bool], Draft4Validator] = {}

    def schema_for(self, name: str) -> dict[str, Any]:
        if name == "token":
            return TOKEN_SCHEMA
        if name == "token-error":
            return TOKEN_ERROR_SCHEMA
        if name.startswith("error:"):
            status = int(name.split(":", 1)[1])
            if status in _ERROR_RESPONSES:
                return {"$ref": f"{BASE}#/components/responses/{_ERROR_RESPONSES[status]}/content/"
                                "application~1json/schema"}
            # no 5xx response in the description: the same error wrapper around ErrorObject (status 400-599)
            return {"type": "object", "required": ["error"],
                    "properties": {"error": {"$ref": f"{BASE}#/components/schemas/ErrorObject"}}}
        return {"$ref": f"{BASE}#/components/schemas/{name}"}

    def validator(self, name: str, relaxed: bool) -> Draft4Validator:
        key = (name, relaxed)
        if key not in self._validators:
            self._validators[key] = Draft4Validator(self.schema_for(name),
                                                    registry=self.relaxed if relaxed else self.strict)
        return self._validators[key]

    def errors(self, name: str, body: Any, *, relaxed: bool = False) -> list[str]:
        validator = self.validator(name, relaxed)
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"[:300]
                for e in validator.iter_errors(body)]

    def check_served(self, served: list[Any]) -> list[str]:
        """Problems with any served body (empty list: all valid)."""
        problems = []
        for s in served:
            for err in self.errors(s.schema, s.full):
                problems.append(f"{s.path} ({s.status}, {s.schema}, unfiltered): {err}")
            if s.filtered:
                for err in self.errors(s.schema, s.body, relaxed=True):
                    problems.append(f"{s.path} ({s.status}, {s.schema}, fields=): {err}")
        return problems


@lru_cache(maxsize=2)
def load_contract(path: Path) -> SpotifyContract:
    return SpotifyContract(path)
