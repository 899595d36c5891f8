#!/usr/bin/env bash
# DNS-OARC flamethrower (../shared/tools/flame) in its random-packet mode
# for 30 s against a running gslb (bundled example), beside nothing else;
# then a normal query must be answered, and the process must not have
# grown: goroutines and resident memory are read from /metrics before and
# after. Prints its figures.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SHARED="${SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
FLAME="$SHARED/tools/flame"
PORT="${FLAME_DNS_PORT:-18153}"
HTTP="${FLAME_HTTP_PORT:-18154}"
SECONDS_RUN="${FLAME_SECONDS:-30}"
[ -x "$FLAME" ] || { echo "flame: $FLAME not found" >&2; exit 1; }

WORK="$(mktemp -d -t gslb-flame.XXXXXX)"
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

go build -o "$WORK/gslb" ./cmd/gslb
"$WORK/gslb" serve -dns-addr "127.0.0.1:$PORT" -http-addr "127.0.0.1:$HTTP" >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 1 50); do
	dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" gslb.example.com SOA >/dev/null 2>&1 && break
	sleep 0.2
done

metric() { # metric NAME: its value from /metrics
	exec 3<>"/dev/tcp/127.0.0.1/$HTTP"
	printf 'GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n' >&3
	awk -v n="$1" '$1 == n { printf "%.0f\n", $2 }' <&3
	exec 3>&-
}
# Warm up with a few normal queries, then read the baseline.
for _ in $(seq 1 20); do dig +short @127.0.0.1 -p "$PORT" www.gslb.example.com >/dev/null; done
g0="$(metric go_goroutines)"
m0="$(metric process_resident_memory_bytes)"

echo "flame: ${SECONDS_RUN}s of random packets (randompkt, 2000 packets per round of up to 600 bytes, 2 clients, 1000 q/s)"
"$FLAME" -p "$PORT" -l "$SECONDS_RUN" -Q 1000 -c 2 -g randompkt 127.0.0.1 count=2000 size=600 >"$WORK/flame.out" 2>&1 || true
tail -n 15 "$WORK/flame.out"

kill -0 "$PID" 2>/dev/null || { echo "flame: FAIL: gslb died"; cat "$WORK/log"; exit 1; }
out="$(dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" www.gslb.example.com A)"
grep -q 'status: NOERROR' <<<"$out" && grep -q 'IN[[:space:]]A' <<<"$out" || { echo "flame: FAIL: no normal answer after the junk"; echo "$out"; exit 1; }
sleep 2
g1="$(metric go_goroutines)"
m1="$(metric process_resident_memory_bytes)"
dropped="$(metric gslb_dns_dropped_total)"
formerr="$(awk '/^gslb_dns_queries_total.*rcode="FORMERR"/ { s += $2 } END { print s + 0 }' < <(exec 3<>"/dev/tcp/127.0.0.1/$HTTP"; printf 'GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n' >&3; cat <&3))"
panics="$(metric gslb_dns_panics_total)"
echo "flame: goroutines $g0 → $g1; resident memory $((m0 / 1048576)) MiB → $((m1 / 1048576)) MiB; dropped $dropped, FORMERR $formerr, panics $panics"
[ "$panics" = 0 ] || { echo "flame: FAIL: $panics panics"; exit 1; }
[ "$g1" -le $((g0 + 5)) ] || { echo "flame: FAIL: goroutines grew from $g0 to $g1"; exit 1; }
[ "$m1" -le $(( m0 * 2 + 64 * 1048576 )) ] || { echo "flame: FAIL: memory grew from $m0 to $m1"; exit 1; }
echo "flame: ok: a normal query is answered after the junk; no crash, no goroutine or memory growth"
