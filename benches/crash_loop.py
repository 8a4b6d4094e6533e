#!/usr/bin/env python3
"""Crash loop: kill -9 the server under concurrent writes, restart it, check nothing was lost.

    python3 benches/crash_loop.py target/release/attune [--rounds 20] [--seed N]

One data directory (a tempdir, kept for inspection) serves every round. A round runs, for a
random 0.3-2.0 s: 4 event writers (visitors w0..w3, NDJSON batches of 50 events, each with a
unique event_id), 1 product writer (batches of 20 new products), 1 sync pusher (one full sync
a round, batches of 25 products) and 1 eraser (visitor e<round>: 30 events, then DELETE
/v1/visitors/e<round> at a random moment); then the server is killed with SIGKILL and
restarted. Checked after the restart (a failure is a violation; the exit status is then 1):

  (a) each event writer retries its unanswered batch (same event_ids); then counters.events
      of w_k equals the number of distinct events it ever had acknowledged or retried
      (fewer: lost; more: double-counted);
  (b) the product writer retries its unanswered batch; every product that must be in the
      catalog answers 200, and /health counts exactly them;
  (c) the round's sync (if its creation was acknowledged) takes its unanswered batch again and
      commits with 200: products = the distinct ids staged, removed = the catalog before;
  (d) DELETE of the eraser's visitor answers 200, then GET 404, and the id appears in no file
      under DIR/profiles/ (journal segments are searched record by record, payloads only);
  (e) every 5xx answer seen anywhere is counted (each one is a violation).
Stdlib only (Python 3.11).
"""
import argparse, http.client, json, os, random, re, signal, socket, statistics, subprocess
import sys, tempfile, threading, time

FIVE_XX, VIOLATIONS, ROUND = [], [], 0
GONE = (OSError, http.client.HTTPException)  # the server went away mid-request


def violation(msg):
    VIOLATIONS.append((ROUND, msg))
    print(f"  VIOLATION round {ROUND}: {msg}", flush=True)


