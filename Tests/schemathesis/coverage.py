"""Which answers each operation of docs/openapi.yaml got in a schemathesis run (its HAR report), and whether
every operation was reached: one answered only 401 or 403 (or never called) was never tested past the
authentication middleware, so the run proves nothing about it. Exits 1 naming such operations.

Usage: coverage.py SPEC HAR [HAR ...]"""

import collections
import json
import re
import sys
import urllib.parse

import yaml


def operations(spec):
    """(method, compiled path pattern, operation id) for every operation."""
    result = []
    for path, item in yaml.safe_load(open(spec))["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                result.append((method.upper(), pattern, path.count("{"), operation["operationId"]))
    # The most specific pattern first: /v1/customers/{id}/dns before /v1/customers/{id}.
    return sorted(result, key=lambda entry: entry[2])


def main():
    spec, hars = sys.argv[1], sys.argv[2:]
    known = operations(spec)
    statuses = collections.defaultdict(collections.Counter)
    for har in hars:
        for entry in json.load(open(har))["log"]["entries"]:
            method = entry["request"]["method"]
            path = urllib.parse.urlsplit(entry["request"]["url"]).path
            for op_method, pattern, _, operation_id in known:
                if op_method == method and pattern.match(path):
                    statuses[operation_id][entry["response"]["status"]] += 1
                    break
    unreached = []
    for _, _, _, operation_id in sorted(known, key=lambda entry: entry[3]):
        seen = statuses.get(operation_id, collections.Counter())
        codes = ", ".join(f"{code}×{count}" for code, count in sorted(seen.items()))
        print(f"  {operation_id:32} {codes or 'never called'}")
        if not seen or set(seen) <= {401, 403}:
            unreached.append(operation_id)
    if unreached:
        print(f"schemathesis: {len(unreached)} operations were answered only 401/403 or never called: {', '.join(unreached)}",
              file=sys.stderr)
        return 1
    print(f"schemathesis: all {len(known)} operations were reached past authentication")
    return 0


if __name__ == "__main__":
    sys.exit(main())
