"""GET /openapi.json on a running oa-query: the document is served without a key, is the
one in the source tree byte for byte, passes a real OpenAPI 3.1 validator, and describes
every management route the daemon answers (each documented route answers something other
than 404 when called without a key)."""
import json
import os

from openapi_spec_validator import validate

import oa_it

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "services", "query", "openapi.json")


def test_openapi_served_and_valid(stack, q):
    r = oa_it.http(q[0].port, "GET", "/openapi.json")
    assert r.status == 200, r
    with open(SOURCE, "rb") as f:
        assert r.body == f.read(), "the served document is not services/query/openapi.json"
    doc = json.loads(r.body)
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for path in ("/v1/projects", "/v1/projects/{id}", "/v1/keys", "/v1/keys/{key_id}"):
        assert path in doc["paths"], path


def test_documented_v1_routes_exist(stack, q):
    with open(SOURCE) as f:
        doc = json.load(f)
    for path, item in doc["paths"].items():
        if not path.startswith("/v1/"):
            continue
        concrete = path.replace("{id}", "prj_doesnotexist000").replace("{key_id}", "key_doesnotexist000")
        for method in item:
            if method == "parameters":
                continue
            r = oa_it.http(q[0].port, method.upper(), concrete, src="127.0.0.77")
            # Without a key every documented /v1 route answers 401 (or 429 once this
            # address has failed too often), never 404 or 405: it exists.
            assert r.status in (401, 429), (method, path, r.status)
