#!/usr/bin/env bash
# bench.sh: load gslb on its bundled example with dnsperf, beside the peers.
#
#   ./bench.sh            gslb only: three query mixes, figures per mix
#   PEERS=1 ./bench.sh    also NSD, Knot, gdnsd and PowerDNS (LUA), in the same run
#   BEFORE=/path/to/old/gslb PAIRS=6 ./bench.sh
#                         interleaved before/after pairs of the geo+ECS mix:
#                         the old binary, then this tree's, PAIRS times,
#                         one 15 s run each, and gdnsd's geoip run once
#                         before and once after; prints kqps/cpu per pair
#                         and the median ratio (a change must not slow
#                         the query path)
#
# It uses ../shared/tools/peerbench (run "peerbench.sh install" once, as
# root): the server is pinned to CPU 1 and dnsperf to CPU 0; the figure to
# compare is kqps/cpu, thousands of queries per second per server
# CPU-second, because on 2 cores dnsperf is often the limit. Each mix is
# 80 % A, 10 % AAAA and 10 % NXDOMAIN:
#   gslb-geo-ecs  www (policy geo, HTTP health checks), every query with
#                 ECS 175.16.199.0/24 (China: the database decides); the
#                 readers' answer caches answer the repeated queries
#   gslb-geo-ecs-nocache  the same with [server] answer_cache = false (a
#                 second instance on PORT+1): every answer computed
#   gslb-weighted api (failover, weighted members, TCP health checks)
#   gslb-static   ns1 (a static A/AAAA record)
# Settings as in peerbench.sh (DURATION, RUNS, RATE, ...). Not part of CI.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
PB="${PEERBENCH:-$ROOT/../shared/tools/peerbench/peerbench.sh}"
[ -x "$PB" ] || [ -f "$PB" ] || { echo "bench.sh: $PB not found" >&2; exit 1; }
PORT="${PORT:-15390}"
SERVER_CPU="${SERVER_CPU-1}"
export RESULTS="${RESULTS:-$(mktemp -d -t gslb-bench.XXXXXX)}"
BIN="$RESULTS/gslb"
(cd "$ROOT" && go build -o "$BIN" ./cmd/gslb)
Z=gslb.example.com
if [ -n "${BEFORE:-}" ]; then
	export RUNS=1 RATE=0
	pairs="${PAIRS:-6}"
	pin=()
	[ -n "$SERVER_CPU" ] && pin=(taskset -c "$SERVER_CPU")
	one() { # one LABEL BINARY: start it on the example, load it, stop it
		"${pin[@]}" "$2" serve -dns-addr "127.0.0.1:$PORT" -dns-addr 127.0.0.1:8053 -http-addr 127.0.0.1:9153 >"$RESULTS/$1.log" 2>&1 &
		local pid=$!
		for _ in $(seq 1 50); do
			dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$Z" SOA >/dev/null 2>&1 && break
			sleep 0.2
		done
		sleep 3 # first health check rounds
		bash "$PB" bench "$1" "127.0.0.1:$PORT" -z "$Z" -a "www.$Z" -6 "www.$Z" -e 8:00011800af10c7 -p "$pid" | tee -a "$RESULTS/pairs.txt"
		kill "$pid"
		wait "$pid" 2>/dev/null || true
	}
	bash "$PB" run gdnsd | tee -a "$RESULTS/pairs.txt"
	for i in $(seq 1 "$pairs"); do
		one "before-$i" "$BEFORE"
		one "after-$i" "$BIN"
	done
	bash "$PB" run gdnsd | tee -a "$RESULTS/pairs.txt"
	# kqps/cpu is the 7th column of a bench line.
	awk '$1 ~ /^before-/ {b[substr($1, 8)] = $7} $1 ~ /^after-/ {a[substr($1, 7)] = $7}
		END {for (i in a) if (i in b) printf "pair %s: before %s after %s (%.1f %%)\n", i, b[i], a[i], 100 * a[i] / b[i]}' "$RESULTS/pairs.txt" | sort -n -k2 | tee "$RESULTS/ratios.txt"
	sed 's/.*(\(.*\) %)/\1/' "$RESULTS/ratios.txt" | sort -n |
		awk '{r[NR] = $1} END {m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2; printf "median after/before: %.1f %% over %d pairs\n", m, NR}'
	echo "bench.sh: raw results in $RESULTS"
	exit 0
fi
PID=""
PID2=""
cleanup() {
	for p in $PID $PID2; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	true
}
trap cleanup EXIT
# The example's checks probe 127.0.0.1:9153 (HTTP) and :8053 (DNS): serve
# those too, so the health-checked backends are up as they would be.
pin=()
[ -n "$SERVER_CPU" ] && pin=(taskset -c "$SERVER_CPU")
"${pin[@]}" "$BIN" serve -dns-addr "127.0.0.1:$PORT" -dns-addr 127.0.0.1:8053 -http-addr 127.0.0.1:9153 >"$RESULTS/gslb.log" 2>&1 &
PID=$!
for _ in $(seq 1 50); do
	dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" gslb.example.com SOA >/dev/null 2>&1 && break
	sleep 0.2
done
# The same example with the answer cache off, on the next port.
cp -r "$ROOT/cmd/gslb/example" "$RESULTS/nocache"
sed -i 's/^\[server\]$/[server]\nanswer_cache = false/' "$RESULTS/nocache/gslb.toml"
grep -q '^answer_cache = false' "$RESULTS/nocache/gslb.toml" || { echo "bench.sh: could not turn the cache off" >&2; exit 1; }
"${pin[@]}" "$BIN" serve -config "$RESULTS/nocache/gslb.toml" -dns-addr "127.0.0.1:$((PORT + 1))" -http-addr off >"$RESULTS/gslb-nocache.log" 2>&1 &
PID2=$!
sleep 3 # first health check rounds
if [ "${PEERS:-0}" = 1 ]; then
	bash "$PB" run
fi
bash "$PB" bench gslb-geo-ecs "127.0.0.1:$PORT" -z "$Z" -a "www.$Z" -6 "www.$Z" -e 8:00011800af10c7 -p "$PID"
bash "$PB" bench gslb-geo-ecs-nocache "127.0.0.1:$((PORT + 1))" -z "$Z" -a "www.$Z" -6 "www.$Z" -e 8:00011800af10c7 -p "$PID2"
bash "$PB" bench gslb-weighted "127.0.0.1:$PORT" -z "$Z" -a "api.$Z" -6 "www.$Z" -p "$PID"
bash "$PB" bench gslb-static "127.0.0.1:$PORT" -z "$Z" -a "ns1.$Z" -6 "ns1.$Z" -p "$PID"
echo "bench.sh: raw results and the gslb log in $RESULTS"
