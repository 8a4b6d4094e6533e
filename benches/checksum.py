#!/usr/bin/env python3
"""Answer checksums: what a build answers over the ESCI and Best Buy query sets, reduced to
one hash per kind of request, so a restructuring can show it changed no answer.

For each catalog the script imports the products into a fresh data directory with the
build's own `import`, starts the build's server on it, posts a fixed history of events for
three visitors (views, carts and purchases of products at fixed positions of the catalog,
timestamped a day ago), and asks every query of the set four ways: plain, with facets
(brand, category, price), as each visitor, and as a browse of the query's first hit's
category. Searches are not recorded as events (`record_searches = false`), so the visitors'
profiles stay what the history made them. An answer is reduced to what a shopper sees: hit
ids in order, total, facets, the query's reading, corrections and warnings; scores rounded
(to 4 decimals plain, 2 with a visitor, whose affinities decay with the clock). The volatile
`search_id` and `took_ms` are dropped.

Usage: benches/checksum.py BIN [--only esci|bestbuy] [--limit N] [--dump DIR]
Prints one line per catalog and kind: its hash and the number of queries. Two builds that
answer alike print the same lines; --dump writes every reduced answer, to diff them.
"""

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
CATALOGS = {
    "esci": (
        os.path.join(SHARED, "esci_srw150", "products.ndjson.gz"),
        os.path.join(SHARED, "esci_srw150", "queries_dev.tsv"),
    ),
    "bestbuy": (
        os.path.join(SHARED, "retrotech_bestbuy", "products.ndjson.gz"),
        os.path.join(SHARED, "bestbuy_acm_sample", "queries.txt"),
    ),
}
VISITORS = ["checksum-a", "checksum-b", "checksum-c"]
CONFIG = """
[profiles]
record_searches = false
"""


def queries_of(path, limit):
    out = []
    tsv = path.endswith(".tsv")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    # queries_dev.tsv: a header, then the query in the first column
    for line in lines[1:] if tsv else lines:
        q = line.split("\t")[0].strip()
        if q and q not in out:
            out.append(q)
    return out[:limit] if limit else out


def product_ids(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["id"] for line in f if line.strip()]


def history(ids):
    """A fixed history per visitor: each favours a different stretch of the catalog."""
    day_ago = int(time.time() * 1000) - 86_400_000
    events = []
    for v, visitor in enumerate(VISITORS):
        picks = [ids[(v * 997 + k * 131) % len(ids)] for k in range(12)]
        for k, pid in enumerate(picks):
            ts = day_ago + v * 10_000 + k * 60_000
            events.append({"type": "view", "visitor_id": visitor, "product_id": pid, "timestamp": ts})
            if k % 3 == 0:
                events.append({"type": "add_to_cart", "visitor_id": visitor, "product_id": pid, "timestamp": ts + 1})
            if k % 6 == 0:
                events.append({"type": "purchase", "visitor_id": visitor, "product_id": pid, "timestamp": ts + 2})
    return "\n".join(json.dumps(e) for e in events) + "\n"


def request(port, path, body=None, content_type="application/x-ndjson"):
    url = f"http://127.0.0.1:{port}{path}"
    data = body.encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"content-type": content_type} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def reduce(answer, places):
    if not isinstance(answer, dict):
        return answer
    out = {k: v for k, v in answer.items() if k not in ("search_id", "took_ms")}
    if "hits" in out:
        out["hits"] = [
            {"id": h.get("id"), "score": round(h.get("score", 0.0), places)} for h in out["hits"]
        ]
    return out


def run(binary, name, limit, dump):
    catalog, query_file = CATALOGS[name]
    if not os.path.exists(catalog):
        print(f"{name}: {catalog} missing, skipped", file=sys.stderr)
        return
    work = tempfile.mkdtemp(prefix="checksum-")
    server = None
    try:
        data = os.path.join(work, "data")
        config = os.path.join(work, "attune.toml")
        with open(config, "w") as f:
            f.write(CONFIG)
        subprocess.run([binary, "import", catalog, "--data-dir", data], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
        port = 7800 + os.getpid() % 100
        server = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--config", config],
            env={**os.environ, "RUST_LOG": "warn"})
        for _ in range(300):
            try:
                if request(port, "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        status, answer = request(port, "/v1/events", history(product_ids(catalog)))
        assert status == 200, (status, answer)
        kinds = {"plain": "", "facets": "&facets=brand,category,price"}
        for visitor in VISITORS:
            kinds[visitor] = f"&visitor_id={visitor}"
        hashes = {kind: hashlib.sha256() for kind in list(kinds) + ["browse"]}
        reduced_all = {kind: [] for kind in hashes}
        for q in queries_of(query_file, limit):
            first_category = None
            for kind, extra in kinds.items():
                places = 2 if kind.startswith("checksum") else 4
                path = "/v1/search?" + urllib.parse.urlencode({"q": q, "limit": 10}) + extra
                status, answer = request(port, path)
                if kind == "plain" and status == 200 and answer["hits"]:
                    first_category = answer["hits"][0].get("category")
                reduced = [q, status, reduce(answer, places)]
                text = json.dumps(reduced, sort_keys=True)
                hashes[kind].update(text.encode())
                reduced_all[kind].append(text)
            if first_category:
                path = "/v1/browse?" + urllib.parse.urlencode(
                    {"category": " > ".join(first_category), "limit": 10, "facets": "brand"})
                status, answer = request(port, path)
                text = json.dumps([q, status, reduce(answer, 4)], sort_keys=True)
                hashes["browse"].update(text.encode())
                reduced_all["browse"].append(text)
        for kind, h in hashes.items():
            print(f"{name} {kind:<11} {h.hexdigest()[:16]} ({len(reduced_all[kind])} answers)")
            if dump:
                os.makedirs(dump, exist_ok=True)
                with open(os.path.join(dump, f"{name}-{kind}.jsonl"), "w") as f:
                    f.write("\n".join(reduced_all[kind]) + "\n")
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--only", choices=sorted(CATALOGS))
    parser.add_argument("--limit", type=int, default=0, help="first N queries of each set")
    parser.add_argument("--dump", help="write the reduced answers here")
    args = parser.parse_args()
    for name in [args.only] if args.only else sorted(CATALOGS):
        run(os.path.abspath(args.binary), name, args.limit, args.dump)


if __name__ == "__main__":
    main()
