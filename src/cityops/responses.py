"""JSON responses rendered by pydantic-core in one pass.

For a returned model FastAPI converts it to Python primitives and then runs ``json.dumps`` over them; on the hot
endpoints (reporting a case, reading one) that costs more than building the model. ``model_response`` renders the
model straight to bytes instead. Routes keep their ``response_model``, so the OpenAPI schema is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from pydantic import BaseModel


def model_response(model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(model.model_dump_json().encode(), status_code=status_code, headers=headers,
                    media_type="application/json")
