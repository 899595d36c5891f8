#!/usr/bin/env bash
# Real-world end to end (issue 8): a parent zone served by NSD delegates
# gslb.example.test. to two gslb instances, and Unbound, a real recursive
# resolver with the subnetcache module, serves clients (dig). Everything runs
# on loopback: each 127.0.0.x address stands in for a host, DNS on port 53.
#
#   127.0.0.9    fake root (NSD), for zonemaster-cli only
#   127.0.0.10   Unbound, the recursive resolver clients ask
#   127.0.0.11   NSD, the parent zone example.test.
#   127.0.0.21   gslb ns1 (DNS :53, HTTP :9153)
#   127.0.0.22   gslb ns2 (DNS :53, HTTP :9153), same config files as ns1
#   127.0.0.31-36  HTTP backends (.ci/realworld/backend.py, port 8080)
#
# Checks, through `dig @127.0.0.10` unless said otherwise:
#   1. delegation: the parent's referral (NS + glue), the NS set and the
#      addresses the resolver sees, a service name resolving to a healthy
#      backend, ns1 and ns2 answering alike (SOA serial, NS, answers);
#   2. failover: a backend's HTTP server killed; the time until clients of
#      the resolver stop getting its address, against TTL + fall x interval
#      + timeout;
#   3. EDNS Client Subnet: geo-appropriate answers per client subnet with
#      the SCOPE returned, and Unbound caching per scope (same scope: a
#      cache hit, no query reaches gslb; another scope: a new upstream
#      query), seen in gslb's /metrics and query log;
#   4. NXDOMAIN and NODATA cached for the SOA negative TTL, then asked again;
#   5. the TTL clients see is the service TTL, counting down;
#   6. the adaptive service: answers shift to the backend reporting less load;
#   7. zonemaster-cli against a fake root that delegates to the parent (no
#      ERROR or worse except ADDRESS01, the loopback addresses), if it is
#      installed; else a "skipped:" line.
#
# Usage: bash .ci/realworld.sh        (as root: it binds port 53)
# Needs: nsd, unbound, dig (bind9-dnsutils), python3, curl, Go (or GSLB_BIN);
#        zonemaster-cli optional.
# Environment (optional):
#   GSLB_BIN        a gslb binary to test instead of building one
#   RW_DEADLINE     (280) seconds before the whole run is aborted
#   RW_KEEP         (unset) keep the temporary directory (logs, configs)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
HERE="$ROOT/.ci/realworld"
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"

# ---- the network (loopback addresses standing in for hosts) ----
ROOT_ADDR=127.0.0.9
RESOLVER=127.0.0.10
PARENT=127.0.0.11
NS1=127.0.0.21
NS2=127.0.0.22
HTTP_PORT=9153
BACKEND_PORT=8080
ASIA1=127.0.0.31
US1=127.0.0.32
US2=127.0.0.33
EU1=127.0.0.34
CDN1=127.0.0.35
CDN2=127.0.0.36
ZONE=gslb.example.test
WWW=www.$ZONE
CDN=cdn.$ZONE
GEOIP_DB="$ROOT/testdata/geoip/GeoIP2-City-Test.mmdb"

# ---- timing (mirrored in the generated zone file) ----
INTERVAL_MS=500
TIMEOUT_MS=200
RISE=2
FALL=2
SERVICE_TTL=5
NEG_TTL=7

DEADLINE="${RW_DEADLINE:-280}"
T0=${EPOCHREALTIME/./}
PASSED=0
PIDS=()
NAMES=()
WORK=""
WATCHDOG=""

# ---- helpers ----

# now_us: microseconds since the epoch.
now_us() { echo "${EPOCHREALTIME/./}"; }
# secs US: microseconds as seconds with two decimals.
secs() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1e6 }'; }
elapsed() { secs $(($(now_us) - T0)); }

step() {
	echo
	echo "==== [$(elapsed)s] $*"
}
ok() {
	PASSED=$((PASSED + 1))
	echo "ok: $*"
}
info() { echo "   $*"; }

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
		local f
		for f in "$WORK"/logs/*.log "$WORK"/unbound/unbound.log "$WORK"/nsd-*/nsd.log; do
			[ -s "$f" ] || continue
			echo "---- tail of ${f#"$WORK"/}" >&2
			tail -n 15 "$f" >&2
		done
	fi
	exit 1
}

