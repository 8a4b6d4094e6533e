#!/usr/bin/env python3
"""Slowloris against the server: does it close slow clients and keep answering real ones?

    python3 benches/slowloris.py target/release/attune [--connections 1000] [--seconds 30]
        [--header-timeout 10] [--max-connections 0] [--reopen 5]

Starts the server on a free port with a temporary data dir and a config file holding the
given [server] header_timeout_seconds and max_connections (0: derived from the open-file
limit), then attacks for --seconds: opens --connections connections that each send an
incomplete request head ("GET /health HTTP/1.1\\r\\nHost: x\\r\\n") and then one more header
byte every 5 s; like the classic tool, every 5 s (--reopen) it also opens new connections in
place of the ones the server closed. Meanwhile GET /health is polled every 200 ms on a fresh connection
with a 2 s timeout. The script first raises its own RLIMIT_NOFILE to the hard limit.

Reports: slow connections opened, accepted (still open 0.5 s after opening), turned away
(closed by the server within 0.5 s: the connection cap), closed later by the server and when
(seconds after opening: median, max), still open at the end; /health success rate and latency
(median, p99, max) during the attack and when it failed; the server log's "Too many open
files" and cap warnings.
Stdlib only (Python 3.11).
"""
import argparse, http.client, os, resource, selectors, signal, socket, statistics, subprocess
import sys, tempfile, threading, time

