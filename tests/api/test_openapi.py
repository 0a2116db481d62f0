"""/openapi.json has request and response schemas for every route, unique
operation ids, and the daemon's real answers validate against them
(python3-jsonschema; OpenAPI 3.0's nullable read as a null type)."""

import copy
import json
import urllib.parse

import jsonschema
import pytest

from apilib import ADMIN_PASSWORD


def to_json_schema(s):
    """OpenAPI 3.0 schema -> JSON Schema: nullable becomes a null type."""
    s = copy.deepcopy(s)

    def walk(node):
        if isinstance(node, dict):
            if node.pop("nullable", False) and "type" in node:
                node["type"] = [node["type"], "null"]
            node.pop("deprecated", None)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(s)
    return s


@pytest.fixture(scope="module")
def doc(daemon):
    r = daemon.request("GET", "/openapi.json")
    assert r.status == 200
    return r.json()


def ops(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def success(op):
    code = next(c for c in op["responses"] if c != "default")
    return code, op["responses"][code]


def test_every_route_has_schemas_and_a_unique_operation_id(doc):
    ids = [op["operationId"] for _, _, op in ops(doc)]
    assert len(ids) == len(set(ids)), ids
    missing = []
    for method, path, op in ops(doc):
        code, resp = success(op)
        if code != "204" and "content" not in resp:
            missing.append(f"{method} {path}: no response schema")
        if method == "POST":
            schema = op.get("requestBody", {}).get("content", {}).get(
                "application/json", {}).get("schema", {})
            if "properties" not in schema:
                missing.append(f"{method} {path}: no request schema")
    assert not missing, "\n".join(missing)


def check(doc, method, path, response):
    op = doc["paths"][path][method.lower()]
    code, resp = success(op)
    assert str(response.status) == code, (method, path, response.status, response.body[:300])
    if code == "204":
        return
    media, content = next(iter(resp["content"].items()))
    body = response.body.decode()
    if media.startswith("application/json"):
        body = json.loads(body)
    jsonschema.validate(body, to_json_schema(content["schema"]))


def test_answers_validate_against_their_schemas(daemon, doc):
    admin = daemon.tokens["admin"]
    # something in every list: a custom metric, events, a stored history
    r = daemon.request("POST", "/api/v1/metrics",
                       {"metrics": [{"name": "app_depth", "type": "gauge", "value": 3}]},
                       token=daemon.tokens["operator"])
    check(doc, "POST", "/api/v1/metrics", r)
    gets = {
        "/healthz": "", "/readyz": "", "/metrics": "", "/docs": "", "/openapi.json": "",
        "/api/v1/status": "", "/api/v1/live": "", "/api/v1/series": "match=kpulse_load1",
        "/api/v1/query_range": "series=kpulse_sched_context_switches_total&from=-1m&step=5s",
        "/api/v1/events": "from=-1h&limit=20", "/api/v1/forecast": "series=kpulse_load1",
        "/api/v1/predictions": "", "/api/v1/anomalies": "from=-1d", "/api/v1/processes": "",
        "/api/v1/auth/me": "", "/api/v1/users": "",
    }
    for path, q in gets.items():
        r = daemon.request("GET", f"{path}?{q}" if q else path, token=admin)
        check(doc, "GET", path, r)
    r = daemon.request("POST", "/api/v1/auth/login", {"name": "admin", "password": ADMIN_PASSWORD})
    check(doc, "POST", "/api/v1/auth/login", r)
    r = daemon.request("POST", "/api/v1/auth/tokens", {"role": "viewer", "label": "ci"},
                       token=admin)
    check(doc, "POST", "/api/v1/auth/tokens", r)
    tid = r.json()["id"]
    check(doc, "DELETE", "/api/v1/auth/tokens/{id}",
          daemon.request("DELETE", f"/api/v1/auth/tokens/{tid}", token=admin))
    r = daemon.request("POST", "/api/v1/users",
                       {"name": "u_schema", "password": "schema-password", "role": "viewer"},
                       token=admin)
    check(doc, "POST", "/api/v1/users", r)
    check(doc, "DELETE", "/api/v1/users/{name}",
          daemon.request("DELETE", "/api/v1/users/u_schema", token=admin))


def test_a_schema_catches_a_wrong_answer(doc):
    """The validation is not vacuous: a status answer without its version fails."""
    op = doc["paths"]["/api/v1/status"]["get"]
    schema = to_json_schema(success(op)[1]["content"]["application/json"]["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"uptime_s": 1, "rounds": {}, "probes": {}, "store": {}}, schema)
