"""JSON Schemas of GeoReport v2 responses, written from the prose of the spec (GeoReport/v2/index.md, Service
Discovery, the Extensions page, the v2.1 draft) — not from its examples, whose JSON is not valid JSON.

Where the spec leaves a type open (an id "The unique ID…"), the schema accepts both string and number; where it says
a field "May not be returned", the field is optional; elsewhere every field of the response table is required.
"""

from __future__ import annotations

from typing import Any

# "All date/time fields must be formatted in a common subset of ISO 8601 as per the w3 note. Timezone information
# (either Z meaning UTC, or an HH:MM offset from UTC) must be included."
W3C = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
DATETIME: dict[str, Any] = {"type": "string", "pattern": W3C}
NULLABLE_DATETIME: dict[str, Any] = {"type": ["string", "null"], "pattern": W3C}
ID: dict[str, Any] = {"type": ["string", "integer"], "minLength": 1}
TEXT: dict[str, Any] = {"type": ["string", "null"]}

ERRORS: dict[str, Any] = {
    # "Multiple errors codes and descriptions can be returned in the body (the response is an array)."
    "type": "array", "minItems": 1,
    "items": {"type": "object", "additionalProperties": False, "required": ["code", "description"],
              "properties": {"code": {"type": ["integer", "string"]},
                             "description": {"type": "string", "minLength": 1}}},
}

SERVICES: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"],
        "properties": {
            "service_code": ID, "service_name": {"type": "string", "minLength": 1}, "description": TEXT,
            "metadata": {"type": "boolean"}, "type": {"enum": ["realtime", "batch", "blackbox"]},
            "keywords": TEXT,  # "A comma separated list of tags or keywords"
            "group": TEXT,
        },
    },
}

_VALUE = {"type": "object", "required": ["key", "name"],
          "properties": {"key": {"type": ["string", "integer"]}, "name": {"type": "string"}}}
ATTRIBUTE: dict[str, Any] = {
    "type": "object",
    "required": ["variable", "code", "datatype", "required", "datatype_description", "order", "description"],
    "properties": {
        "variable": {"type": "boolean"}, "code": {"type": "string", "minLength": 1},
        "datatype": {"enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]},
        "required": {"type": "boolean"}, "datatype_description": TEXT,
        "order": {"type": "integer", "minimum": 1},  # "Any positive integer"
        "description": {"type": "string"},
        "values": {"type": "array", "items": _VALUE},
    },
    # The list datatypes choose among "a set of predefined values (specified in this response)".
    "if": {"properties": {"datatype": {"enum": ["singlevaluelist", "multivaluelist"]}}},
    "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}},
}
SERVICE_DEFINITION: dict[str, Any] = {
    "type": "object", "required": ["service_code", "attributes"],
    "properties": {"service_code": ID, "attributes": {"type": "array", "items": ATTRIBUTE}},
}

# POST: service_request_id "should not be returned if token is returned" and vice versa.
POST_RESPONSE: dict[str, Any] = {
    "type": "array", "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"service_request_id": ID, "token": ID, "service_notice": TEXT, "account_id": TEXT},
        "oneOf": [{"required": ["service_request_id"], "not": {"required": ["token"]}},
                  {"required": ["token"], "not": {"required": ["service_request_id"]}}],
    },
}

TOKEN_RESPONSE: dict[str, Any] = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["service_request_id", "token"],
              "properties": {"service_request_id": ID, "token": ID}},
}

REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["service_request_id", "status", "service_name", "service_code", "description",
                 "requested_datetime", "updated_datetime", "address", "address_id", "zipcode", "lat", "long",
                 "media_url"],
    "properties": {
        "service_request_id": ID,
        "status": {"enum": ["open", "closed"]},
        "status_notes": TEXT,
        "service_name": TEXT,
        "service_code": {"type": ["string", "integer", "null"]},
        # "free form text limited to 4,000 characters"
        "description": {"type": ["string", "null"], "maxLength": 4000},
        "agency_responsible": TEXT,
        "service_notice": TEXT,
        "requested_datetime": DATETIME,
        "updated_datetime": DATETIME,
        "expected_datetime": NULLABLE_DATETIME,
        "address": TEXT,
        "address_id": {"type": ["string", "integer", "null"]},
        "zipcode": {"type": ["string", "integer", "null"]},
        "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
        "long": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
        "media_url": {"type": ["string", "null"]},
    },
}
REQUESTS: dict[str, Any] = {"type": "array", "items": REQUEST}

# The Extensions page: `extensions=true` adds extended_attributes (an object), attributes and notes (lists).
_NOTE = {"type": "object", "required": ["datetime", "description", "type"],
         "properties": {"datetime": DATETIME, "description": {"type": "string"}, "type": {"type": "string"}}}
_PHOTO = {"type": "object", "required": ["media_url"],
          "properties": {"media_url": {"type": "string", "pattern": "^https?://"}, "created_at": DATETIME}}
EXTENDED_REQUESTS: dict[str, Any] = {
    "type": "array",
    "items": {
        "allOf": [REQUEST, {
            "type": "object", "required": ["extended_attributes", "attributes", "notes"],
            "properties": {
                "extended_attributes": {"type": "object",
                                        "properties": {"photos": {"type": "array", "items": _PHOTO}}},
                "attributes": {"type": "array", "items": {"type": "object", "required": ["code", "value"]}},
                "notes": {"type": "array", "items": _NOTE},
            },
        }],
    },
}

DISCOVERY: dict[str, Any] = {
    # Service Discovery: "All fields are required."
    "type": "object", "required": ["changeset", "contact", "key_service", "endpoints"],
    "properties": {
        "changeset": {"type": "string"}, "contact": {"type": "string"}, "key_service": {"type": "string"},
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["specification", "url", "changeset", "type", "formats"],
            "properties": {
                "specification": {"type": "string"}, "url": {"type": "string", "pattern": "^https?://"},
                "changeset": {"type": "string"}, "type": {"enum": ["production", "test"]},
                "formats": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^\w+/[\w.+-]+$"}},
            }}},
    },
}

# FixMyStreet's servicerequestupdates (mySociety's proposed extension): one request_update per change.
UPDATES: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object",
              "required": ["update_id", "service_request_id", "status", "updated_datetime", "description",
                           "media_url"],
              "properties": {"update_id": ID, "service_request_id": ID, "status": {"type": "string"},
                             "updated_datetime": DATETIME, "description": {"type": "string"},
                             "media_url": {"type": "string"}}},
}

# Element names of one item in each list (the Spark convention behind the spec's JSON).
ITEMS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
         "errors": "error", "endpoints": "endpoint", "formats": "format", "photos": "photo", "notes": "note",
         "service_requests_updates": "request_update"}
