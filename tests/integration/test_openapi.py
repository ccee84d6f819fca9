"""GET /openapi.json on a running oa-query: the document is served without a key, is the
merge of the fragments in services/query/openapi/ (openapi_merge.py) byte for byte, passes a real OpenAPI 3.1 validator, and describes
every management route the daemon answers (each documented route answers something other
than 404 when called without a key)."""
import glob
import json
import os
import subprocess
import sys

from openapi_spec_validator import validate

import oa_it

QUERY_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "services", "query")


def merged_document(tmp_path):
    """The document the fragments in the source tree make (bytes)."""
    out = tmp_path / "openapi.json"
    subprocess.run([sys.executable, os.path.join(QUERY_DIR, "openapi_merge.py"), str(out)] +
                   sorted(glob.glob(os.path.join(QUERY_DIR, "openapi", "*.json"))), check=True)
    return out.read_bytes()


def test_openapi_served_and_valid(stack, q, tmp_path):
    r = oa_it.http(q[0].port, "GET", "/openapi.json")
    assert r.status == 200, r
    assert r.body == merged_document(tmp_path), \
        "the served document is not the merge of services/query/openapi/*.json (rebuild?)"
    doc = json.loads(r.body)
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for path in ("/v1/projects", "/v1/projects/{id}", "/v1/keys", "/v1/keys/{key_id}"):
        assert path in doc["paths"], path


def test_documented_v1_routes_exist(stack, q, tmp_path):
    doc = json.loads(merged_document(tmp_path))
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