class Client:
    """One keep-alive connection; raises GONE when the server is gone."""
    def __init__(self, port, timeout=60):
        self.port, self.timeout, self.conn = port, timeout, None

    def call(self, method, path, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            headers = {"content-type": "application/x-ndjson"} if body is not None else {}
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except GONE:
            self.conn.close()
            self.conn = None
            raise
        if resp.status >= 500:
            FIVE_XX.append((ROUND, method, path.split("?")[0], resp.status, data[:300]))
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data


def ndjson(items):
    return "".join(json.dumps(i) + "\n" for i in items).encode()


class Server:
    def __init__(self, binary, data, logs):
        self.binary, self.data, self.logs, self.starts, self.proc = binary, data, logs, 0, None

    def start(self):
        """Starts the server on a free port; returns the seconds until /health answered ok."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.starts += 1
        self.log = os.path.join(self.logs, f"start-{self.starts:03}.log")
        t0 = time.monotonic()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.logs)
        while time.monotonic() - t0 < 120:
            if self.proc.poll() is not None:
                sys.exit(f"server exited {self.proc.returncode} at start ({self.log}):\n{self.tail()}")
            try:
                status, body = Client(self.port, 2).call("GET", "/health")
                if status == 200 and body.get("status") == "ok":
                    return time.monotonic() - t0
            except GONE:
                pass
            time.sleep(0.02)
        sys.exit("server not healthy after 120 s")

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def tail(self, n=15):
        with open(self.log, errors="replace") as f:
            return "".join(f.readlines()[-n:])


class Writer(threading.Thread):
    """Posts batches until the server goes away; the unanswered batch stays in `inflight`."""
    def __init__(self, port, batches):
        super().__init__(daemon=True)
        self.client, self.batches, self.inflight, self.acked = Client(port), batches, None, []

    def run(self):
        for path, body in self.batches:
            self.inflight = (path, body)
            try:
                status, answer = self.client.call("POST", path, ndjson(body))
            except GONE:
                return
            if status >= 500:
                return
            self.inflight = None
            self.acked.append((body, status, answer))


def events(visitor, start, n, rng):
    return [{"type": rng.choice(["view", "view", "click", "add_to_cart"]), "visitor_id": visitor,
             "product_id": f"p{rng.randrange(1, 60)}", "event_id": f"{visitor}-r{ROUND:02}-{i:06}"}
            for i in range(start, start + n)]


def event_batches(visitor, rng):
    for i in range(0, 10**9, 50):
        yield "/v1/events", events(visitor, i, 50, rng)


def product_batches(prefix, size, path="/v1/products"):
    for i in range(0, 10**9, size):
        yield path, [{"id": f"{prefix}-{j}", "title": f"Product {prefix} {j}", "price": j % 97}
                     for j in range(i, i + size)]


def erase(port, visitor, delay, rng, out):
    """Gives `visitor` 30 events, waits `delay`, erases it; records the answers in `out`."""
    client = Client(port)
    try:
        status, answer = client.call("POST", "/v1/events", ndjson(events(visitor, 0, 30, rng)))
        out["events_acked"] = status == 200 and answer["accepted"] == 30
        time.sleep(delay)
        out["deleted"] = client.call("DELETE", f"/v1/visitors/{visitor}")
    except GONE:
        pass


def find_on_disk(directory, visitor):
    """(file, text around it) for each file under `directory` holding `visitor` as a word.
    Journal segments are read record by record (len u32, crc u32, seq u64, JSON payload): their
    binary headers are skipped, as they may hold the bytes of a short id like "e2" by chance."""
    token = re.compile(rb"(?<![A-Za-z0-9_-])" + re.escape(visitor.encode()) + rb"(?![A-Za-z0-9_])")
    found = []
    for dirpath, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
            texts, at = [], 0
            while name.startswith("wal-") and at + 16 <= len(data):
                n = int.from_bytes(data[at:at + 4], "little")
                texts.append(data[at + 16:at + 16 + n])
                at += 16 + n
            texts.append(data[at:])  # the whole file, or what follows the last whole record
            if m := next(filter(None, map(token.search, texts)), None):
                found.append((name, m.string[max(0, m.start() - 120):m.end() + 120]))
    return found


def retry(c, name, writer, key):
    """Posts a writer's unanswered batch again; returns its items and the answer."""
    if not writer.inflight:
        return [], {}
    path, body = writer.inflight
    status, answer = c.call("POST", path, ndjson(body))
    if status != 200 or sum(answer.get(k, 0) for k in key) != len(body):
        violation(f"{name}: retried batch answered {status} {answer}")
    return body, answer


def main():
    global ROUND
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = tempfile.mkdtemp(prefix="attune-crash-")
    data, logs = os.path.join(root, "data"), os.path.join(root, "logs")
    os.makedirs(logs)
    print(f"seed {args.seed}, data dir {data}, server logs {logs}", flush=True)
    server = Server(os.path.abspath(args.binary), data, logs)
    server.start()
    sent = {f"w{k}": set() for k in range(4)}  # event ids acknowledged or retried, per visitor
    catalog = set()                            # product ids that must be in the catalog
    totals = dict(events=0, products=0, lost=0, double=0, retried=0, dups=0, syncs=0, erasures=0)
    restarts, syncs_created = [], 0
    for ROUND in range(1, args.rounds + 1):
        port, duration = server.port, rng.uniform(0.3, 2.0)
        try:
            status, answer = Client(port).call("POST", "/v1/catalog/syncs")
            sync_id = answer["sync_id"] if status == 201 else None
        except GONE:
            sync_id = None
        sub = lambda name: random.Random(f"{args.seed}-{ROUND}-{name}")  # noqa: E731
        writers = {f"w{k}": Writer(port, event_batches(f"w{k}", sub(k))) for k in range(4)}
        writers["products"] = Writer(port, product_batches(f"p{ROUND:02}", 20))
        if sync_id:
            syncs_created += 1
            writers["sync"] = Writer(port, product_batches(f"s{ROUND:02}", 25,
                                                           f"/v1/products?sync_id={sync_id}"))
        v, erased = f"e{ROUND}", {"events_acked": False, "deleted": None}
        eraser = threading.Thread(target=erase, args=(port, v, rng.uniform(0, duration),
                                                      sub("e"), erased))
        for t in [*writers.values(), eraser]:
            t.start()
        time.sleep(duration)
        server.kill()
        killed_log = server.log
        for t in [*writers.values(), eraser]:
            t.join()
        restarts.append(server.start())
        c = Client(server.port)
        for name, w in writers.items():  # the answers given before the kill
            for body, status, answer in w.acked:
                if status != 200 or answer.get("failed") or answer.get("duplicates"):
                    violation(f"{name}: batch answered {status} {answer}")
        acked = {name: sum(len(b) for b, _, _ in w.acked) for name, w in writers.items()}
        # (a) events
        lost = double = retried = dups = 0
        for k in range(4):
            w = writers[f"w{k}"]
            batch, answer = retry(c, f"w{k}", w, ("accepted", "duplicates"))
            retried, dups = retried + bool(batch), dups + answer.get("duplicates", 0)
            ids = sent[f"w{k}"]
            ids.update(e["event_id"] for b in [b for b, _, _ in w.acked] + [batch] for e in b)
            status, profile = c.call("GET", f"/v1/visitors/w{k}")
            got = profile["counters"]["events"] if status == 200 else 0
            lost, double = lost + max(0, len(ids) - got), double + max(0, got - len(ids))
            if got != len(ids):
                violation(f"w{k}: counters.events {got}, expected {len(ids)}")
        # (b) products
        pw = writers["products"]
        catalog.update(p["id"] for b in [b for b, _, _ in pw.acked] for p in b)
        catalog.update(p["id"] for p in retry(c, "products", pw, ("upserted",))[0])
        missing = [p for p in sorted(catalog) if c.call("GET", f"/v1/products/{p}")[0] != 200]
        if missing:
            violation(f"{len(missing)} acknowledged products missing, e.g. {missing[:5]}")
        before = c.call("GET", "/health")[1]["products"]
        if before != len(catalog):
            violation(f"/health counts {before} products, expected {len(catalog)}")
        # (c) the sync
        sync_note = "sync creation unanswered"
        if sync_id:
            sw = writers["sync"]
            staged = {p["id"] for b, _, _ in sw.acked for p in b}
            staged |= {p["id"] for p in retry(c, "sync push", sw, ("upserted",))[0]}
            status, answer = c.call("POST", f"/v1/catalog/syncs/{sync_id}/commit")
            sync_note = f"sync of {len(staged)} committed {status}"
            if status != 200:
                violation(f"sync commit answered {status} {answer}")
            else:
                totals["syncs"] += 1
                catalog = staged
                if (answer["products"], answer["removed"]) != (len(staged), before):
                    violation(f"sync commit {answer}: expected products {len(staged)}, "
                              f"removed {before}")
        # (d) the erasure
        deleted = erased["deleted"]
        if deleted and (deleted[0] != 200 or erased["events_acked"] and not deleted[1]["found"]):
            violation(f"{v}: DELETE before the kill answered {deleted}")
        status, answer = c.call("DELETE", f"/v1/visitors/{v}")
        get_status = c.call("GET", f"/v1/visitors/{v}")[0]
        on_disk = find_on_disk(os.path.join(data, "profiles"), v)
        if status != 200 or get_status != 404 or on_disk:
            violation(f"{v}: DELETE {status} {answer}, GET {get_status}, on disk: {on_disk}")
        else:
            totals["erasures"] += 1
        for key, n in dict(events=sum(acked[f"w{k}"] for k in range(4)), lost=lost, double=double,
                           products=acked["products"] + acked.get("sync", 0),
                           retried=retried, dups=dups).items():
            totals[key] += n
        print(f"round {ROUND:2}: {duration:.2f}s, events +{sum(acked[f'w{k}'] for k in range(4))}"
              f" acked, {retried} batches retried ({dups} duplicates), products +{acked['products']}"
              f" (+{acked.get('sync', 0)} staged), {sync_note}, {v} erased "
              f"{'before the kill' if deleted else 'after the restart'}, restart "
              f"{restarts[-1]:.2f}s, lost {lost}, double {double}, "
              f"5xx {sum(r[0] == ROUND for r in FIVE_XX)}", flush=True)
        if VIOLATIONS and VIOLATIONS[-1][0] == ROUND:
            with open(killed_log, errors="replace") as f:
                print(f"  --- killed server ({killed_log}):\n{f.read()[-3000:]}"
                      f"  --- restarted server ({server.log}):\n{server.tail()}", flush=True)
    server.proc.send_signal(signal.SIGTERM)
    if (code := server.proc.wait(60)) != 0:
        violation(f"graceful shutdown exited {code}")
    for r in FIVE_XX:
        violation(f"5xx answer: {r}")
    t = totals
    print(f"\nsummary (seed {args.seed})\n  rounds                {args.rounds}\n"
          f"  events acknowledged   {t['events']} (+{t['retried']} batches retried, {t['dups']} "
          f"of their events already recorded)\n  lost / double-counted {t['lost']} / {t['double']}"
          f"\n  products acknowledged {t['products']} (incl. staged in syncs)\n"
          f"  syncs committed       {t['syncs']} of {syncs_created} created\n"
          f"  erasures verified     {t['erasures']} of {args.rounds}\n  5xx answers           "
          f"{len(FIVE_XX)}\n  restart (to /health)  median {statistics.median(restarts):.2f} s, "
          f"range {min(restarts):.2f}-{max(restarts):.2f} s\n  violations            "
          f"{len(VIOLATIONS)}")
    sys.exit(1 if VIOLATIONS else 0)


if __name__ == "__main__":
    main()
