"""h2c: a peer cannot have more than MAX_CONCURRENT_STREAMS handlers running, even by resetting
its streams (rapid reset, CVE-2023-44487): requests wait for a free handler slot instead.
hopwire serve --max-streams 10 --delay 1s; 10 requests are sent and reset at once, 10 more follow.
The second batch is answered only after the first batch's handlers finish (about 2 s), never
after the bare 1 s delay. The raw Echo (non-RPC content type) answers a canceled request at once
(hop_request_on_cancel), so there the second batch waits only for its own delay."""
# ctest: TIMEOUT=60
import os
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events

sys.path.insert(0, os.path.join(os.environ.get("HOP_SOURCE_DIR", "."), "tests", "lib"))
from hoptest import check, serve  # noqa: E402

ECHO = "/hopwire.bench.v1.BenchService/Echo"


def batch(port, ctype):
    """10 requests sent and reset at once, 10 more: returns ({sid: seconds}, {sid: body})
    for the second batch."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    # Wait for the server's SETTINGS (MAX_CONCURRENT_STREAMS=10).
    settled = False
    while not settled:
        for e in c.receive_data(s.recv(65536)):
            if isinstance(e, h2.events.RemoteSettingsChanged):
                settled = True
        s.sendall(c.data_to_send())
    hdrs = [(":method", "POST"), (":path", ECHO), (":scheme", "http"), (":authority", "x"),
            ("content-type", ctype)]
    first = [1 + 2 * i for i in range(10)]
    for sid in first:
        c.send_headers(sid, hdrs)
        c.send_data(sid, b"first", end_stream=True)
    s.sendall(c.data_to_send())
    time.sleep(0.2)  # the handlers are running (1 s delay each)
    for sid in first:
        c.reset_stream(sid)
    t0 = time.time()
    second = [21 + 2 * i for i in range(10)]
    for sid in second:
        c.send_headers(sid, hdrs)
        c.send_data(sid, b"second", end_stream=True)
    s.sendall(c.data_to_send())
    done = {}
    bodies = {}
    s.settimeout(10)
    while len(done) < len(second) and time.time() - t0 < 10:
        data = s.recv(65536)
        if not data:
            break
        for e in c.receive_data(data):
            if isinstance(e, h2.events.DataReceived):
                bodies[e.stream_id] = bodies.get(e.stream_id, b"") + e.data
                c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            if isinstance(e, h2.events.StreamEnded) and e.stream_id in second:
                done[e.stream_id] = time.time() - t0
        s.sendall(c.data_to_send())
    s.close()
    check(len(done) == 10, "%s: the 10 requests after the resets are all answered (%d)" % (ctype, len(done)))
    check(all(bodies.get(sid) == b"second" for sid in second), "%s: with their own bodies" % ctype)
    return done


def main():
    srv = serve("--threads", "1", "--max-streams", "10", "--delay", "1s")
    try:
        # The RPC Echo does not listen for cancellation: reset streams hold their slots.
        done = batch(srv.port, "application/proto")
        first_done = min(done.values())
        check(first_done > 1.5,
              "they waited for the reset streams' handlers: first answer after %.2fs (> 1.5 s)" % first_done)
        check(max(done.values()) < 4.0, "and were not starved (last after %.2fs)" % max(done.values()))
        # The raw Echo (a non-RPC content type) stops its delay on hop_request_on_cancel: the
        # reset frees the slots at once, the second batch only waits for its own delay.
        done = batch(srv.port, "text/plain")
        first_done = min(done.values())
        check(0.9 < first_done < 1.5,
              "raw Echo: canceled handlers free their slots at once: first answer after %.2fs "
              "(1 s delay, < 1.5 s)" % first_done)
    finally:
        rc = srv.stop()
    check(rc == 0, "server exits 0 (rc=%s)" % rc)


if __name__ == "__main__":
    main()
