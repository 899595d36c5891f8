#!/usr/bin/python3
"""A DNS proxy that tampers with answers, for .ci/dnssec.sh.

Usage: dnsflip.py LISTEN_ADDR UPSTREAM_ADDR COUNT_FILE

It answers UDP on LISTEN_ADDR:53 with the replies of UPSTREAM_ADDR:53,
one bit of each A record's address in the answer section flipped
(192.0.2.99 becomes 192.0.2.98): the message stays well formed and its
RRSIGs untouched, so only a validator can tell. COUNT_FILE gets the
number of replies changed so far. Every other reply passes unchanged.
"""

import socket
import sys
import threading


def skip_name(m, i):
    """Returns the offset just past the name at i."""
    while True:
        n = m[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += 1 + n


def flip(m):
    """Returns m with the last byte of each answer A record flipped, and
    how many were; m unchanged when it cannot be read."""
    try:
        b = bytearray(m)
        qd = int.from_bytes(b[4:6], "big")
        an = int.from_bytes(b[6:8], "big")
        i = 12
        for _ in range(qd):
            i = skip_name(b, i) + 4
        n = 0
        for _ in range(an):
            i = skip_name(b, i)
            rtype = int.from_bytes(b[i : i + 2], "big")
            rdlen = int.from_bytes(b[i + 8 : i + 10], "big")
            i += 10
            if rtype == 1 and rdlen == 4:
                b[i + 3] ^= 0x01
                n += 1
            i += rdlen
        if i > len(b):
            return m, 0
        return bytes(b), n
    except IndexError:
        return m, 0


def main():
    listen, upstream, count_file = sys.argv[1], sys.argv[2], sys.argv[3]
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((listen, 53))
    lock = threading.Lock()
    changed = [0]

    def relay(q, client):
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.settimeout(2)
        try:
            up.sendto(q, (upstream, 53))
            r, _ = up.recvfrom(65535)
        except OSError:
            return
        finally:
            up.close()
        r, n = flip(r)
        if n:
            with lock:
                changed[0] += 1
                with open(count_file, "w") as f:
                    f.write("%d\n" % changed[0])
        srv.sendto(r, client)

    with open(count_file, "w") as f:
        f.write("0\n")
    while True:
        q, client = srv.recvfrom(65535)
        threading.Thread(target=relay, args=(q, client), daemon=True).start()


if __name__ == "__main__":
    main()
