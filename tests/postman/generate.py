#!/usr/bin/env python3
"""The Postman collection (v2.1) and staging environment of tambah, generated
from its OpenAPI description (docs/openapi.json). Python 3 standard library only.

    python3 tests/postman/generate.py          write docs/postman/*.json
    python3 tests/postman/generate.py --check  exit 1 if they differ from what it would write

Every operation becomes a request in a folder per tag, with its parameters and
body filled from the description's examples (else from FALLBACK below), and a
test script: the status is one the description documents for the operation,
the answer is JSON (or of a media type documented for its status), and for the
operations in EXPECT_200, which are sent valid input, the status is 200. The collection's own scripts (authentication, a fresh
{{refid}} per request) are tests/postman/prerequest.js and tests/postman/test.js.
"""

import argparse
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SPEC = ROOT / "docs" / "openapi.json"
COLLECTION = ROOT / "docs" / "postman" / "tambah.postman_collection.json"
ENVIRONMENT = ROOT / "docs" / "postman" / "staging.postman_environment.json"
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MISSING = object()

# Fields that are always a variable, whatever example the description gives:
# the credentials, and the refid: new in the body of an order (a path ending in
# /topup), elsewhere the last order the collection placed.
VARIABLES = {
    "refid": "{{lastRefid}}",
    "username": "{{username}}",
    "password": "{{password}}",
    "refresh_token": "{{refreshToken}}",
}
NEW_ORDER = {"refid": "{{refid}}"}

# Values for required fields the description gives no example for; each one is
# accepted by a staging node (docs/api.md): Digi prepaid RM 10 to a number that
# is not a simulation number succeeds with 20 (and is a valid bill account and
# low-balance threshold); U Mobile data (UMI) has the same plans for everyone;
# an empty callback URL turns callbacks off; any month or day can be reported.
FALLBACK = {
    "product": "D",
    "account": "0123456789",
    "amount": "10",
    "product_code": "UMI",
    "url": "",
    "month": "2026-01",
    "date": "2026-01-01",
    "provider": "iimmpact",
}

# Operations sent valid input, so that anything but 200 is a failure.
EXPECT_200 = {
    ("get", "/health"),
    ("post", "/v1/token"),
    ("post", "/v1/token/refresh"),
    ("post", "/v2/token"),
    ("post", "/v2/token/refresh"),
    ("get", "/v1/balance"),
    ("get", "/v2/balance"),
    ("get", "/v1/low-balance-threshold"),
    ("get", "/v2/low-balance-threshold"),
    ("post", "/v1/low-balance-threshold"),
    ("post", "/v2/low-balance-threshold"),
    ("post", "/v1/topup"),
    ("post", "/v2/topup"),
    ("get", "/v1/products"),
    ("get", "/v2/product-list"),
    ("get", "/v2/products"),
    ("get", "/v2/catalog"),
    ("get", "/v2/subproducts"),
    ("get", "/v2/options"),
    ("get", "/v2/esim/countries"),
    ("get", "/v1/networkstatus"),
    ("get", "/v2/networkstatus"),
    ("get", "/v1/transactions"),
    ("get", "/v2/transactions"),
    ("get", "/v1/balance-statement"),
    ("get", "/v2/balance-statement"),
    ("get", "/v2/reports/invoice"),
    ("get", "/v2/reports/transaction-summary"),
    ("get", "/v1/callback-url"),
    ("get", "/v2/callback-url"),
    ("post", "/v1/callback-url"),
    ("post", "/v2/callback-url"),
    ("get", "/v2/callbacks/{refid}"),
    ("get", "/v1/bill-presentment"),
    ("get", "/v2/bill-presentment"),
}

# Orders that must come back Successful (20), in whichever response version;
# each keeps its refid as {{lastRefid}} for the requests about an order.
TOPUP_SUCCEEDS = {("post", "/v1/topup"), ("post", "/v2/topup")}

# Keep the refresh token for the refresh requests, which come after them.
KEEPS_REFRESH_TOKEN = {("post", "/v1/token"), ("post", "/v2/token")}

