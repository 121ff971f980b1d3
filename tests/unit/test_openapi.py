"""The OpenAPI document is generated from the code, valid OpenAPI 3.1, and misses no route."""

from __future__ import annotations

import json

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
    assert [p["name"] for p in params if p["in"] == "path"] == ["order_id"]
    tile = spec["paths"]["/tile/{level}/{a}/{b}"]["get"]["parameters"]
    assert [p["name"] for p in tile if p["in"] == "path"] == ["level", "a", "b"]


def test_query_parameters_are_the_routes_declarations(spec):
    """The declarations that check each request are the document's: names, types, bounds, defaults."""
    from chalicelib.api.routing import SPECS

    params = {p["name"]: p for p in spec["paths"]["/proofs/inclusion"]["get"]["parameters"]}
    assert params["index"]["required"] and params["index"]["schema"]["type"] == "integer"
    assert params["size"]["schema"]["minimum"] == 1
    block = {p["name"]: p for p in spec["paths"]["/blocks/{h}"]["get"]["parameters"] if p["in"] == "query"}
    assert block["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500}
    status = next(p for p in spec["paths"]["/proposals"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == ["open", "passed", "rejected"]
    for (method, path), declared in SPECS.items():
        operation = spec["paths"][path][method.lower()]
        documented = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        assert documented == [q.name for q in declared.query], path


def test_a_declared_query_parameter_is_checked_as_documented(http):
    assert http.get("/proofs/inclusion?index=0").status_code == 400  # size is required
    answer = http.get("/blocks/0?limit=1001")
    assert answer.status_code == 400 and b'"field":"limit"' in answer.body.replace(b" ", b"")
    assert http.get("/proposals?status=maybe").status_code == 400
    assert http.get("/rank?sort=up").status_code == 400  # not declared


def test_a_query_parameter_may_not_share_a_path_parameters_name():
    from chalicelib.api.routing import Query, Spec, register

    with pytest.raises(ValueError, match="share a name"):
        register(Spec("GET", "/x/{h}", view=lambda: None, kind="read", query=(Query("h", "clash"),)))


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
        assert "bad_signature" in _codes(operation, 401) and "nonce_reused" in _codes(operation, 401)
        assert "idempotency_key_reused" in _codes(operation, 409)


def _codes(operation, status):
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    assert schema["allOf"] == [{"$ref": "#/components/schemas/Error"}]
    return schema["properties"]["error"]["properties"]["code"]["enum"]


def test_every_answer_has_its_model(spec):
    """Every JSON success answer refers to its model in api/answers.py, and the model forbids strangers."""
    from chalicelib.api import answers

    schemas = spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                content = response["content"]
                if "application/json" in content:
                    name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                    assert hasattr(answers, name), (path, method)
                    assert name == "Document" or schemas[name].get("additionalProperties") is False, name
    assert spec["paths"]["/orders/{order_id}"]["get"]["responses"]["200"]["content"]["application/json"] == \
        {"schema": {"$ref": "#/components/schemas/Order"}}


def test_error_codes_are_the_routes_own_and_each_status_has_its_own(spec):
    from chalicelib.errors import CODES

    cosign = spec["paths"]["/checkpoints/{size}/cosignatures"]["post"]
    assert _codes(cosign, 404) == ["checkpoint_unknown", "cosigner_unknown"]
    assert "cosigner_retired" in _codes(cosign, 409)
    assert "401" not in cosign["responses"]  # not RFC 9421-signed
    payment = spec["paths"]["/orders/{order_id}/payment"]["post"]
    assert "insufficient_funds" in _codes(payment, 409) and "not_the_buyer" in _codes(payment, 403)
    assert "insufficient_funds" not in _codes(spec["paths"]["/orders/{order_id}/receipt"]["post"], 409)
    head = spec["paths"]["/chain/head"]["get"]
    assert set(head["responses"]) == {"200", "400", "413", "415", "429", "500", "503", "504"}
    assert _codes(head, 503) == ["chain_not_started", "storage_unavailable"]
    for item in spec["paths"].values():
        for operation in item.values():
            for status in operation["responses"]:
                if status.startswith(("4", "5")):
                    for code in _codes(operation, status):
                        assert int(status) in CODES[code][0], (code, status)


def test_every_code_raised_in_the_code_is_in_the_table_with_its_status():
    """An AST scan of chalicelib: each error raised with a literal code, or each error class, has a CODES row."""
    import ast
    from pathlib import Path

    import chalicelib.errors as errors
    from chalicelib.ledger import httpsig

    classes = {n: c for n, c in vars(errors).items() if isinstance(c, type) and issubclass(c, errors.CovenantError)}
    root = Path(errors.__file__).parent
    seen: dict[str, set[int]] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in classes:
                    literal = next((k.value.value for k in node.keywords if k.arg == "code"
                                    and isinstance(k.value, ast.Constant)), None)
                    seen.setdefault(literal or classes[name].code, set()).add(classes[name].status)
                if name == "SignatureProblem" and node.args and isinstance(node.args[0], ast.Constant):
                    seen.setdefault(node.args[0].value, set()).add(401)  # answered as Unauthenticated
    assert httpsig.SignatureProblem
    for code, statuses in seen.items():
        assert code in errors.CODES, code
        assert statuses <= set(errors.CODES[code][0]), (code, statuses)


def test_media_types_of_checkpoints_tiles_and_the_explorer(spec):
    assert set(spec["paths"]["/checkpoint"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert set(spec["paths"]["/tile/{level}/{a}"]["get"]["responses"]["200"]["content"]) == {"application/octet-stream"}
    assert set(spec["paths"]["/"]["get"]["responses"]["200"]["content"]) == {"text/html"}
    assert {"text/javascript", "text/css", "image/svg+xml"} <= \
        set(spec["paths"]["/explorer/{name}"]["get"]["responses"]["200"]["content"])


def test_a_route_registered_behind_routes_back_is_refused():
    """A route added to the app without route() or signed_route() would be undocumented: building fails."""
    from chalice import Chalice

    from chalicelib.api.openapi import build

    stray = Chalice(app_name="stray")

    @stray.route("/stray")
    def view():
        return {}

    with pytest.raises(ValueError, match="GET /stray"):
        build(stray)


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


# --- what schemathesis found (tests/fuzz), each kept fixed


def test_a_search_with_no_words_finds_nothing_rather_than_refusing(http):
    """q of punctuation only is valid per the document (a non-space character): it matches nothing."""
    answer = http.get("/search?q=%5D%2F")
    assert answer.status_code == 200
    assert json.loads(answer.body)["results"] == []
    assert http.get("/search?q=%20%20").status_code == 400  # no character that is not a space


def test_a_percent_encoded_path_parameter_is_decoded_before_it_is_checked(http):
    """`chalice local` passes path parameters as sent: P%3A is the name P:, a valid id (no such file: 404)."""
    answer = http.get("/explorer/P%3A")
    assert answer.status_code == 404 and json.loads(answer.body)["error"]["code"] == "not_found"
    assert http.get("/explorer/%25").status_code == 400


def test_integer_path_parameters_are_documented_and_checked_as_integers(spec, http):
    h = next(p for p in spec["paths"]["/blocks/{h}"]["get"]["parameters"] if p["name"] == "h")
    assert h["in"] == "path" and h["schema"]["type"] == "integer" and h["schema"]["minimum"] == 0
    size = next(p for p in spec["paths"]["/checkpoints/{size}/cosignatures"]["post"]["parameters"])
    assert size["schema"] == {"type": "integer", "minimum": 1, "maximum": 9007199254740991}
    assert http.get("/blocks/" + "0" * 40).status_code == 400


def test_a_cosignature_line_of_the_wrong_shape_is_refused_by_the_bodys_schema(http):
    from chalicelib.api.bodies import SubmitCosignature

    line = "\u2014 example.test/subchain/sc-1 " + "A" * 101 + "w=="
    assert SubmitCosignature.model_validate({"cosignature": line})
    for bad in ("hello", line.replace("w==", "x=="), line[:-3], "\u2014 a+b " + "A" * 101 + "w=="):
        with pytest.raises(ValueError):
            SubmitCosignature.model_validate({"cosignature": bad})
