"""Config propagation: time from an admin API change to the last node's ACK.

Starts a coordinator (SQLite) and N nodes per region (`meridian node --coordinator --join`, over mutual TLS;
a build from before node identity runs them as it did, with the shared node token over plain HTTP, so that
the two can be measured side by side) on loopback, from a copy of Regions/ that lists N nodes per region, creates one unpinned customer (so every change reaches every
region), then makes CHANGES webhook-URL changes one after another. For each, the clock starts before the
PATCH is sent and stops when GET /v1/nodes shows every node having acknowledged the new version (polled
every millisecond over one keep-alive connection). Prints JSON with the percentiles.

With --customers N (and --config-benchmark, the release build of that benchmark), the coordinator's database is
first filled with N more customers (`config-benchmark --seed`, with the coordinator stopped), so that each
change is one customer among N. Then it also reports how long the nodes took to get their first config, the
bytes of the signed deltas each change sent (from the coordinator's `config_deltas`), and each process's memory.

    python3 Benchmarks/config/propagation.py --meridian .build/release/meridian [--changes 200] [--nodes-per-region 3]
        [--customers 1000000 --config-benchmark .build/release/config-benchmark]
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support import free_port, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OLD_TOKEN = "mrd_" + "b" * 43


class API:
    def __init__(self, port, token):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = token

    def call(self, method, path, body=None):
        try:
            self.connection.request(method, path, body=json.dumps(body) if body is not None else None,
                                    headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            response = self.connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        except (OSError, http.client.HTTPException) as error:
            # The coordinator is not up yet, or restarted: the next call opens a new connection.
            self.connection.close()
            raise OSError(str(error)) from error


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--meridian", required=True)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--nodes-per-region", type=int, default=3)
    parser.add_argument("--customers", type=int, default=0, help="customers to add to the database before the changes")
    parser.add_argument("--config-benchmark", help="the config-benchmark build that seeds them")
    parser.add_argument("--keep-work", action="store_true", help="keep the working directory and its logs")
    args = parser.parse_args()
    if args.customers and not args.config_benchmark:
        parser.error("--customers needs --config-benchmark (the build that writes them)")
    # A million customers take minutes to compile, sign and send the first time.
    slow = 60 + args.customers // 1000

    # Builds before node identity (no --join) take the shared node token and plain HTTP.
    enrolled_nodes = "--join" in subprocess.run([args.meridian, "node", "--help"], capture_output=True, text=True).stdout
    scheme = "https" if enrolled_nodes else "http"
    work = tempfile.mkdtemp(prefix="meridian-propagation-")
    regions = os.path.join(work, "Regions")
    shutil.copytree(os.path.join(ROOT, "Regions"), regions)
    nodes = []
    for name in ("eu", "us", "ap"):
        path = os.path.join(regions, f"{name}.yaml")
        text = open(path).read()
        entries = []
        for index in range(1, args.nodes_per_region + 1):
            control = free_port()
            nodes.append((name, f"{name}-{index}", control, free_port()))
            entries.append(f"  - id: {name}-{index}\n    control_url: {scheme}://127.0.0.1:{control}\n")
        text = re.sub(r"nodes:\n(?:  .*\n|    .*\n|  #.*\n)+", "nodes:\n" + "".join(entries), text)
        open(path, "w").write(text)

    env = dict(os.environ, LOG_LEVEL=os.environ.get("LOG_LEVEL", "warning"), **({} if enrolled_nodes else {"MERIDIAN_NODE_TOKEN": OLD_TOKEN}))
    port, node_port = free_port(), free_port()
    data = os.path.join(work, "coordinator")
    def coordinator():
        return subprocess.Popen(
            [args.meridian, "coordinator", "--database", f"sqlite:{data}/coordinator.sqlite", "--data-dir", data,
             "--port", str(port), *(["--node-port", str(node_port)] if enrolled_nodes else []), "--regions", regions],
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "coordinator.log"), "ab"))
    processes = [coordinator()]
    try:
        wait_for(lambda: os.path.exists(os.path.join(data, "admin-token")), what="the coordinator")
        if args.customers:
            wait_for(lambda: API(port, "x").call("GET", "/v1/whoami")[0] == 401, what="the coordinator's first start")
            processes[0].send_signal(signal.SIGTERM)
            processes[0].wait(timeout=60)
            seeded = time.perf_counter()
            subprocess.run([args.config_benchmark, "--seed", data, "--customers", str(args.customers), "--regions", regions], check=True)
            print(f"propagation: seeded {args.customers} customers in {time.perf_counter() - seeded:.1f} s", file=sys.stderr)
            processes[0] = coordinator()
        started = time.perf_counter()
        api = API(port, open(os.path.join(data, "admin-token")).read().strip())
        wait_for(lambda: api.call("GET", "/v1/whoami")[0] == 200, timeout=slow, what="the admin API")
        status, created = api.call("POST", "/v1/customers", {
            "name": "Bench", "contact_email": "ops@bench.example", "region": None, "domains": ["bench.example"],
            "webhook": {"url": "https://hooks.bench.example/0", "mode": "queued"}})
        assert status == 201, created
        cid = created["customer"]["id"]
        for region, node, control, smtp in nodes:
            if enrolled_nodes:
                # Enrolled, then joined with its token; pushes and pulls go over mutual TLS.
                status, enrolled = api.call("POST", "/v1/nodes", {"region": region, "node_id": node, "control_url": f"https://127.0.0.1:{control}"})
                assert status == 201, enrolled
                link = ["--probe-port", str(free_port()), "--coordinator", f"https://127.0.0.1:{node_port}", "--join", enrolled["join_token"]]
            else:
                link = ["--node-id", node, "--coordinator", f"http://127.0.0.1:{port}", "--trust-key", os.path.join(data, "bundle-signing.pub")]
            processes.append(subprocess.Popen(
                [args.meridian, "node", "--region", region, "--regions", regions,
                 "--data-dir", os.path.join(work, node), "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp),
                 "--control-port", str(control), *link],
                env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{node}.log"), "wb")))

        def all_at(version):
            status, body = api.call("GET", "/v1/nodes")
            return (len(body["nodes"]) == len(nodes)
                    and all((n.get("applied_version") or 0) >= version for n in body["nodes"]) and body)

        version = wait_for(lambda: all_at(api.call("GET", "/v1/nodes")[1]["config_version"]), timeout=slow, what="every node's first ACK")["config_version"]
        first_config_s = time.perf_counter() - started
        # One change not timed: pushes of the first snapshot may still be on their way to nodes that pulled it (with
        # a million customers each takes seconds), and a node takes the next version only after them.
        status, _ = api.call("PATCH", f"/v1/customers/{cid}", {"webhook": {"url": "https://hooks.bench.example/warm-up", "mode": "queued"}})
        assert status == 200
        version += 1
        wait_for(lambda: all_at(version), timeout=slow, what="the warm-up change on every node")
        first_version = version
        times, api_times = [], []
        for change in range(1, args.changes + 1):
            start = time.perf_counter()
            status, _ = api.call("PATCH", f"/v1/customers/{cid}", {"webhook": {"url": f"https://hooks.bench.example/{change}", "mode": "queued"}})
            api_times.append(time.perf_counter() - start)
            assert status == 200
            version += 1
            while not all_at(version):
                if time.perf_counter() - start > 10:
                    raise SystemExit(f"propagation: version {version} not acknowledged by every node within 10 s")
                time.sleep(0.001)
            times.append(time.perf_counter() - start)
        ms = [t * 1000 for t in times]
        extra = {}
        if args.customers:
            def memory(process):
                status = open(f"/proc/{process.pid}/status").read()
                return {key: int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) // 1024 for key in ("VmRSS", "VmHWM")}
            database = sqlite3.connect(f"file:{data}/coordinator.sqlite?mode=ro", uri=True)
            sent = [row[0] for row in database.execute(
                "SELECT SUM(bytes) FROM config_deltas WHERE version > ? GROUP BY version ORDER BY version", (first_version,))]
            snapshot = database.execute("SELECT SUM(bytes) FROM config_bundles").fetchone()[0]
            extra = {
                "customers": args.customers + 1, "first_config_all_nodes_s": round(first_config_s, 1),
                "delta_bytes_per_change_all_regions_median": sorted(sent)[len(sent) // 2] if sent else None,
                "snapshot_bytes_all_regions": snapshot,
                "coordinator_memory_mb": memory(processes[0]),
                "node_memory_mb": {node: memory(process) for (_, node, _, _), process in zip(nodes, processes[1:])},
            }
        print(json.dumps({**extra, 
            "build": args.meridian, "link": "mutual TLS" if enrolled_nodes else "plain HTTP, shared token",
            "changes": args.changes, "nodes": len(nodes), "regions": 3,
            "p50_ms": round(percentile(ms, 50), 1), "p90_ms": round(percentile(ms, 90), 1), "p99_ms": round(percentile(ms, 99), 1),
            "max_ms": round(max(ms), 1), "mean_ms": round(statistics.mean(ms), 1),
            "api_patch_p50_ms": round(percentile([t * 1000 for t in api_times], 50), 1),
        }))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if args.keep_work:
            print(f"propagation: logs and data kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
