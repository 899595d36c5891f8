#!/usr/bin/env bash
# bench.sh: load gslb on its bundled example with dnsperf, beside the peers.
#
#   ./bench.sh            gslb only: three query mixes, figures per mix
#   PEERS=1 ./bench.sh    also NSD, Knot, gdnsd and PowerDNS (LUA), in the same run
#   SIGNED=1 ./bench.sh   the example unsigned and signed ([dnssec], a new
#                         key), every query with DO: kqps/cpu of each mix,
#                         RUNS interleaved pairs, and the median ratio;
#                         with PEERS=1 also PowerDNS (a LUA record signed
#                         live: pdnsutil secure-zone) and Knot
#                         (mod-onlinesign), every query with DO
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
if [ "${SIGNED:-0}" = 1 ]; then
	# peerbench's bench sends no DO bit: dnsperf is run here, as peerbench
	# runs it (pinned, the server's CPU time read from /proc).
	GENQ="$(dirname "$PB")/genqueries.sh"
	pin=() load=()
	[ -n "$SERVER_CPU" ] && pin=(taskset -c "$SERVER_CPU")
	[ -n "${LOAD_CPU-0}" ] && load=(taskset -c "${LOAD_CPU-0}")
	cp -r "$ROOT/cmd/gslb/example" "$RESULTS/signed"
	"$BIN" dnssec keygen -dir "$RESULTS/signed/zones" "$Z" >"$RESULTS/keygen.txt"
	key=$(sed -n 's/^key = "\(.*\)"$/\1/p' "$RESULTS/keygen.txt")
	printf '\n[dnssec]\nkey = "%s"\n' "$key" >>"$RESULTS/signed/zones/$Z.toml"
	"$BIN" check -config "$RESULTS/signed/gslb.toml" >/dev/null
	"${pin[@]}" "$BIN" serve -dns-addr "127.0.0.1:$PORT" -dns-addr 127.0.0.1:8053 -http-addr 127.0.0.1:9153 >"$RESULTS/gslb.log" 2>&1 &
	PID=$!
	"${pin[@]}" "$BIN" serve -config "$RESULTS/signed/gslb.toml" -dns-addr "127.0.0.1:$((PORT + 1))" -http-addr off >"$RESULTS/gslb-signed.log" 2>&1 &
	PID2=$!
	trap 'kill $PID $PID2 2>/dev/null; wait 2>/dev/null; true' EXIT
	for p in "$PORT" "$((PORT + 1))"; do
		for _ in $(seq 1 50); do
			dig +time=1 +tries=1 @127.0.0.1 -p "$p" "$Z" SOA >/dev/null 2>&1 && break
			sleep 0.2
		done
	done
	sleep 3 # first health check rounds
	dig +dnssec +norec @127.0.0.1 -p "$((PORT + 1))" "www.$Z" A | grep -q RRSIG || { echo "bench.sh: the signed example answers no RRSIG" >&2; exit 1; }
	ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
	# run LABEL PORT PID QFILE [dnsperf options]: one run; prints "LABEL qps kqps/cpu".
	run() {
		local label=$1 port=$2 pid=$3 q=$4 t0 t1 out
		shift 4
		out="$RESULTS/$label.$(date +%s%N).txt"
		t0=$(ticks "$pid")
		"${load[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$q" -l "${DURATION:-15}" -c "${CLIENTS:-8}" -q "${OUTSTANDING:-100}" -D "$@" >"$out" 2>&1
		t1=$(ticks "$pid")
		awk -v l="$label" -v cpu="$(((t1 - t0)))" -v hz="$(getconf CLK_TCK)" '
			/Queries completed:/ { n = $3 } /Queries per second:/ { qps = $4 } /Queries lost:/ { lost = $3 }
			END { printf "%-28s %9.0f qps %7.0f kqps/cpu  lost %s\n", l, qps, n / (cpu / hz) / 1000, lost }' "$out"
	}
	for mix in "geo-ecs www.$Z www.$Z -E 8:00011800af10c7" "weighted api.$Z www.$Z" "static ns1.$Z ns1.$Z"; do
		read -r name a six ecs <<<"$mix"
		"$GENQ" -n 10000 -z "$Z" -a "$a" -6 "$six" -o "$RESULTS/$name.queries"
		# Warm-up: the answer caches, the signature cache.
		"${load[@]}" dnsperf -s 127.0.0.1 -p "$((PORT + 1))" -d "$RESULTS/$name.queries" -l 3 -Q 5000 -D $ecs >/dev/null 2>&1
		for i in $(seq 1 "${RUNS:-3}"); do
			# shellcheck disable=SC2086 # the ECS option, or nothing
			run "$name-unsigned" "$PORT" "$PID" "$RESULTS/$name.queries" $ecs
			# shellcheck disable=SC2086
			run "$name-signed" "$((PORT + 1))" "$PID2" "$RESULTS/$name.queries" $ecs
		done | tee -a "$RESULTS/signed.txt"
	done
	if [ "${PEERS:-0}" = 1 ]; then
		# The peers, signing online, from peerbench's templates.
		PBC="$(dirname "$PB")/conf"
		kill "$PID" "$PID2" 2>/dev/null
		wait 2>/dev/null || true
		fill() { sed -e "s|@DIR@|$2|g" -e "s|@PORT@|$3|g" -e "s|@ADDR@|127.0.0.1|g" -e "s|@BPORT@|15380|g" \
			-e "s|@B1@|192.0.2.1|g" -e "s|@B2@|192.0.2.2|g" -e "s|@B3@|192.0.2.3|g" -e "s|@B4@|192.0.2.4|g" "$1"; }
		pd="$RESULTS/pdns" kd="$RESULTS/knot"
		mkdir -p "$pd" "$kd/db"
		fill "$PBC/pdns/pdns.conf.tmpl" "$pd" 15396 >"$pd/pdns.conf"
		echo "bind-dnssec-db=$pd/dnssec.db" >>"$pd/pdns.conf"
		fill "$PBC/pdns/named.conf.tmpl" "$pd" 15396 >"$pd/named.conf"
		fill "$PBC/pdns/gslb.example.tmpl" "$pd" 15396 >"$pd/gslb.example.zone"
		pdnsutil --config-dir="$pd" create-bind-db "$pd/dnssec.db" >"$pd/pdnsutil.log" 2>&1
		pdnsutil --config-dir="$pd" secure-zone gslb.example >>"$pd/pdnsutil.log" 2>&1
		"${pin[@]}" pdns_server --config-dir="$pd" >"$pd/server.log" 2>&1 &
		PPID_PDNS=$!
		cp "$PBC/gslb.example.zone" "$kd/"
		fill "$PBC/knot/knot.conf.tmpl" "$kd" 15397 | sed 's|^    file: "gslb.example.zone"$|    file: "gslb.example.zone"\n    module: mod-onlinesign|' >"$kd/knot.conf"
		knotc -c "$kd/knot.conf" conf-check >/dev/null
		"${pin[@]}" knotd -c "$kd/knot.conf" >"$kd/server.log" 2>&1 &
		PPID_KNOT=$!
		trap 'kill $PPID_PDNS $PPID_KNOT 2>/dev/null; wait 2>/dev/null; true' EXIT
		sleep 3
		dig +dnssec +norec @127.0.0.1 -p 15396 wsvc.gslb.example A | grep -q RRSIG || { echo "bench.sh: PowerDNS answers wsvc without RRSIG" >&2; exit 1; }
		dig +dnssec +norec @127.0.0.1 -p 15397 www.gslb.example A | grep -q RRSIG || { echo "bench.sh: Knot answers www without RRSIG" >&2; exit 1; }
		"$GENQ" -n 10000 -z gslb.example -a wsvc.gslb.example -6 www.gslb.example -o "$RESULTS/pdns.queries"
		"$GENQ" -n 10000 -z gslb.example -a www.gslb.example -6 www.gslb.example -o "$RESULTS/knot.queries"
		"${load[@]}" dnsperf -s 127.0.0.1 -p 15396 -d "$RESULTS/pdns.queries" -l 3 -Q 5000 -D >/dev/null 2>&1
		"${load[@]}" dnsperf -s 127.0.0.1 -p 15397 -d "$RESULTS/knot.queries" -l 3 -Q 5000 -D >/dev/null 2>&1
		for i in $(seq 1 "${RUNS:-3}"); do
			run pdns-lua-signed 15396 "$PPID_PDNS" "$RESULTS/pdns.queries"
			run knot-onlinesign-signed 15397 "$PPID_KNOT" "$RESULTS/knot.queries"
		done | tee -a "$RESULTS/signed.txt"
	fi
	median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	for name in pdns-lua knot-onlinesign; do
		s=$(awk -v l="$name-signed" '$1 == l { print $4 }' "$RESULTS/signed.txt" | median)
		[ -z "$s" ] || echo "$name median kqps/cpu (DO): $s" | tee -a "$RESULTS/signed.txt"
	done
	for name in geo-ecs weighted static; do
		u=$(awk -v l="$name-unsigned" '$1 == l { print $4 }' "$RESULTS/signed.txt" | median)
		s=$(awk -v l="$name-signed" '$1 == l { print $4 }' "$RESULTS/signed.txt" | median)
		awk -v n="$name" -v u="$u" -v s="$s" 'BEGIN { printf "%-10s median kqps/cpu: unsigned %s, signed %s: signed/unsigned %.2f\n", n, u, s, s / u }' | tee -a "$RESULTS/signed.txt"
	done
	echo "bench.sh: raw results in $RESULTS"
	exit 0
fi
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
