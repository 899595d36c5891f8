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
#      + timeout; then restarted, the time until they get it again;
#   3. EDNS Client Subnet: geo-appropriate answers per client subnet with
#      the SCOPE returned, and Unbound caching per scope (same scope: a
#      cache hit, no query reaches gslb; another scope: a new upstream
#      query), seen in gslb's /metrics and query log;
#   4. NXDOMAIN and NODATA cached for the SOA negative TTL, then asked again;
#   5. the TTL clients see is the service TTL, counting down;
#   6. the adaptive service: answers go to the backend with room, away from
#      the one that reports it is at capacity (X-Load: 1.0);
#   7. from a fake root that delegates to the parent: the referrals walked
#      by hand, and zonemaster-cli (no ERROR or worse except ADDRESS01, the
#      loopback addresses), if it is installed; else a "skipped:" line;
#   8. a GeoIP database upgrade: a new file moved over the old one (rename),
#      which both instances reload by themselves.
# It ends with a summary of the figures.
#
# Usage: bash .ci/realworld.sh        (as root: it binds port 53)
# Needs: nsd, unbound, dig (bind9-dnsutils), python3, curl, Go (or GSLB_BIN);
#        zonemaster-cli optional.
# Environment (optional):
#   GSLB_BIN        a gslb binary to test instead of building one
#   RW_DEADLINE     (280) seconds before the whole run is aborted
#   RW_KEEP         (unset) keep the temporary directory (logs, configs)
#   RW_HOLD         (unset) seconds to keep the setup running before the
#                   checks, to poke at it by hand
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
# The load the two adaptive backends report (X-Load): cdn-2 is at capacity.
CDN1_LOAD=0.2
CDN2_LOAD=1.0
ZONE=gslb.example.test
GSLB_NS="ns1.$ZONE. ns2.$ZONE."
WWW=www.$ZONE
CDN=cdn.$ZONE
# MaxMind's test databases. gslb reads a copy in the run's directory, so
# that step 8 can replace it; the copy is named by absolute path.
GEOIP_SRC="$ROOT/testdata/geoip/GeoIP2-City-Test.mmdb"
GEOIP_NEW="$ROOT/testdata/geoip/GeoLite2-City-Test.mmdb"

# ---- timing (filled into the generated zone file) ----
INTERVAL_MS=500
TIMEOUT_MS=200
RISE=2
FALL=2
SERVICE_TTL=5
NEG_TTL=7

DEADLINE="${RW_DEADLINE:-280}"
WORK=""
WATCHDOG=""

# ---- helpers ----

# shellcheck source=lib.sh
. "$ROOT/.ci/lib.sh"

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
		local f
		for f in "$WORK"/logs/gslb-*.log "$WORK"/unbound/unbound.log "$WORK"/nsd-*/nsd.log; do
			[ -s "$f" ] || continue
			echo "---- tail of ${f#"$WORK"/}" >&2
			tail -n 15 "$f" >&2
		done
	fi
	exit 1
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "${HOLD:-}" ] || kill -TERM "$HOLD" 2>/dev/null || true
	if [ -n "$WATCHDOG" ]; then
		kill -TERM -- "-$WATCHDOG" 2>/dev/null || true
		wait "$WATCHDOG" 2>/dev/null || true
	fi
	stop_all
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