cleanup() {
	local rc=$? i pid
	trap - EXIT INT TERM
	if [ -n "$WATCHDOG" ]; then
		kill -TERM "$WATCHDOG" 2>/dev/null || true
		wait "$WATCHDOG" 2>/dev/null || true
	fi
	# Every server runs in its own session (setsid), so its process group
	# id is its pid: TERM the group (NSD's and Unbound's children too),
	# then KILL what is left.
	for i in "${!PIDS[@]}"; do
		kill -TERM -- "-${PIDS[$i]}" 2>/dev/null || true
	done
	for i in "${!PIDS[@]}"; do
		pid=${PIDS[$i]}
		for _ in $(seq 1 30); do
			kill -0 -- "-$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 -- "-$pid" 2>/dev/null; then
			echo "cleanup: ${NAMES[$i]} (pid $pid) ignored TERM; KILL" >&2
			kill -KILL -- "-$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ -n "${RW_KEEP:-}" ]; then
			echo "kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'echo "FAIL: terminated (deadline of ${DEADLINE}s reached?)" >&2; exit 124' TERM

# start NAME CMD...: run CMD in the background in its own session, output to
# logs/NAME.log, and remember its pid for cleanup.
start() {
	local name="$1"
	shift
	setsid "$@" >"$WORK/logs/$name.log" 2>&1 </dev/null &
	PIDS+=("$!")
	NAMES+=("$name")
}

# pid_of NAME: the pid of a process started with start.
pid_of() {
	local i
	for i in "${!NAMES[@]}"; do
		if [ "${NAMES[$i]}" = "$1" ]; then
			echo "${PIDS[$i]}"
			return 0
		fi
	done
	return 1
}

# alive NAME: fail if the process has exited.
alive() {
	local pid
	pid=$(pid_of "$1")
	kill -0 "$pid" 2>/dev/null || fail "$1 (pid $pid) exited; see logs/$1.log"
}

# wait_until SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds.
wait_until() {
	local limit="$1" what="$2" end
	shift 2
	end=$(($(now_us) + limit * 1000000))
	until "$@" >/dev/null 2>&1; do
		[ "$(now_us)" -lt "$end" ] || fail "timed out after ${limit}s waiting for $what"
		sleep 0.1
	done
}

# ask ARGS...: run dig with short timeouts; OUT gets its output and DIG_CMD
# the command. A dig error (timeout, no server) fails the run.
ask() {
	DIG_CMD="dig $*"
	OUT=$(dig +time=2 +tries=1 "$@" 2>&1) || fail "$DIG_CMD: dig exited with status $?: $OUT"
}

# addrs OUT: the sorted A/AAAA addresses in the answer section of dig's
# output (with comments), on one line, space separated ("" when none).
addrs() {
	awk '/^;; ANSWER SECTION:/ { a = 1; next } /^;; [A-Z]+ SECTION:/ || /^$/ { a = 0 }
		a && ($4 == "A" || $4 == "AAAA") { print $5 }' <<<"$1" | sort -uV | paste -sd' ' -
}

# status_of OUT: the rcode in dig's header.
status_of() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$1" | head -n1; }
# flags_of OUT: dig's flags line.
flags_of() { sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' <<<"$1" | head -n1; }
# ecs_of OUT: dig's CLIENT-SUBNET value, e.g. 175.16.199.0/24/24.
ecs_of() { sed -n 's/^; CLIENT-SUBNET: //p' <<<"$1" | head -n1; }
# ttl_of OUT TYPE: the TTL of the first answer record of TYPE.
ttl_of() { awk -v t="$2" '$1 !~ /^;/ && $4 == t { print $2; exit }' <<<"$1"; }
# auth_soa_ttl OUT: the TTL of the SOA in the authority section.
auth_soa_ttl() { awk '/AUTHORITY SECTION/ { a = 1; next } /^$/ { a = 0 } a && $4 == "SOA" { print $2; exit }' <<<"$1"; }

# upstream SERIES: sets COUNT to the sum, over both gslb instances, of the
# samples of a metric whose line starts with SERIES (a metric name, or a
# name and the start of its labels), read from their /metrics.
upstream() {
	local a body
	COUNT=0
	for a in "$NS1" "$NS2"; do
		body=$(curl -fsS --max-time 2 "http://$a:$HTTP_PORT/metrics") || fail "GET http://$a:$HTTP_PORT/metrics failed"
		COUNT=$((COUNT + $(awk -v s="$1" 'index($0, s) == 1 { sum += $NF } END { printf "%d\n", sum }' <<<"$body")))
	done
}
# qlog NAME TYPE: how many queries for NAME (any case, as 0x20 varies it)
# and TYPE both instances have logged ([log] query_sample = 1).
qlog() {
	cat "$WORK/logs/gslb-ns1.log" "$WORK/logs/gslb-ns2.log" |
		awk -v n="$1." -v t="$2" 'index($0, "msg=query") && tolower($0) ~ ("name=" n " ") && index($0, "qtype=" t " ") { c++ } END { print c + 0 }'
}

# flush: empty Unbound's caches of the test zone (answers, negatives and
# the subnet cache).
flush() {
	unbound-control -c "$WORK/unbound/unbound.conf" flush_zone "$ZONE" >/dev/null ||
		fail "unbound-control flush_zone failed"
	unbound-control -c "$WORK/unbound/unbound.conf" flush_bogus >/dev/null 2>&1 || true
}

# render TEMPLATE OUT: fill in the @VARS@ of a template.
render() {
	sed -e "s|@DIR@|${RENDER_DIR:-}|g" \
		-e "s|@ROOT_ADDR@|$ROOT_ADDR|g" -e "s|@RESOLVER_ADDR@|$RESOLVER|g" \
		-e "s|@PARENT_ADDR@|$PARENT|g" -e "s|@NS1_ADDR@|$NS1|g" -e "s|@NS2_ADDR@|$NS2|g" \
		-e "s|@GEOIP_DB@|$GEOIP_DB|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
		-e "s|@INTERVAL@|${INTERVAL_MS}ms|g" -e "s|@TIMEOUT@|${TIMEOUT_MS}ms|g" \
		-e "s|@RISE@|$RISE|g" -e "s|@FALL@|$FALL|g" \
		-e "s|@SERVICE_TTL@|$SERVICE_TTL|g" -e "s|@NEG_TTL@|$NEG_TTL|g" \
		-e "s|@ASIA1@|$ASIA1|g" -e "s|@US1@|$US1|g" -e "s|@US2@|$US2|g" -e "s|@EU1@|$EU1|g" \
		-e "s|@CDN1@|$CDN1|g" -e "s|@CDN2@|$CDN2|g" \
		-e "s|@ZONE@|${RENDER_ZONE:-}|g" -e "s|@ZONEFILE@|${RENDER_ZONEFILE:-}|g" \
		-e "s|@IDENTITY@|${RENDER_IDENTITY:-}|g" \
		-e "s|@ADDR@|${RENDER_ADDR:-}|g" "$1" >"$2"
	if grep -n '@[A-Z0-9_]*@' "$2" >&2; then
		fail "$2: placeholders left unfilled"
	fi
}

# ==== preflight ====
step "preflight"
[ "$(id -u)" -eq 0 ] || fail "not root (uid $(id -u)): the servers bind port 53 on 127.0.0.x; run as root"
for c in nsd nsd-checkconf nsd-checkzone unbound unbound-checkconf unbound-control dig curl setsid ss awk; do
	command -v "$c" >/dev/null 2>&1 || fail "$c not found: install nsd, unbound, bind9-dnsutils and curl (apt-get install nsd unbound bind9-dnsutils curl)"
done
command -v python3 >/dev/null 2>&1 || fail "python3 not found: the HTTP backends are python3 .ci/realworld/backend.py (apt-get install python3)"
[ -r "$GEOIP_DB" ] || fail "GeoIP test database $GEOIP_DB missing"
info "nsd $(nsd -v 2>&1 | head -n1 | awk '{ print $NF }'), unbound $(unbound -V 2>/dev/null | awk '/^Version/ { print $2 }'), $(dig -v 2>&1), $(python3 --version 2>&1)"
unbound -V 2>/dev/null | grep -q 'subnetcache' || fail "this unbound has no subnetcache module (built without --enable-subnet)"

# Nothing else may hold port 53 on the addresses used here, or on a wildcard.
ours="$ROOT_ADDR $RESOLVER $PARENT $NS1 $NS2"
held=$(ss -Hlnup 2>/dev/null; ss -Hlntp 2>/dev/null)
conflicts=$(awk -v ours="$ours" '
	BEGIN { n = split(ours, a, " "); for (i = 1; i <= n; i++) want[a[i] ":53"] = 1 }
	{ addr = $5; sub(/%[^:]*:/, ":", addr)
	  if (addr in want || addr == "0.0.0.0:53" || addr == "*:53" || addr == "[::]:53") print }' <<<"$held")
if [ -n "$conflicts" ]; then
	echo "$conflicts" >&2
	fail "port 53 is already taken on an address this run needs (above); stop that server (e.g. a packaged nsd or unbound started by apt) and run again"
fi
on53=$(awk '$5 ~ /:53$/ { print $5 }' <<<"$held" | sort -u | paste -sd' ' -)
info "port 53 in use elsewhere: ${on53:-none}; needed here: $ours"
for port in "$BACKEND_PORT" "$HTTP_PORT"; do
	for a in $ASIA1 $US1 $US2 $EU1 $CDN1 $CDN2 $NS1 $NS2; do
		if awk -v w="$a:$port" '$5 == w || $5 == "0.0.0.0:" port' port="$port" <<<"$held" | grep -q .; then
			fail "TCP $a:$port is already in use"
		fi
	done
done
ok "tools present, port 53 free on $ours"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gslb-realworld.XXXXXX")"
mkdir -p "$WORK/logs" "$WORK/gslb/zones" "$WORK/www" "$WORK/unbound" "$WORK/nsd-parent" "$WORK/nsd-root"
chmod 755 "$WORK"

# The watchdog bounds the whole run: it TERMs this script, whose trap cleans up.
(
	sleep "$DEADLINE"
	kill -TERM $$ 2>/dev/null || true
) &
WATCHDOG=$!

# ==== gslb binary ====
if [ -n "${GSLB_BIN:-}" ]; then
	BIN="$GSLB_BIN"
	step "gslb binary: $BIN"
else
	step "build gslb"
	command -v go >/dev/null 2>&1 || fail "go not found (expected in /usr/local/go/bin), and GSLB_BIN not set"
	BIN="$WORK/gslb-bin"
	go build -o "$BIN" ./cmd/gslb || fail "go build failed"
fi
info "$("$BIN" version)"

# ==== configuration ====
step "configuration (in $WORK)"
render "$HERE/gslb.toml.in" "$WORK/gslb/gslb.toml"
render "$HERE/gslb.example.test.toml.in" "$WORK/gslb/zones/gslb.example.test.toml"
"$BIN" check -config "$WORK/gslb/gslb.toml" || fail "gslb check rejected the generated configuration"
ok "gslb check: configuration valid"

render "$HERE/example.test.zone.in" "$WORK/nsd-parent/example.test.zone"
RENDER_DIR="$WORK/nsd-parent" RENDER_ADDR="$PARENT" RENDER_ZONE="example.test." \
	RENDER_ZONEFILE="example.test.zone" RENDER_IDENTITY="parent" \
	render "$HERE/nsd.conf.in" "$WORK/nsd-parent/nsd.conf"
render "$HERE/root.zone.in" "$WORK/nsd-root/root.zone"
RENDER_DIR="$WORK/nsd-root" RENDER_ADDR="$ROOT_ADDR" RENDER_ZONE="." \
	RENDER_ZONEFILE="root.zone" RENDER_IDENTITY="fake-root" \
	render "$HERE/nsd.conf.in" "$WORK/nsd-root/nsd.conf"
render "$HERE/root.hints.in" "$WORK/root.hints"
for d in parent root; do
	nsd-checkconf "$WORK/nsd-$d/nsd.conf" || fail "nsd-checkconf rejected nsd-$d/nsd.conf"
done
nsd-checkzone example.test. "$WORK/nsd-parent/example.test.zone" || fail "nsd-checkzone rejected example.test."
nsd-checkzone . "$WORK/nsd-root/root.zone" || fail "nsd-checkzone rejected the root zone"
ok "nsd-checkconf and nsd-checkzone: parent and fake root valid"

RENDER_DIR="$WORK/unbound" render "$HERE/unbound.conf.in" "$WORK/unbound/unbound.conf"
unbound-checkconf "$WORK/unbound/unbound.conf" || fail "unbound-checkconf rejected unbound.conf"
ok "unbound-checkconf: $(unbound-checkconf -o module-config "$WORK/unbound/unbound.conf"), send-client-subnet $NS1 $NS2, use-caps-for-id $(unbound-checkconf -o use-caps-for-id "$WORK/unbound/unbound.conf")"

# ==== servers ====
step "start HTTP backends, NSD (parent and fake root), gslb ns1 and ns2, Unbound"
start backend-asia-1 python3 "$HERE/backend.py" "$ASIA1" "$BACKEND_PORT" asia-1
start backend-us-1 python3 "$HERE/backend.py" "$US1" "$BACKEND_PORT" us-1
start backend-us-2 python3 "$HERE/backend.py" "$US2" "$BACKEND_PORT" us-2
start backend-eu-1 python3 "$HERE/backend.py" "$EU1" "$BACKEND_PORT" eu-1
start backend-cdn-1 python3 "$HERE/backend.py" "$CDN1" "$BACKEND_PORT" cdn-1 0.1
start backend-cdn-2 python3 "$HERE/backend.py" "$CDN2" "$BACKEND_PORT" cdn-2 0.8
for a in $ASIA1 $US1 $US2 $EU1 $CDN1 $CDN2; do
	wait_until 10 "backend http://$a:$BACKEND_PORT/healthz" curl -fsS --max-time 1 "http://$a:$BACKEND_PORT/healthz"
done
ok "6 HTTP backends answer /healthz on $ASIA1 .. $CDN2 port $BACKEND_PORT (cdn-1 reports X-Load 0.1, cdn-2 0.8)"

start nsd-parent nsd -d -c "$WORK/nsd-parent/nsd.conf"
start nsd-root nsd -d -c "$WORK/nsd-root/nsd.conf"
wait_until 10 "NSD (parent) on $PARENT" dig +time=1 +tries=1 +norec @"$PARENT" example.test SOA
wait_until 10 "NSD (fake root) on $ROOT_ADDR" dig +time=1 +tries=1 +norec @"$ROOT_ADDR" . SOA
ok "NSD serves example.test. on $PARENT and the fake root on $ROOT_ADDR"

start gslb-ns1 "$BIN" serve -config "$WORK/gslb/gslb.toml" -dns-addr "$NS1:53" -http-addr "$NS1:$HTTP_PORT"
start gslb-ns2 "$BIN" serve -config "$WORK/gslb/gslb.toml" -dns-addr "$NS2:53" -http-addr "$NS2:$HTTP_PORT"
for a in $NS1 $NS2; do
	wait_until 15 "gslb on $a to be ready (/readyz)" curl -fsS --max-time 1 "http://$a:$HTTP_PORT/readyz"
done
alive gslb-ns1
alive gslb-ns2
ok "gslb ns1 ($NS1) and ns2 ($NS2) ready, from the same files ($WORK/gslb)"

start unbound unbound -d -c "$WORK/unbound/unbound.conf"
wait_until 10 "Unbound on $RESOLVER" unbound-control -c "$WORK/unbound/unbound.conf" status
ok "Unbound answers on $RESOLVER ($(unbound-control -c "$WORK/unbound/unbound.conf" status | awk '/^version/ { print "version " $2 }'))"
