"""API benchmark (docs/benchmarks.md): wrk against two read endpoints of a release coordinator on SQLite and on
PostgreSQL (a throwaway cluster, scripts/postgres-throwaway), and, in the same run, against a bare Hummingbird route
(api-baseline) that answers the same bytes with no token check, database, audit or OpenAPI layer. Rounds alternate
between the targets; the table gives medians and ratios. After the runs, every answered read of a customer must
have its entry in the audit log, and `meridian audit verify` must find the chain whole.

- GET /v1/subprocessors (admin token): the registry, read without an audit entry.
- GET /v1/customers/{id} (admin token): a customer's record; every such read appends to the hash-chained audit
  log, so it is also a write.

Usage: bench.py MERIDIAN_BINARY BASELINE_BINARY [--seconds N] [--connections N] [--rounds N] [--database sqlite|postgres|both]"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support import free_port, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def request(method, url, token, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, response.read()


def wrk(url, token, seconds, connections):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rate, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0, total


def audited_reads(api, token, customer):
    """How many `customer.read` entries the audit log holds for `customer`, paging through all of it."""
    count, after = 0, 0
    while True:
        page = json.loads(request("GET", f"{api}/v1/audit?after={after}&limit=1000", token)[1])
        count += sum(1 for entry in page["items"] if entry["action"] == "customer.read" and entry["target"] == customer)
        if page.get("next_after") is None:
            return count
        after = page["next_after"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("meridian")
    parser.add_argument("baseline")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    rows = []
    for database in databases:
        rows += measure(args, database)
    print(f"| database | route | server | requests/s (median of {args.rounds}) | p99 latency | non-2xx | throughput vs bare |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


def measure(args, database):
    work = tempfile.mkdtemp(prefix="meridian-bench-api-")
    port, base_port = free_port(), free_port()
    processes = []
    pgdir = None
    try:
        if database == "postgres":
            url = subprocess.run([os.path.join(ROOT, "scripts", "postgres-throwaway"), os.path.join(work, "pgdir")], check=True,
                                 capture_output=True, text=True).stdout.strip()
            pgdir = open(os.path.join(work, "pgdir")).read().strip()
        else:
            url = f"sqlite:{work}/coordinator.sqlite"
        coordinator = subprocess.Popen(
            [args.meridian, "coordinator", "--database", url, "--data-dir", work, "--port", str(port),
             "--node-port", str(free_port()), "--regions", os.path.join(ROOT, "Regions")],
            stdout=open(os.path.join(work, "coordinator.log"), "wb"), stderr=subprocess.STDOUT)
        processes.append(coordinator)
        wait_for(lambda: os.path.exists(os.path.join(work, "admin-token")), 30, "the coordinator's admin token")
        token = open(os.path.join(work, "admin-token")).read().strip()
        api = f"http://127.0.0.1:{port}"
        wait_for(lambda: request("GET", api + "/v1/whoami", token)[0] == 200, 30, "the coordinator")
        status, created = request("POST", api + "/v1/customers", token, {
            "name": "Bench", "contact_email": "ops@bench.example", "region": "eu", "domains": ["bench.example"],
            "webhook": {"url": "https://hooks.bench.example/in", "mode": "queued"}})
        customer = json.loads(created)["customer"]["id"]
        routes = [("GET /v1/subprocessors", "/v1/subprocessors"), ("GET /v1/customers/{id}", f"/v1/customers/{customer}")]
        results = {}
        for name, path in routes:
            body = os.path.join(work, "body.json")
            open(body, "wb").write(request("GET", api + path, token)[1])
            baseline = subprocess.Popen([args.baseline, "--port", str(base_port), "--body", body], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            processes.append(baseline)
            wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{base_port}{path}", timeout=5).status == 200, 30, "the baseline")
            print(f"bench-api: {database}: {name}: {args.rounds} rounds of {args.seconds} s, {args.connections} connections", file=sys.stderr)
            runs = {"meridian": [], "bare": []}
            for _ in range(args.rounds):
                runs["meridian"].append(wrk(api + path, token, args.seconds, args.connections))
                runs["bare"].append(wrk(f"http://127.0.0.1:{base_port}{path}", token, args.seconds, args.connections))
            baseline.terminate()
            baseline.wait(timeout=10)
            results[name] = runs

        # Every answered read of the customer is in the audit log (one more: the read that fetched the body), and the
        # chain is whole. A request wrk cut off at the end of a round may have been audited without being counted.
        answered = sum(r[3] - r[2] for r in results["GET /v1/customers/{id}"]["meridian"]) + 1
        audited = audited_reads(api, token, customer)
        cut_off = args.rounds * args.connections
        if not answered <= audited <= answered + cut_off:
            raise SystemExit(f"bench-api: {database}: {answered} reads answered but {audited} audit entries")
        verify = subprocess.run([args.meridian, "audit", "verify", "--url", api, "--token", token], capture_output=True, text=True)
        if verify.returncode != 0:
            raise SystemExit(f"bench-api: {database}: {verify.stdout}{verify.stderr}")
        print(f"bench-api: {database}: {answered} customer reads answered, {audited} audited; {verify.stdout.strip()}", file=sys.stderr)

        rows = []
        for name, runs in results.items():
            bare_rate = statistics.median(r[0] for r in runs["bare"])
            for server in ("meridian", "bare"):
                rate = statistics.median(r[0] for r in runs[server])
                p99 = statistics.median(r[1] for r in runs[server])
                errors = sum(r[2] for r in runs[server])
                label = "Meridian coordinator" if server == "meridian" else "bare Hummingbird route"
                rows.append(f"| {database} | `{name}` | {label} | {rate:,.0f} | {p99:.2f} ms | {errors} | {rate / bare_rate:.2f} |")
        return rows
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        if pgdir:
            subprocess.run([os.path.join(ROOT, "scripts", "postgres-throwaway"), "--stop", pgdir])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