# alive NAME: fail if the process has exited.
alive() {
	local pid
	pid=$(pid_of "$1")
	kill -0 "$pid" 2>/dev/null || fail "$1 (pid $pid) exited; see logs/$1.log"
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

# ecs_of OUT: dig's CLIENT-SUBNET value, e.g. 175.16.199.0/24/24.
ecs_of() { sed -n 's/^; CLIENT-SUBNET: //p' <<<"$1" | head -n1; }
# ttl_of OUT TYPE: the TTL of the first answer record of TYPE.
ttl_of() { awk -v t="$2" '$1 !~ /^;/ && $4 == t { print $2; exit }' <<<"$1"; }
# auth_soa_ttl OUT: the TTL of the SOA in the authority section.
auth_soa_ttl() { awk '/AUTHORITY SECTION/ { a = 1; next } /^$/ { a = 0 } a && $4 == "SOA" { print $2; exit }' <<<"$1"; }


# section_rrs OUT SECTION TYPE: "owner rdata" of the records of TYPE in a
# section of dig's output (ANSWER, AUTHORITY, ADDITIONAL), sorted, one line.
section_rrs() {
	awk -v sec="$2" -v t="$3" '$0 ~ ("^;; " sec " SECTION:") { a = 1; next } /^;; [A-Z]+ SECTION:/ || /^$/ { a = 0 }
		a && $4 == t { print tolower($1) " " tolower($5) }' <<<"$1" | sort | paste -sd' ' -
}
# ns_set OUT SECTION: the NS targets in a section, sorted, one line.
ns_set() { section_rrs "$1" "$2" NS | awk '{ for (i = 2; i <= NF; i += 2) print $i }' | sort | paste -sd' ' -; }
# glue OUT NAME: the A records of NAME in the additional section.
glue() { awk -v n="$2" '/^;; ADDITIONAL SECTION:/ { a = 1; next } /^;; [A-Z]+ SECTION:/ || /^$/ { a = 0 } a && tolower($1) == n && $4 == "A" { print $5 }' <<<"$1" | paste -sd' ' -; }
has_flag() { [[ " $(flags_of "$1") " == *" $2 "* ]]; }
# bad MESSAGE: fail with MESSAGE and the last dig command and its output.
bad() {
	fail "$1
---- last query: ${DIG_CMD:-}
${OUT:-}"
}
# count_qlog NAME TYPE: sets QN to the queries for NAME/TYPE gslb logged.
count_qlog() { QN=$(qlog "$1" "$2"); }

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
# and TYPE from Unbound (outgoing-interface $RESOLVER) both instances have
# logged ([log] query_sample = 1).
qlog() {
	cat "$WORK/logs/gslb-ns1.log" "$WORK/logs/gslb-ns2.log" |
		awk -v n="name=$1." -v t="qtype=$2" -v c="client=$RESOLVER:" '
			/msg=query/ && index($0, c) { k = 0; for (i = 1; i <= NF; i++) if (tolower($i) == n || $i == t) k++; if (k == 2) q++ }
			END { print q + 0 }'
}

# flush: empty Unbound's caches. `unbound-control flush_zone` (and flush,
# flush_type) leave the subnetcache module's entries in place in Unbound
# 1.17: answers cached per ECS scope would survive them. reload empties
# every cache (it also resets the statistics).
flush() {
	unbound-control -c "$WORK/unbound/unbound.conf" reload >/dev/null || fail "unbound-control reload failed"
	wait_until 10 "Unbound to come back after reload" unbound-control -c "$WORK/unbound/unbound.conf" status
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
for f in "$GEOIP_SRC" "$GEOIP_NEW"; do
	[ -r "$f" ] || fail "GeoIP test database $f missing"
done
info "nsd $(nsd -v 2>&1 | head -n1 | awk '{ print $NF }'), unbound $(unbound -V 2>/dev/null | awk '/^Version/ { print $2 }'), $(dig -v 2>&1), $(python3 --version 2>&1)"
grep -q 'subnetcache' <<<"$(unbound -V 2>/dev/null)" || fail "this unbound has no subnetcache module (built without --enable-subnet)"

# Nothing else may hold the ports used here, on our addresses or on a
# wildcard address. holders PORT ADDR...: the listeners in the way.
holders() {
	local port="$1"
	shift
	{ ss -Hlnup "sport = :$port"; ss -Hlntp "sport = :$port"; } 2>/dev/null |
		awk -v port="$port" -v ours="$*" '
			BEGIN { n = split(ours, a, " "); for (i = 1; i <= n; i++) want[a[i] ":" port] = 1 }
			{ addr = $4; sub(/%[^:]*:/, ":", addr)
			  if (addr in want || addr == "0.0.0.0:" port || addr == "*:" port || addr == "[::]:" port) print }'
}
ours="$ROOT_ADDR $RESOLVER $PARENT $NS1 $NS2"
# shellcheck disable=SC2086 # a list of addresses
conflicts=$(holders 53 $ours)
if [ -n "$conflicts" ]; then
	echo "$conflicts" >&2
	fail "port 53 is already taken on an address this run needs (above); stop that server (e.g. a packaged nsd or unbound started by apt) and run again"
fi
on53=$({ ss -Hlnu "sport = :53"; ss -Hlnt "sport = :53"; } 2>/dev/null | awk '{ print $4 }' | sort -u | paste -sd' ' -)
info "port 53 in use elsewhere: ${on53:-none}; needed here: $ours"
conflicts="$(holders "$BACKEND_PORT" $ASIA1 $US1 $US2 $EU1 $CDN1 $CDN2)$(holders "$HTTP_PORT" $NS1 $NS2)"
if [ -n "$conflicts" ]; then
	echo "$conflicts" >&2
	fail "TCP port $BACKEND_PORT or $HTTP_PORT is already taken on an address this run needs (above)"
fi
ok "tools present, port 53 free on $ours"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gslb-realworld.XXXXXX")"
mkdir -p "$WORK/logs" "$WORK/gslb/zones" "$WORK/geoip" "$WORK/unbound" "$WORK/nsd-parent" "$WORK/nsd-root"
GEOIP_DB="$WORK/geoip/GeoIP2-City.mmdb"
cp "$GEOIP_SRC" "$GEOIP_DB"
chmod 755 "$WORK"

# The watchdog bounds the whole run: it TERMs this script, whose trap cleans up.
# It runs in its own session, so that cleanup ends it and its sleep at once.
# shellcheck disable=SC2016 # $1 and $2 are the inner shell's
setsid bash -c 'sleep "$1"; kill -TERM "$2" 2>/dev/null' watchdog "$DEADLINE" "$$" </dev/null &
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
start backend-cdn-1 python3 "$HERE/backend.py" "$CDN1" "$BACKEND_PORT" cdn-1 "$CDN1_LOAD"
start backend-cdn-2 python3 "$HERE/backend.py" "$CDN2" "$BACKEND_PORT" cdn-2 "$CDN2_LOAD"
for a in $ASIA1 $US1 $US2 $EU1 $CDN1 $CDN2; do
	wait_until 10 "backend http://$a:$BACKEND_PORT/healthz" curl -fsS --max-time 1 "http://$a:$BACKEND_PORT/healthz"
done
ok "6 HTTP backends answer /healthz on $ASIA1 .. $CDN2 port $BACKEND_PORT (cdn-1 reports X-Load $CDN1_LOAD, cdn-2 $CDN2_LOAD)"

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

UB=(unbound-control -c "$WORK/unbound/unbound.conf")

if [ -n "${RW_HOLD:-}" ]; then
	echo "holding ${RW_HOLD}s before the checks (RW_HOLD): try dig @$RESOLVER $WWW +subnet=175.16.199.0/24; files in $WORK"
	sleep "$RW_HOLD" &
	HOLD=$!
	wait "$HOLD" || true
	HOLD=""
fi

# ==== 1. delegation ====
step "1. delegation: the parent's referral, NS and glue, resolution through Unbound, ns1 = ns2"
ask +norec @"$PARENT" "$WWW" A
info "dig +norec @$PARENT (parent) $WWW A:"
sed -n '/^;; flags/p; /^;; AUTHORITY SECTION:/,/^$/p; /^;; ADDITIONAL SECTION:/,/^$/p' <<<"$OUT" | sed '/^$/d; s/^/      /'
{ [ "$(status_of "$OUT")" = NOERROR ] && ! has_flag "$OUT" aa; } || bad "the parent's answer is not a referral (NOERROR without aa)"
{ [ "$(ns_set "$OUT" AUTHORITY)" = "$GSLB_NS" ]; } || bad "the parent's referral NS set is not $GSLB_NS"
{ [ "$(glue "$OUT" "ns1.$ZONE.")" = "$NS1" ] && [ "$(glue "$OUT" "ns2.$ZONE.")" = "$NS2" ]; } || bad "the parent's glue is not ns1=$NS1 ns2=$NS2"
ok "parent referral: NS $GSLB_NS, glue ns1=$NS1 ns2=$NS2, aa clear"

for a in $NS1 $NS2; do
	ask +norec @"$a" "$ZONE" NS
	{ has_flag "$OUT" aa && [ "$(ns_set "$OUT" ANSWER)" = "$GSLB_NS" ]; } || bad "gslb at $a: apex NS is not an authoritative $GSLB_NS"
	for n in 1 2; do
		ask +norec @"$a" "ns$n.$ZONE" A
		eval "exp=\$NS$n"
		{ [ "$(addrs "$OUT")" = "$exp" ]; } || bad "gslb at $a: ns$n.$ZONE A is not $exp (glue mismatch)"
	done
done
ok "both gslb instances: apex NS $GSLB_NS (aa), ns1/ns2 addresses equal the parent's glue"

ask @"$RESOLVER" "$ZONE" NS
{ [ "$(status_of "$OUT")" = NOERROR ] && [ "$(ns_set "$OUT" ANSWER)" = "$GSLB_NS" ]; } || bad "Unbound: $ZONE NS is not $GSLB_NS"
ask @"$RESOLVER" "ns1.$ZONE" A
r1=$(addrs "$OUT")
ask @"$RESOLVER" "ns2.$ZONE" A
r2=$(addrs "$OUT")
{ [ "$r1" = "$NS1" ] && [ "$r2" = "$NS2" ]; } || bad "Unbound: ns1/ns2 resolve to '$r1' '$r2', not $NS1 $NS2"
ok "Unbound (@$RESOLVER) sees NS $GSLB_NS, ns1.$ZONE=$r1, ns2.$ZONE=$r2"

ask @"$RESOLVER" "$WWW" A
DELEGATION_ANSWER=$(addrs "$OUT")
{ [ "$(status_of "$OUT")" = NOERROR ] && [ -n "$DELEGATION_ANSWER" ]; } || bad "Unbound could not resolve $WWW through the delegation"
{ [ "$DELEGATION_ANSWER" = "$EU1" ]; } || bad "Unbound: $WWW = '$DELEGATION_ANSWER', want $EU1 (no client subnet: Unbound sends 127.0.0.0/24, not in the GeoIP database: default pool eu)"
{ curl -fsS --max-time 1 "http://$DELEGATION_ANSWER:$BACKEND_PORT/healthz" >/dev/null; } || bad "the answered backend $DELEGATION_ANSWER does not answer HTTP"
DELEGATION=yes
ok "delegation resolved: dig @$RESOLVER $WWW A = $DELEGATION_ANSWER (a healthy backend, pool eu by default), TTL $(ttl_of "$OUT" A)"

ask +norec @"$NS1" "$ZONE" SOA
s1=$(awk '$4 == "SOA" && $1 !~ /^;/ { print $7; exit }' <<<"$OUT")
ask +norec @"$NS2" "$ZONE" SOA
s2=$(awk '$4 == "SOA" && $1 !~ /^;/ { print $7; exit }' <<<"$OUT")
{ [ -n "$s1" ] && [ "$s1" = "$s2" ]; } || bad "SOA serials differ: ns1 $s1, ns2 $s2"
consistent=0
for s in 175.16.199.0/24 214.78.120.0/24 214.0.1.0/24 2a02:cfc0::/56 10.9.8.0/24 0; do
	ask +norec @"$NS1" "$WWW" A +subnet="$s"
	a1="$(addrs "$OUT") $(ecs_of "$OUT")"
	ask +norec @"$NS2" "$WWW" A +subnet="$s"
	a2="$(addrs "$OUT") $(ecs_of "$OUT")"
	{ [ "$a1" = "$a2" ]; } || bad "ns1 and ns2 answer $WWW +subnet=$s differently: '$a1' vs '$a2'"
	consistent=$((consistent + 1))
done
ask +norec @"$NS1" WwW.GsLb.ExAmPlE.TeSt A
{ grep -q "^;WwW.GsLb.ExAmPlE.TeSt.[[:space:]]" <<<"$OUT" && [ -n "$(addrs "$OUT")" ]; } || bad "gslb does not echo the question's case (0x20, use-caps-for-id)"
# The configuration hash (gslb_config_info, behind the GslbConfigDiverged
# alert) covers the main file and the zone files' paths and contents: the
# same on both instances, started from the same files.
h1=$(curl -fsS --max-time 2 "http://$NS1:$HTTP_PORT/metrics" | sed -n 's/^gslb_config_info{hash="\([0-9a-f]*\)"} 1$/\1/p')
h2=$(curl -fsS --max-time 2 "http://$NS2:$HTTP_PORT/metrics" | sed -n 's/^gslb_config_info{hash="\([0-9a-f]*\)"} 1$/\1/p')
{ [ -n "$h1" ] && [ "$h1" = "$h2" ]; } || bad "gslb_config_info hashes differ: ns1 '$h1', ns2 '$h2'"
ask +norec +nsid @"$NS1" "$ZONE" SOA
id1=$(sed -n 's/^; NSID: .*("\(.*\)")$/\1/p' <<<"$OUT")
ask +norec +nsid @"$NS2" "$ZONE" SOA
id2=$(sed -n 's/^; NSID: .*("\(.*\)")$/\1/p' <<<"$OUT")
ok "ns1 = ns2: SOA serial $s1 and config hash $h1 on both, same answers and ECS scopes for $consistent client subnets, question case echoed (0x20); NSID ns1 \"$id1\", ns2 \"$id2\" (identity.id = auto: the host name, one host here)"

# ==== 2. failover ====
US_SUBNET=214.78.120.0/24
DETECT_BOUND_MS=$((FALL * INTERVAL_MS * 11 / 10 + TIMEOUT_MS))
BOUND_MS=$((SERVICE_TTL * 1000 + FALL * INTERVAL_MS + TIMEOUT_MS))
step "2. failover: kill backend us-2 ($US2), poll dig @$RESOLVER +subnet=$US_SUBNET (pool us) until it is gone"
flush
ask @"$RESOLVER" "$WWW" A +subnet="$US_SUBNET"
{ [ "$(addrs "$OUT")" = "$US1 $US2" ]; } || bad "before the kill: $WWW for $US_SUBNET = '$(addrs "$OUT")', want $US1 $US2"
info "before: $WWW +subnet=$US_SUBNET -> $(addrs "$OUT") (TTL $(ttl_of "$OUT" A), just cached by Unbound)"
stop backend-us-2
t_kill=$(now_us)
t_detect1="" t_detect2="" t_client=""
polls=0
end=$((t_kill + (BOUND_MS + 4000) * 1000))
while [ -z "$t_client" ]; do
	[ "$(now_us)" -lt "$end" ] || fail "$US2 still answered by Unbound $(secs $(($(now_us) - t_kill)))s after the kill (bound $(secs $((BOUND_MS * 1000)))s)"
	if [ -z "$t_detect1" ]; then
		ask +norec @"$NS1" "$WWW" A +subnet="$US_SUBNET"
		[[ " $(addrs "$OUT") " == *" $US2 "* ]] || t_detect1=$(now_us)
	fi
	if [ -z "$t_detect2" ]; then
		ask +norec @"$NS2" "$WWW" A +subnet="$US_SUBNET"
		[[ " $(addrs "$OUT") " == *" $US2 "* ]] || t_detect2=$(now_us)
	fi
	ask @"$RESOLVER" "$WWW" A +subnet="$US_SUBNET"
	polls=$((polls + 1))
	got=$(addrs "$OUT")
	{ [ -n "$got" ]; } || bad "Unbound answered no address for $WWW during the failover"
	[[ " $got " == *" $US2 "* ]] || t_client=$(now_us)
	sleep 0.1
done
{ [ "$got" = "$US1" ]; } || bad "after the failover $WWW for $US_SUBNET = '$got', want $US1"
{ [ -n "$t_detect1" ] && [ -n "$t_detect2" ]; } || bad "an instance still answered $US2 when Unbound no longer did"
DETECT1_MS=$(((t_detect1 - t_kill) / 1000))
DETECT2_MS=$(((t_detect2 - t_kill) / 1000))
FAILOVER_MS=$(((t_client - t_kill) / 1000))
info "gslb stopped answering $US2: ns1 after $(secs $((DETECT1_MS * 1000)))s, ns2 after $(secs $((DETECT2_MS * 1000)))s (each probes on its own; fall $FALL x interval ${INTERVAL_MS}ms + timeout ${TIMEOUT_MS}ms = $(secs $(((FALL * INTERVAL_MS + TIMEOUT_MS) * 1000)))s, +10% jitter)"
info "clients of Unbound stopped getting $US2 after $(secs $((FAILOVER_MS * 1000)))s ($polls polls; now $got)"
info "bound: TTL ${SERVICE_TTL}s + fall x interval + timeout = $(secs $((BOUND_MS * 1000)))s"
{ [ "$DETECT1_MS" -le "$((DETECT_BOUND_MS + 300))" ] && [ "$DETECT2_MS" -le "$((DETECT_BOUND_MS + 300))" ]; } || bad "detection took ${DETECT1_MS}/${DETECT2_MS} ms, over fall x interval x 1.1 + timeout = ${DETECT_BOUND_MS} ms (+300 ms for polling)"
# Allowed: the bound, plus probe jitter (10 % of fall x interval), plus 1 s
# because Unbound counts TTLs in whole seconds (an entry lives TTL to TTL + 1
# s), plus 0.3 s of polling.
FAIL_ALLOW_MS=$((BOUND_MS + FALL * INTERVAL_MS / 10 + 1000 + 300))
{ [ "$FAILOVER_MS" -le "$FAIL_ALLOW_MS" ]; } || bad "client-visible failover took ${FAILOVER_MS} ms, over TTL + fall x interval + timeout = ${BOUND_MS} ms (allowed ${FAIL_ALLOW_MS} ms with jitter, Unbound's whole seconds and polling)"
ok "failover seen by a client through Unbound: $(secs $((FAILOVER_MS * 1000)))s (TTL + fall x interval + timeout = $(secs $((BOUND_MS * 1000)))s; allowed $(secs $((FAIL_ALLOW_MS * 1000)))s); detection at gslb $(secs $((DETECT1_MS * 1000)))s / $(secs $((DETECT2_MS * 1000)))s"

start backend-us-2-again python3 "$HERE/backend.py" "$US2" "$BACKEND_PORT" us-2
wait_until 10 "backend us-2 to answer again" curl -fsS --max-time 1 "http://$US2:$BACKEND_PORT/healthz"
t_up=$(now_us)
t_client=""
RBOUND_MS=$((SERVICE_TTL * 1000 + RISE * INTERVAL_MS * 11 / 10))
end=$((t_up + (RBOUND_MS + 4000) * 1000))
while [ -z "$t_client" ]; do
	[ "$(now_us)" -lt "$end" ] || fail "$US2 not answered again by Unbound $(secs $(($(now_us) - t_up)))s after it came back"
	ask @"$RESOLVER" "$WWW" A +subnet="$US_SUBNET"
	[ "$(addrs "$OUT")" != "$US1 $US2" ] || t_client=$(now_us)
	sleep 0.1
done
RECOVERY_MS=$(((t_client - t_up) / 1000))
{ [ "$RECOVERY_MS" -le "$((RBOUND_MS + 1000 + 300))" ]; } || bad "recovery took ${RECOVERY_MS} ms, over TTL + rise x interval = ${RBOUND_MS} ms (allowed +1.3 s for Unbound's whole seconds and polling)"
ok "recovery seen by a client: $US2 back after $(secs $((RECOVERY_MS * 1000)))s (TTL + rise x interval = $(secs $((RBOUND_MS * 1000)))s; allowed $(secs $(((RBOUND_MS + 1300) * 1000)))s)"

# ==== 3. EDNS Client Subnet ====
step "3. EDNS Client Subnet through Unbound: answers per client subnet, cached per SCOPE"
flush
# subnet|expected addresses|where the test database puts it
ECS_CASES=(
	"175.16.199.0/24|$ASIA1|CN, continent AS: pool asia"
	"214.78.120.0/24|$US1 $US2|US-CA (214.78.120.0/22): pool us"
	"214.0.1.0/24|$ASIA1|AU, continent OC: pool asia"
	"2a02:cfc0::/56|$EU1|FR, continent EU (2a02:cfc0::/29): pool eu"
	"10.9.8.0/24|$EU1|not in the database: default, pool eu"
)
ECS_SUMMARY=()
for c in "${ECS_CASES[@]}"; do
	IFS='|' read -r s exp where <<<"$c"
	ask @"$RESOLVER" "$WWW" A +subnet="$s"
	got=$(addrs "$OUT")
	ecs=$(ecs_of "$OUT")
	{ [ "$got" = "$exp" ]; } || bad "+subnet=$s: Unbound answered '$got', want $exp ($where)"
	{ [ -n "$ecs" ]; } || bad "+subnet=$s: Unbound's reply has no CLIENT-SUBNET option"
	info "$(printf '%-16s -> %-23s scope /%-3s %s' "$s" "$got" "${ecs##*/}" "$where")"
	ECS_SUMMARY+=("$(printf '%-16s -> %-23s scope /%s' "$s" "$got" "${ecs##*/}")")
done
ok "${#ECS_CASES[@]} client subnets got their geo pool through Unbound, with the scope gslb returned"

flush
ub_stat() { "${UB[@]}" stats_noreset | awk -F= -v k="$1" '$1 == k { print $2 }'; }
up0=$(ub_stat num.query.subnet)
hit0=$(ub_stat num.query.subnet_cache)
# cache_case SUBNET WANT_UPSTREAM TEXT: ask Unbound; WANT_UPSTREAM is 1 if
# the query must reach gslb (a cache miss for that scope: at least one
# query, two if Unbound timed out on one instance and asked the other), 0 if
# it must not (a hit).
SCOPE_LINES=()
cache_case() {
	local s="$1" want_up="$2" text="$3" q0 m0 q1 m1
	count_qlog "$WWW" A
	q0=$QN
	upstream 'gslb_dns_queries_total{qtype="A",rcode="NOERROR"'
	m0=$COUNT
	ask @"$RESOLVER" "$WWW" A +subnet="$s"
	count_qlog "$WWW" A
	q1=$QN
	upstream 'gslb_dns_queries_total{qtype="A",rcode="NOERROR"'
	m1=$COUNT
	info "$(printf '%-16s -> %-23s scope /%-3s TTL %s  gslb queries +%d (%s), metric +%d' "$s" "$(addrs "$OUT")" "$(ecs_of "$OUT" | sed 's|.*/||')" "$(ttl_of "$OUT" A)" $((q1 - q0)) "$text" $((m1 - m0)))"
	SCOPE_LINES+=("$s: gslb queries +$((q1 - q0)) ($text)")
	if [ "$want_up" -eq 0 ]; then
		{ [ $((q1 - q0)) -eq 0 ] && [ $((m1 - m0)) -eq 0 ]; } || bad "+subnet=$s: $((q1 - q0)) queries reached gslb (metric +$((m1 - m0))), want none ($text)"
	else
		{ [ $((q1 - q0)) -ge 1 ] && [ $((m1 - m0)) -ge $((q1 - q0)) ]; } || bad "+subnet=$s: $((q1 - q0)) queries reached gslb (metric +$((m1 - m0))), want at least 1 ($text)"
	fi
}
cache_case 214.78.120.0/24 1 "miss: first client of 214.78.120.0/22"
cache_case 214.78.121.0/24 0 "hit: same /22 scope"
cache_case 214.78.123.0/24 0 "hit: same /22 scope"
cache_case 214.78.124.0/24 1 "miss: outside the /22, another scope"
cache_case 175.16.199.0/24 1 "miss: another scope"
cache_case 175.16.199.0/24 0 "hit: same /24 again"
up1=$(ub_stat num.query.subnet)
hit1=$(ub_stat num.query.subnet_cache)
ok "Unbound caches per scope: same scope answered from its cache, another scope asked gslb (unbound-control stats: num.query.subnet +$((up1 - up0)), num.query.subnet_cache +$((hit1 - hit0)))"

# ==== 4. negative caching ====
NX=nope.$ZONE
step "4. NXDOMAIN ($NX A) and NODATA ($WWW TXT) through Unbound, cached for the SOA negative TTL (${NEG_TTL}s)"
flush
count_qlog "$NX" A
nx0=$QN
count_qlog "$WWW" TXT
nd0=$QN
upstream 'gslb_dns_queries_total{qtype="A",rcode="NXDOMAIN"'
mnx0=$COUNT
t_first=$(now_us)
ask @"$RESOLVER" "$NX" A
{ [ "$(status_of "$OUT")" = NXDOMAIN ] && [ "$(auth_soa_ttl "$OUT")" = "$NEG_TTL" ]; } || bad "first NXDOMAIN: want status NXDOMAIN and SOA TTL $NEG_TTL"
nx_ttls="$(auth_soa_ttl "$OUT")"
ask @"$RESOLVER" "$WWW" TXT
{ [ "$(status_of "$OUT")" = NOERROR ] && [ -z "$(section_rrs "$OUT" ANSWER TXT)" ] && [ "$(auth_soa_ttl "$OUT")" = "$NEG_TTL" ]; } || bad "first NODATA: want NOERROR, no answer, SOA TTL $NEG_TTL"
nd_ttls="$(auth_soa_ttl "$OUT")"
# (At least one query each; two if Unbound timed out on one instance.)
count_qlog "$NX" A
{ [ $((QN - nx0)) -ge 1 ]; } || bad "the first NXDOMAIN query did not reach gslb"
nx1=$QN
count_qlog "$WWW" TXT
{ [ $((QN - nd0)) -ge 1 ]; } || bad "the first NODATA query did not reach gslb"
nd1=$QN
upstream 'gslb_dns_queries_total{qtype="A",rcode="NXDOMAIN"'
{ [ $((COUNT - mnx0)) -ge $((nx1 - nx0)) ]; } || bad "gslb_dns_queries_total{rcode=\"NXDOMAIN\"} rose by $((COUNT - mnx0)), want $((nx1 - nx0))"
# Ask again every 0.2 s: Unbound answers from its cache, the SOA TTL
# counting down, until the negative TTL runs out and it asks gslb again.
t_nx="" t_nd=""
end=$((t_first + (NEG_TTL + 4) * 1000000))
while [ -z "$t_nx" ] || [ -z "$t_nd" ]; do
	[ "$(now_us)" -lt "$end" ] || fail "no new upstream query within $((NEG_TTL + 4))s of the first negative answer (NXDOMAIN: ${t_nx:-none}, NODATA: ${t_nd:-none})"
	sleep 0.2
	if [ -z "$t_nx" ]; then
		ask @"$RESOLVER" "$NX" A
		{ [ "$(status_of "$OUT")" = NXDOMAIN ]; } || bad "NXDOMAIN expected"
		count_qlog "$NX" A
		if [ "$QN" -gt "$nx1" ]; then
			t_nx=$(now_us)
			{ [ "$(auth_soa_ttl "$OUT")" = "$NEG_TTL" ]; } || bad "refetched NXDOMAIN: SOA TTL $(auth_soa_ttl "$OUT"), want $NEG_TTL"
		else
			nx_ttls="$nx_ttls $(auth_soa_ttl "$OUT")"
		fi
	fi
	if [ -z "$t_nd" ]; then
		ask @"$RESOLVER" "$WWW" TXT
		{ [ "$(status_of "$OUT")" = NOERROR ] && [ -z "$(section_rrs "$OUT" ANSWER TXT)" ]; } || bad "NODATA expected"
		count_qlog "$WWW" TXT
		if [ "$QN" -gt "$nd1" ]; then
			t_nd=$(now_us)
		else
			nd_ttls="$nd_ttls $(auth_soa_ttl "$OUT")"
		fi
	fi
done
NEG_NX_MS=$(((t_nx - t_first) / 1000))
NEG_ND_MS=$(((t_nd - t_first) / 1000))
upstream 'gslb_dns_queries_total{qtype="A",rcode="NXDOMAIN"'
info "NXDOMAIN SOA TTLs seen while cached: $(tr ' ' '\n' <<<"$nx_ttls" | uniq | paste -sd' ' -)"
info "NODATA   SOA TTLs seen while cached: $(tr ' ' '\n' <<<"$nd_ttls" | uniq | paste -sd' ' -)"
info "gslb asked again after $(secs $((NEG_NX_MS * 1000)))s (NXDOMAIN) and $(secs $((NEG_ND_MS * 1000)))s (NODATA); gslb_dns_queries_total{rcode=\"NXDOMAIN\"} +$((COUNT - mnx0)) in all"
# The SOA TTL must count down (non-increasing, reaching below NEG_TTL).
for v in nx_ttls nd_ttls; do
	{ awk -v n="$NEG_TTL" "{ for (i = 2; i <= NF; i++) if (\$i > \$(i - 1)) exit 1; exit !(\$NF < n) }" <<<"${!v}"; } || bad "the SOA TTLs of the cached negative answer do not count down: ${!v}"
done
for v in NEG_NX_MS NEG_ND_MS; do
	# Unbound counts TTLs in whole seconds: an entry is served until its
	# last second (TTL 0) is over, up to 1 s past the TTL.
	{ [ "${!v}" -ge $((NEG_TTL * 1000 - 300)) ] && [ "${!v}" -le $((NEG_TTL * 1000 + 1700)) ]; } || bad "$v = ${!v} ms: the negative answer was not cached for the negative TTL (${NEG_TTL}s; allowed ${NEG_TTL}-$((NEG_TTL + 1)).7s)"
done
ok "negative answers cached for the SOA negative TTL: NXDOMAIN $(secs $((NEG_NX_MS * 1000)))s, NODATA $(secs $((NEG_ND_MS * 1000)))s (negative_ttl ${NEG_TTL}s), no upstream query until then"

# ==== 5. TTL ====
S_TTL=175.16.199.0/24
step "5. the TTL clients see: the service TTL (${SERVICE_TTL}s), counting down in Unbound's cache"
ask +norec @"$NS1" "$WWW" A +subnet="$S_TTL"
{ [ "$(ttl_of "$OUT" A)" = "$SERVICE_TTL" ]; } || bad "gslb answers TTL $(ttl_of "$OUT" A), want the service TTL $SERVICE_TTL"
flush
count_qlog "$WWW" A
q0=$QN
ttls=""
t_start=$(now_us)
refetched=""
for i in $(seq 0 $((SERVICE_TTL + 2))); do
	# ask at t_start + i seconds
	while [ "$(now_us)" -lt $((t_start + i * 1000000)) ]; do sleep 0.05; done
	ask @"$RESOLVER" "$WWW" A +subnet="$S_TTL"
	ttls="$ttls $(ttl_of "$OUT" A)"
	count_qlog "$WWW" A
	if [ "$i" -eq 0 ]; then
		{ [ "$QN" -gt "$q0" ]; } || bad "the first query after the flush did not reach gslb"
		q1=$QN
	elif [ "$QN" -gt "$q1" ]; then
		refetched="after $i s"
		break
	fi
done
ttls=${ttls# }
info "TTLs seen at 1 s intervals: $ttls (gslb asked again $refetched)"
{ [ "${ttls%% *}" = "$SERVICE_TTL" ]; } || bad "the first answer's TTL is ${ttls%% *}, want $SERVICE_TTL"
# Non-increasing, down to 1 or 0 before the refetch (asked 1 s apart, two
# answers may show the same whole second).
{ awk "{ for (i = 2; i < NF; i++) if (\$i > \$(i - 1)) exit 1; exit !(\$(NF - 1) <= 1) }" <<<"$ttls"; } || bad "the TTL does not count down: $ttls"
{ [ -n "$refetched" ] && [ "${ttls##* }" = "$SERVICE_TTL" ]; } || bad "no new upstream query with a fresh TTL once the TTL ran out: $ttls"
TTL_SEQ=$ttls
ok "TTL: $SERVICE_TTL from gslb, counting down in Unbound ($ttls), asked again $refetched"

# ==== 6. adaptive ====
# backend_signals ADDR NAME: a backend's adaptive inputs and weight, from
# the API of the gslb instance at ADDR.
backend_signals() {
	curl -fsS --max-time 2 "http://$1:$HTTP_PORT/api/v1/backends/$CDN/$2" | python3 -c '
import json, sys
b = json.load(sys.stdin)
print("rtt %.1f ms, errors %.0f %%, load %s, effective weight %.2f" % (
    b["rtt_seconds"] * 1000, b["error_rate"] * 100, b["load"], b["effective_weight"]))'
}
N_ADAPT=200
step "6. adaptive service $CDN: cdn-1 ($CDN1) reports load $CDN1_LOAD, cdn-2 ($CDN2) $CDN2_LOAD (at capacity)"
ADAPT_SUMMARY=""
for a in $NS1 $NS2; do
	DIG_CMD="dig +norec +short @$a $CDN A x $N_ADAPT"
	# One dig process, N_ADAPT queries.
	mapfile -t names < <(yes "$CDN" | head -n "$N_ADAPT")
	OUT=$(dig +norec +short +time=2 +tries=1 @"$a" "${names[@]}" 2>&1) || fail "$DIG_CMD failed: $OUT"
	c1=$(grep -cx "$CDN1" <<<"$OUT" || true)
	c2=$(grep -cx "$CDN2" <<<"$OUT" || true)
	sig1=$(backend_signals "$a" cdn-1)
	sig2=$(backend_signals "$a" cdn-2)
	info "gslb $a: $N_ADAPT answers: cdn-1 $c1, cdn-2 $c2; cdn-1 $sig1; cdn-2 $sig2"
	{ [ $((c1 + c2)) -eq "$N_ADAPT" ]; } || bad "gslb $a answered $((c1 + c2)) of $N_ADAPT $CDN queries with a cdn address"
	{ [ $((c1 * 100)) -ge $((N_ADAPT * 85)) ]; } || bad "gslb $a gave cdn-1 only $c1 of $N_ADAPT answers, though cdn-2 is at capacity (want >= 85 %)"
	ADAPT_SUMMARY="$ADAPT_SUMMARY $a: cdn-1 $((c1 * 100 / N_ADAPT))%"
done
ask @"$RESOLVER" "$CDN" A +subnet=175.16.199.0/24
got=$(addrs "$OUT")
{ [ "$got" = "$CDN1" ] || [ "$got" = "$CDN2" ]; } || bad "Unbound: $CDN = '$got'"
ok "adaptive: the answers go to cdn-1, away from cdn-2 at capacity (${ADAPT_SUMMARY# }); through Unbound $CDN = $got, scope /$(ecs_of "$OUT" | sed 's|.*/||') (not client-dependent)"

# ==== 7. the whole path from a root, and zonemaster ====
step "7. from a fake root ($ROOT_ADDR): the referrals, and zonemaster-cli"
# dig +trace would look up the root server's name with the system's
# resolver; walk the referrals by hand instead, from the fake root.
server=$ROOT_ADDR
path="$ROOT_ADDR (fake root)"
TRACE_ANSWER=""
for hop in 1 2 3 4 5; do
	ask +norec @"$server" "$WWW" A
	TRACE_ANSWER=$(addrs "$OUT")
	if [ -n "$TRACE_ANSWER" ]; then
		{ has_flag "$OUT" aa; } || bad "the final answer from $server has no aa flag"
		break
	fi
	{ [ "$(status_of "$OUT")" = NOERROR ] && ! has_flag "$OUT" aa; } || bad "hop $hop: $server gave neither a referral nor an answer"
	cut=$(awk '/^;; AUTHORITY SECTION:/ { a = 1; next } a && $4 == "NS" { print $1; exit }' <<<"$OUT")
	server=$(awk '/^;; ADDITIONAL SECTION:/ { a = 1; next } a && $4 == "A" { print $5; exit }' <<<"$OUT")
	{ [ -n "$server" ]; } || bad "hop $hop: referral to $cut without glue"
	path="$path -> $cut at $server"
done
info "path: $path -> $WWW A $TRACE_ANSWER"
{ [ "$TRACE_ANSWER" = "$EU1" ]; } || bad "the walk from the fake root ended in '$TRACE_ANSWER', want $EU1"
ok "referrals from the fake root ($ROOT_ADDR): . -> example.test. ($PARENT) -> gslb.example.test. -> $WWW = $TRACE_ANSWER (aa)"

ZONEMASTER="not run"
if command -v zonemaster-cli >/dev/null 2>&1; then
	zm_out="$WORK/logs/zonemaster.txt"
	t=$(now_us)
	rc=0
	timeout 120 zonemaster-cli --hints "$WORK/root.hints" --no-ipv6 --no-progress --level INFO \
		--show-testcase --raw --count "$ZONE" >"$zm_out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || { cat "$zm_out" >&2; fail "zonemaster-cli exited with status $rc"; }
	info "zonemaster-cli $(zonemaster-cli --version 2>&1 | head -n1 | tr -s ' \n' ' ') in $(secs $(($(now_us) - t)))s, messages NOTICE and above:"
	awk '$2 ~ /^(CRITICAL|ERROR|WARNING|NOTICE)$/ { print "      " $2 " " $3 " " $4 }' "$zm_out" | sort | uniq -c | sed 's/^/   /'
	bad=$(awk '$2 ~ /^(CRITICAL|ERROR)$/ && $3 != "ADDRESS01"' "$zm_out")
	[ -z "$bad" ] || { echo "$bad" >&2; fail "zonemaster-cli reports ERROR or CRITICAL messages other than ADDRESS01 (above)"; }
	grep -q 'ONE_SOA_SERIAL' "$zm_out" || fail "zonemaster-cli did not run the consistency tests (no ONE_SOA_SERIAL in $zm_out)"
	nerr=$(awk '$2 == "ERROR" && $3 == "ADDRESS01"' "$zm_out" | wc -l)
	nwarn=$(awk '$2 == "WARNING"' "$zm_out" | wc -l)
	ZONEMASTER="no ERROR except ADDRESS01 x$nerr (loopback addresses); $nwarn WARNING"
	ok "zonemaster-cli: $ZONEMASTER"
else
	ZONEMASTER="skipped (zonemaster-cli not installed)"
	echo "skipped: zonemaster-cli is not installed (Debian 12: apt-get install zonemaster-cli)"
fi

# ==== 8. GeoIP database upgrade ====
step "8. GeoIP database upgrade: write the new file beside the old one, mv it over"
# The new database (GeoLite2-City-Test) does not hold 214.0.1.0/24 (AU):
# that client falls back to the default pool, eu.
S_AU=214.0.1.0/24
for a in $NS1 $NS2; do
	ask +norec @"$a" "$WWW" A +subnet="$S_AU"
	{ [ "$(addrs "$OUT")" = "$ASIA1" ]; } || bad "before the upgrade, gslb $a answered '$(addrs "$OUT")' for $S_AU, want $ASIA1"
done
geoip_type() { curl -fsS --max-time 2 "http://$1:$HTTP_PORT/api/v1/status" | python3 -c 'import json, sys; print((json.load(sys.stdin).get("geoip") or {}).get("type"))'; }
geoip_is() { [ "$(geoip_type "$1")" = "$2" ]; }
before="$(geoip_type "$NS1")"
# Same directory, so mv is a rename(2): readers see the old file or the new
# one, never a half-written one.
cp "$GEOIP_NEW" "$WORK/geoip/.GeoIP2-City.mmdb.new"
mv -f "$WORK/geoip/.GeoIP2-City.mmdb.new" "$GEOIP_DB"
t=$(now_us)
for a in $NS1 $NS2; do
	wait_until 10 "gslb $a to reload the GeoIP database" geoip_is "$a" GeoLite2-City
done
GEOIP_RELOAD_MS=$((($(now_us) - t) / 1000))
for a in $NS1 $NS2; do
	ask +norec @"$a" "$WWW" A +subnet="$S_AU"
	{ [ "$(addrs "$OUT")" = "$EU1" ]; } || bad "after the upgrade, gslb $a answered '$(addrs "$OUT")' for $S_AU, want $EU1 (not in the new database: default)"
done
n=$(grep -c 'msg="GeoIP database reloaded"' "$WORK/logs/gslb-ns1.log" "$WORK/logs/gslb-ns2.log" | awk -F: '{ s += $2 } END { print s }')
{ [ "$n" -eq 2 ]; } || bad "expected one \"GeoIP database reloaded\" log line per instance, found $n"
ok "GeoIP upgrade: both instances went from $before to GeoLite2-City within $(secs $((GEOIP_RELOAD_MS * 1000)))s of the mv, no restart; $S_AU now gets $EU1 (default)"

# ==== the servers' own view ====
step "logs and counters"
for n in gslb-ns1 gslb-ns2 unbound nsd-parent nsd-root; do
	alive "$n"
done
for a in $NS1 $NS2; do
	body=$(curl -fsS --max-time 2 "http://$a:$HTTP_PORT/metrics") || fail "GET http://$a:$HTTP_PORT/metrics failed"
	panics=$(awk '$1 == "gslb_dns_panics_total" { print $2 }' <<<"$body")
	ecsq=$(awk '$1 == "gslb_dns_ecs_queries_total" { print $2 }' <<<"$body")
	total=$(awk '/^gslb_dns_queries_total/ { s += $NF } END { print s + 0 }' <<<"$body")
	info "gslb $a: $total queries, $ecsq with ECS, panics ${panics:-?}"
	{ [ "${panics:-x}" = 0 ]; } || bad "gslb $a: gslb_dns_panics_total = ${panics:-missing}"
done
errs=$(grep -h 'level=ERROR' "$WORK/logs/gslb-ns1.log" "$WORK/logs/gslb-ns2.log" || true)
{ [ -z "$errs" ]; } || bad "gslb logged errors:
$errs"
mixed=$(cat "$WORK/logs/gslb-ns1.log" "$WORK/logs/gslb-ns2.log" | awk -v c="client=$RESOLVER:" '/msg=query/ && index($0, c) { n++; for (i = 1; i <= NF; i++) if ($i ~ /^name=/ && $i != tolower($i)) m++ } END { printf "%d of %d", m, n }')
info "queries from Unbound with 0x20 mixed case: $mixed"
uerr=$(grep -c -E 'error:|0x20' "$WORK/unbound/unbound.log" || true)
info "Unbound log: $uerr error/0x20 lines; stats: $("${UB[@]}" stats_noreset | awk -F= '$1 ~ /^(total\.num\.(queries|cachehits|cachemiss)|num\.query\.subnet(_cache)?)$/ { sub(/^total\./, "", $1); printf "%s=%s ", $1, $2 }')"
{ [ "$uerr" -eq 0 ]; } || bad "Unbound logged errors: $(grep -E 'error:|0x20' "$WORK/unbound/unbound.log" | head -n 5)"
ok "no panics, no errors in the gslb and Unbound logs"

# ==== summary ====
step "summary"
cat <<SUMMARY
   delegation resolved:       $DELEGATION (@$RESOLVER -> parent $PARENT -> ns1 $NS1 / ns2 $NS2; $WWW = $DELEGATION_ANSWER)
   failover seen by a client: $(secs $((FAILOVER_MS * 1000)))s after the kill (detection at gslb: ns1 $(secs $((DETECT1_MS * 1000)))s, ns2 $(secs $((DETECT2_MS * 1000)))s)
                              bound TTL ${SERVICE_TTL}s + fall $FALL x interval ${INTERVAL_MS}ms + timeout ${TIMEOUT_MS}ms = $(secs $((BOUND_MS * 1000)))s
   recovery seen by a client: $(secs $((RECOVERY_MS * 1000)))s after the backend answered again (TTL + rise x interval = $(secs $((RBOUND_MS * 1000)))s)
   answers per ECS subnet (through Unbound):
$(printf '      %s\n' "${ECS_SUMMARY[@]}")
   cache per scope:
$(printf '      %s\n' "${SCOPE_LINES[@]}")
   negative caching:          NXDOMAIN $(secs $((NEG_NX_MS * 1000)))s, NODATA $(secs $((NEG_ND_MS * 1000)))s (SOA negative_ttl ${NEG_TTL}s)
   TTL seen by clients:       $TTL_SEQ (service TTL ${SERVICE_TTL}s)
   adaptive:                 ${ADAPT_SUMMARY}
   zonemaster-cli:            $ZONEMASTER
   GeoIP upgrade (mv):        reloaded by both instances within $(secs $((GEOIP_RELOAD_MS * 1000)))s
SUMMARY
echo
echo "realworld: all $PASSED checks passed in $(elapsed)s"