HEAD = b"GET /health HTTP/1.1\r\nHost: x\r\n"
TRICKLE = b"X-a: b\r\n"   # sent a byte at a time: the head never ends
TICK, TURNED_AWAY = 5.0, 0.5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port, timeout=2.0):
    """(ok, seconds, error) of one GET /health on a fresh connection."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200, time.monotonic() - t0, None if resp.status == 200 else resp.status
    except (OSError, http.client.HTTPException) as e:
        return False, time.monotonic() - t0, type(e).__name__
    finally:
        conn.close()


def poll_health(port, start, stop, out):
    """Appends (seconds into the attack, ok, latency, error) every 200 ms until `stop`."""
    while not stop.is_set():
        t0 = time.monotonic()
        out.append((t0 - start, *health(port)))
        stop.wait(max(0.0, 0.2 - (time.monotonic() - t0)))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


class Slow:
    """One slow connection: when it was opened, its trickle, when the server closed it."""
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.opened, self.sent, self.closed, self.answer = time.monotonic(), 0, None, b""
        self.next_byte = self.opened + TICK
        try:
            self.sock.sendall(HEAD)
        except OSError:
            self.close(time.monotonic())
        self.sock.setblocking(False)

    def trickle(self, now):
        """Sends the next header byte when due; False when the server has closed."""
        if now < self.next_byte:
            return True
        self.next_byte += TICK
        self.sent += 1
        try:
            return self.sock.send(TRICKLE[(self.sent - 1) % len(TRICKLE):][:1]) == 1
        except OSError:
            return False

    def close(self, now, answer=b""):
        self.closed, self.answer = now, answer
        self.sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--header-timeout", type=int, default=10)
    ap.add_argument("--max-connections", type=int, default=0)
    ap.add_argument("--reopen", type=float, default=TICK,
                    help="seconds between top-ups of the closed slow connections (default 5)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    root = tempfile.mkdtemp(prefix="attune-slowloris-")
    config, log_path, port = os.path.join(root, "attune.toml"), os.path.join(root, "server.log"), free_port()
    with open(config, "w") as f:
        f.write(f"[server]\nheader_timeout_seconds = {args.header_timeout}\n"
                f"max_connections = {args.max_connections}\n")
    with open(log_path, "wb") as log:
        server = subprocess.Popen([os.path.abspath(args.binary), "serve", "--listen",
                                   f"127.0.0.1:{port}", "--data-dir", os.path.join(root, "data"),
                                   "--config", config], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    deadline = time.monotonic() + 60
    while not health(port, 1)[0]:
        if server.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"server did not start; see {log_path}")
        time.sleep(0.05)

    polls, stop, start = [], threading.Event(), time.monotonic()
    poller = threading.Thread(target=poll_health, args=(port, start, stop, polls))
    poller.start()
    sel, conns, open_errors, held = selectors.DefaultSelector(), [], {}, []
    next_tick = start

    def top_up():
        alive = sum(c.closed is None for c in conns)
        for _ in range(args.connections - alive):
            try:
                c = Slow(port)
            except OSError as e:
                open_errors[type(e).__name__] = open_errors.get(type(e).__name__, 0) + 1
                continue
            conns.append(c)
            if c.closed is None:
                sel.register(c.sock, selectors.EVENT_READ, c)

    while (now := time.monotonic()) < start + args.seconds:
        if now >= next_tick:   # like the classic tool: replace the closed connections
            top_up()
            next_tick += args.reopen
        held.append(sum(c.closed is None for c in conns))
        for c in conns:
            if c.closed is None and not c.trickle(now):
                sel.unregister(c.sock)
                c.close(now)
        for key, _ in sel.select(timeout=0.05):
            c, now = key.data, time.monotonic()
            try:
                data = c.sock.recv(4096)
            except OSError:
                data = b""
            sel.unregister(c.sock)
            c.close(now, data)   # the server answered (and will close) or closed: done either way
    stop.set()
    poller.join()
    end = time.monotonic()
    for c in conns:
        if c.closed is None:
            c.sock.close()
    server.send_signal(signal.SIGTERM)
    code = server.wait(60)
    with open(log_path, errors="replace") as f:
        log = f.read()

    closed = [c for c in conns if c.closed is not None]
    away = [c for c in closed if c.closed - c.opened < TURNED_AWAY]
    later = [c.closed - c.opened for c in closed if c.closed - c.opened >= TURNED_AWAY]
    answers = {}
    for c in closed:
        line = c.answer.split(b"\r\n")[0].decode(errors="replace") or "(closed, no answer)"
        answers[line] = answers.get(line, 0) + 1
    ok = [p for p in polls if p[1]]
    lat = [p[2] * 1000 for p in ok]
    errors, failing = {}, []   # failing: [first, last] seconds of each run of failed polls
    for i, (t, good, _, error) in enumerate(polls):
        if not good:
            errors[error] = errors.get(error, 0) + 1
            if i and not polls[i - 1][1]:
                failing[-1][1] = t
            else:
                failing.append([t, t])
    cap = [l for l in log.splitlines() if "max_connections" in l and "serving" in l]
    rows = [
        ("open-file limit (script, soft/hard)", f"{soft}/{hard} -> {fd_limit}"),
        ("server settings", f"header_timeout {args.header_timeout} s, max_connections "
         f"{args.max_connections} ({cap[0].split('max_connections=')[1].split()[0] if cap else '?'} in force)"),
        ("attack", f"{args.connections} slow connections for {end - start:.1f} s, closed ones "
         f"replaced every {args.reopen:g} s"),
        ("slow connections open at once", f"mean {statistics.mean(held):.0f}, max {max(held)}"),
        ("slow connections opened", f"{len(conns)} (open failed: {open_errors or 0})"),
        ("  accepted (open >= 0.5 s)", f"{len(conns) - len(away)}"),
        ("  turned away (closed < 0.5 s)", f"{len(away)}"),
        ("  closed later by the server", f"{len(later)}: median {statistics.median(later):.2f} s, "
         f"max {max(later):.2f} s after opening" if later else "0"),
        ("  still open at the end", f"{len(conns) - len(closed)}"),
        ("  what closed ones received", ", ".join(f"{k}: {v}" for k, v in answers.items()) or "-"),
        ("/health polls", f"{len(polls)}, ok {len(ok)} ({100 * len(ok) / max(1, len(polls)):.1f} %)"
         + (f", failures {errors}" if errors else "")),
        ("/health failing (s into the attack)", " ".join(f"{a:.1f}-{b:.1f}" for a, b in failing)
         or "never"),
        ("/health latency ms", f"median {statistics.median(lat):.1f}, p99 {pct(lat, 99):.1f}, "
         f"max {max(lat):.1f}" if lat else "-"),
        ('server log "Too many open files"', f"{log.count('Too many open files')} lines"),
        ('server log "connection cap reached"', f"{log.count('connection cap reached')} lines"),
        ("server exit after SIGTERM", f"{code}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"slowloris ({log_path})")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
