"""The API's public shapes (Pydantic models), one module per router area.

Routers declare these as `response_model`s so the OpenAPI document (frontend/openapi.json, from
`python -m healthledger.openapi_export`) types every answer, and `errors(...)` (schemas/errors.py)
documents each error status an operation can answer with, and its codes.
"""
