"""The OpenAPI document is generated from the code, valid OpenAPI 3.1, and misses no route."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

SIGNATURE_HEADERS = {"Signature", "Signature-Input", "Content-Digest", "Idempotency-Key"}


@pytest.fixture(scope="module")
def app():
    from app import app

    return app


@pytest.fixture(scope="module")
def spec(app):
    from chalicelib.api.openapi import document

    return document(app)


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_route_and_method_is_documented(app, spec):
    assert len(app.routes) > 30
    for path, methods in app.routes.items():
        assert path in spec["paths"], path
        for method in methods:
            assert method.lower() in spec["paths"][path], (method, path)
    assert "/openapi.json" in spec["paths"]


def test_path_parameters_come_from_the_pattern(spec):
    params = spec["paths"]["/orders/{order_id}/payment"]["post"]["parameters"]
    assert {"name": "order_id", "in": "path"}.items() <= params[0].items()
    assert params[0]["required"] is True


def test_query_parameters_come_from_the_views(spec):
    params = {p["name"]: p["required"] for p in spec["paths"]["/proofs/inclusion"]["get"]["parameters"]}
    assert params == {"index": True, "size": True}
    params = {p["name"]: p["required"] for p in spec["paths"]["/blocks/{h}"]["get"]["parameters"]
              if p["in"] == "query"}
    assert params == {"cursor": False, "limit": False}


def test_every_signed_route_has_its_body_schema_and_the_signature_headers(spec):
    from chalicelib.api.signed_routes import BODY_MODELS

    assert len(BODY_MODELS) > 20
    schemas = spec["components"]["schemas"]
    for path, model in BODY_MODELS.items():
        operation = spec["paths"][path]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{model}"
        assert model in schemas
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header" and p["required"]}
        assert headers == SIGNATURE_HEADERS, path
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == \
            {"$ref": "#/components/schemas/Error"}


def test_the_body_schema_is_pydantics(spec):
    from chalicelib.api.bodies import SubmitCosignature

    cosign = spec["paths"]["/checkpoints/{size}/cosignatures"]["post"]
    assert cosign["requestBody"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/SubmitCosignature"
    assert not any(p["in"] == "header" for p in cosign["parameters"])
    expected = SubmitCosignature.model_json_schema()["properties"]["cosignature"]
    assert spec["components"]["schemas"]["SubmitCosignature"]["properties"]["cosignature"] == expected


def test_media_types_of_checkpoints_and_tiles(spec):
    for path in ("/checkpoint", "/blocks/{h}/checkpoint"):
        assert set(spec["paths"][path]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    tiles = [path for path in spec["paths"] if path.startswith("/tile/")]
    assert len(tiles) == 5
    for path in tiles:
        assert set(spec["paths"][path]["get"]["responses"]["200"]["content"]) == {"application/octet-stream"}


def test_every_error_answer_uses_the_error_component(spec):
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["required"]) == {"code", "message"}
    for item in spec["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == \
                        {"$ref": "#/components/schemas/Error"}


def test_operation_ids_are_unique(spec):
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_document_is_built_once(app, spec):
    from chalicelib.api.openapi import document

    assert document(app) is spec


def test_get_openapi_json_serves_it(http):
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    import json

    served = json.loads(response.body)
    assert served["openapi"] == "3.1.0"
    assert "/openapi.json" in served["paths"]
    validate(served)


def test_get_openapi_json_takes_no_query(http):
    response = http.get("/openapi.json?x=1")
    assert response.status_code == 400