TOPUP_TEST = """pm.test("the order is Successful (20)", function () {
  const answer = pm.response.json();
  const order = answer.data || answer;
  const code = order.statuscode !== undefined ? order.statuscode : order.statusCode;
  if (code !== undefined) {
    pm.expect(String(code)).to.equal("20");
  } else {
    pm.expect(order.status).to.equal("Succesful");
  }
});
if (pm.response.code === 200) {
  pm.collectionVariables.set("lastRefid", pm.variables.get("refid"));
}"""

REFRESH_TOKEN_TEST = """if (pm.response.code === 200) {
  pm.collectionVariables.set("refreshToken", pm.response.json().AuthenticationResult.RefreshToken);
}"""

JSON_TEST = """pm.test("the answer is JSON", function () {
  pm.expect(pm.response.headers.get("Content-Type") || "").to.match(/^application\\/json/i);
  pm.response.json();
});"""


class Spec:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, node):
        """Follows local $refs (#/components/...)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                sys.exit(f"generate.py: only local $refs are supported, not {ref}")
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
            if seen > 50:
                sys.exit(f"generate.py: $ref loop at {ref}")
        return node

    def example(self, node):
        """The example a parameter, media type or schema gives, else MISSING."""
        node = self.resolve(node)
        if not isinstance(node, dict):
            return MISSING
        if "example" in node:
            return node["example"]
        examples = node.get("examples")
        if isinstance(examples, dict) and examples:
            first = self.resolve(next(iter(examples.values())))
            if isinstance(first, dict) and "value" in first:
                return first["value"]
        if isinstance(examples, list) and examples:
            return examples[0]
        for key in ("const", "default"):
            if key in node:
                return node[key]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return node["enum"][0]
        return MISSING

    def schema_example(self, schema, name, variables, depth=0):
        """A value for `schema`: its example, else one built from its type."""
        schema = self.resolve(schema or {})
        if name in variables:
            return variables[name]
        found = self.example(schema)
        if found is not MISSING:
            return with_variables(found, variables)
        if name in FALLBACK:
            return FALLBACK[name]
        if depth > 8:
            return None
        for key in ("allOf", "oneOf", "anyOf"):
            if schema.get(key):
                if key == "allOf":
                    merged = {"type": "object", "properties": {}, "required": []}
                    for part in schema["allOf"]:
                        part = self.resolve(part)
                        merged["properties"].update(part.get("properties", {}))
                        merged["required"] += part.get("required", [])
                    return self.schema_example(merged, name, variables, depth + 1)
                return self.schema_example(schema[key][0], name, variables, depth + 1)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            out = {}
            required = schema.get("required", [])
            for prop, sub in schema.get("properties", {}).items():
                if prop in required or prop in variables or self.example(sub) is not MISSING:
                    out[prop] = self.schema_example(sub, prop, variables, depth + 1)
            return out
        if kind == "array":
            return [self.schema_example(schema.get("items", {}), None, variables, depth + 1)]
        if kind in ("integer", "number"):
            return schema.get("minimum", 1)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return ""


def with_variables(value, variables):
    """An example object with its `variables` fields replaced."""
    if isinstance(value, dict):
        return {k: variables.get(k, with_variables(v, variables)) for k, v in value.items()}
    if isinstance(value, list):
        return [with_variables(v, variables) for v in value]
    return value


def text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def script(listen, source):
    return {"listen": listen, "script": {"type": "text/javascript", "exec": source.rstrip("\n").split("\n")}}


def statuses(op):
    """The documented statuses: exact codes, and ranges such as 4XX; None if `default`."""
    codes, ranges = [], []
    for key in op.get("responses", {}):
        if key == "default":
            return None
        if key.isdigit():
            codes.append(int(key))
        elif len(key) == 3 and key[0].isdigit() and key[1:].upper() == "XX":
            ranges.append(int(key[0]))
    return sorted(codes), sorted(ranges)


def media_types(spec, op):
    """Each documented status with the media types of its answer."""
    return {
        code: sorted(spec.resolve(response).get("content", {}))
        for code, response in op.get("responses", {}).items()
    }


def is_json(media):
    return media.startswith("application/json") or media.endswith("+json")


def media_test(documented):
    """The answer is JSON; where the description gives other media types for a
    status (CSV, PNG), the answer's is one of that status's."""
    if all(is_json(m) for types in documented.values() for m in types):
        return JSON_TEST
    table = json.dumps({code: types for code, types in documented.items() if types}, separators=(", ", ": "))
    return f"""pm.test("the answer's media type is one documented for its status, and JSON parses", function () {{
  const documentedMedia = {table};
  const type = (pm.response.headers.get("Content-Type") || "").split(";")[0].trim().toLowerCase();
  const types = documentedMedia[String(pm.response.code)] || documentedMedia[String(pm.response.code)[0] + "XX"];
  if (types) {{
    pm.expect(types).to.include(type);
  }}
  if (/^application\/json$|\+json$/.test(type)) {{
    pm.response.json();
  }}
}});"""


def test_script(spec, method, path, op):
    parts = []
    documented = statuses(op)
    if documented is not None:
        codes, ranges = documented
        names = [str(c) for c in codes] + [f"{r}XX" for r in ranges]
        check = f"pm.expect([{', '.join(map(str, codes))}]).to.include(pm.response.code);"
        if ranges:
            check = (
                f"pm.expect([{', '.join(map(str, codes))}].includes(pm.response.code) || "
                f"[{', '.join(map(str, ranges))}].includes(Math.floor(pm.response.code / 100)), "
                f"String(pm.response.code)).to.equal(true);"
            )
        parts.append(
            f'pm.test("the status is one the description documents ({", ".join(names)})", function () {{\n'
            f"  {check}\n}});"
        )
    if (method, path) in EXPECT_200:
        parts.append('pm.test("the status is 200", function () {\n  pm.response.to.have.status(200);\n});')
    parts.append(media_test(media_types(spec, op)))
    if (method, path) in TOPUP_SUCCEEDS:
        parts.append(TOPUP_TEST)
    if (method, path) in KEEPS_REFRESH_TOKEN:
        parts.append(REFRESH_TOKEN_TEST)
    return "\n".join(parts)


def request_item(spec, method, path, op, path_params):
    params = {}
    for p in path_params + op.get("parameters", []):
        p = spec.resolve(p)
        params[(p["name"], p["in"])] = p
    query, headers, variables = [], [], []
    for (name, where), p in params.items():
        required = p.get("required", False) or where == "path"
        value = VARIABLES.get(name, MISSING)
        if value is MISSING:
            value = spec.example(p)
        if value is MISSING:
            value = spec.example(p.get("schema", {}))
        if value is MISSING:
            value = FALLBACK.get(name, "") if required else ""
        entry = {"key": name, "value": text(value)}
        if p.get("description"):
            entry["description"] = p["description"]
        if not required:
            entry["disabled"] = True
        if where == "query":
            query.append(entry)
        elif where == "header":
            if name.lower() not in ("authorization", "x-api-key", "x-timestamp", "x-nonce", "x-signature"):
                headers.append(entry)
        elif where == "path":
            variables.append(entry)

    segments = [(":" + s[1:-1]) if s.startswith("{") and s.endswith("}") else s for s in path.strip("/").split("/")]
    url = {"raw": "{{baseUrl}}/" + "/".join(segments), "host": ["{{baseUrl}}"], "path": segments}
    if query:
        url["raw"] += "?" + "&".join(f"{q['key']}={q['value']}" for q in query if not q.get("disabled"))
        url["raw"] = url["raw"].rstrip("?")
        url["query"] = query
    if variables:
        url["variable"] = variables

    request = {"method": method.upper(), "header": headers}
    body = op.get("requestBody")
    if body:
        body = spec.resolve(body)
        content = body.get("content", {})
        media = next((m for m in content if m.startswith("application/json")), None)
        media = media or next((m for m in content if m == "application/x-www-form-urlencoded"), None)
        media = media or next(iter(content), None)
        if media:
            variables = {**VARIABLES, **NEW_ORDER} if path.endswith("/topup") else VARIABLES
            value = spec.example(content[media])
            if value is MISSING:
                value = spec.schema_example(content[media].get("schema"), None, variables)
            else:
                value = with_variables(value, variables)
            headers.append({"key": "Content-Type", "value": media})
            if media == "application/x-www-form-urlencoded" and isinstance(value, dict):
                request["body"] = {"mode": "urlencoded", "urlencoded": [{"key": k, "value": text(v)} for k, v in value.items()]}
            elif media.startswith("application/json"):
                request["body"] = {
                    "mode": "raw",
                    "raw": json.dumps(value, indent=2, ensure_ascii=False),
                    "options": {"raw": {"language": "json"}},
                }
            else:
                request["body"] = {"mode": "raw", "raw": text(value)}
    request["url"] = url
    security = op.get("security", spec.doc.get("security", []))
    if not security or {} in security:
        request["auth"] = {"type": "noauth"}

    lines = [x for x in (op.get("summary"), op.get("description")) if x]
    documented = []
    for code, response in op.get("responses", {}).items():
        documented.append(f"- {code}: {spec.resolve(response).get('description', '')}")
    if documented:
        lines.append("Documented answers:\n\n" + "\n".join(documented))
    request["description"] = "\n\n".join(lines)

    return {
        "name": f"{method.upper()} {path}",
        "event": [script("test", test_script(spec, method, path, op))],
        "request": request,
    }


def collection(doc):
    spec = Spec(doc)
    info = doc.get("info", {})
    tag_text = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    folders = {name: [] for name in tag_text}
    described = set()
    for path, item in doc.get("paths", {}).items():
        item = spec.resolve(item)
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            described.add((method, path))
            tag = (op.get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append(request_item(spec, method, path, op, item.get("parameters", [])))
    for method, path in sorted((EXPECT_200 | TOPUP_SUCCEEDS | KEEPS_REFRESH_TOKEN) - described):
        sys.exit(f"generate.py: {method.upper()} {path} is named in generate.py but not described in docs/openapi.json")

    description = "\n\n".join(
        [
            info.get("description", ""),
            "Generated from the OpenAPI description (`docs/openapi.json`) by `tests/postman/generate.py`: "
            "edit those, not this file.",
            "Authentication (collection pre-request script): with `api_key` and `api_secret` set in the "
            "environment, every request is signed (HMAC v1: `X-Api-Key`, `X-Timestamp`, `X-Nonce`, "
            "`X-Signature`); without them, a token is fetched from `/v2/token` with `username` and "
            "`password` and kept in `token`. Every request gets a fresh `{{refid}}`.",
        ]
    ).strip()
    here = HERE.relative_to(ROOT)
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "tambah/postman/collection")),
            "name": info.get("title", "tambah"),
            "description": description,
            "schema": SCHEMA_URL,
        },
        "item": [
            {"name": tag, "description": tag_text.get(tag, ""), "item": items}
            for tag, items in folders.items()
            if items
        ],
        "event": [
            script("prerequest", (HERE / "prerequest.js").read_text()),
            script("test", (HERE / "test.js").read_text()),
        ],
        "variable": [
            {"key": "refreshToken", "value": "", "description": "Kept by the token requests for the refresh requests"},
            {"key": "lastRefid", "value": "", "description": "The refid of the last order this collection placed"},
            {"key": "tokenExpiresAt", "value": "", "description": "When the cached token expires (ms since the epoch)"},
            {
                "key": "expectAuth",
                "value": "",
                "description": f"hmac or bearer: every authenticated request must use it ({here}/run.sh sets it)",
            },
        ],
    }


def environment():
    def value(key, kind="default", default=""):
        return {"key": key, "value": default, "type": kind, "enabled": True}

    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "tambah/postman/environment/staging")),
        "name": "tambah staging",
        "values": [
            value("baseUrl", default="http://127.0.0.1:8080"),
            value("username"),
            value("password", "secret"),
            value("api_key"),
            value("api_secret", "secret"),
            value("token", "secret"),
        ],
        "_postman_variable_scope": "environment",
    }


def dump(value):
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in files are stale")
    args = parser.parse_args()
    outputs = {
        COLLECTION: dump(collection(json.loads(SPEC.read_text()))),
        ENVIRONMENT: dump(environment()),
    }
    stale = []
    for path, content in outputs.items():
        current = path.read_text() if path.exists() else None
        if current != content:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    if args.check and stale:
        for path in stale:
            print(f"{path} is not what {SPEC.relative_to(ROOT)} gives: run python3 tests/postman/generate.py", file=sys.stderr)
        sys.exit(1)
    for path in stale:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
