#!/usr/bin/env bash
# End-to-end checks of `gslb serve` with real dig queries, `gslb check`,
# hot reload and ISC's DNS compliance tests (genreport).
#
# Usage: bash .ci/e2e.sh
# Environment (all optional):
#   E2E_DNS_PORT   (18053) DNS port of the server on the bundled example
#   E2E_HTTP_PORT  (18080) its HTTP port
#   E2E_DNS_PORT2  (18054) DNS port of the server on a temporary config
#   E2E_HTTP_PORT2 (18081) its HTTP port
#   SHARED         (<repo>/../shared) where tools/genreport lives
#   GSLB_BIN       a gslb binary to test instead of building one
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SHARED="${SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
GENREPORT="$SHARED/tools/genreport"

PORT="${E2E_DNS_PORT:-18053}"
HTTP_PORT="${E2E_HTTP_PORT:-18080}"
PORT2="${E2E_DNS_PORT2:-18054}"
HTTP_PORT2="${E2E_HTTP_PORT2:-18081}"

ZONE=gslb.example.com.
PASSED=0
PIDS=()
LOGS=()

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gslb-e2e.XXXXXX")"

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 30); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() {
	PASSED=$((PASSED + 1))
	echo "ok: $*"
}

# fail prints the reason, the last dig command and its output (if any) and
# the tail of every server log, then exits.
fail() {
	echo "FAIL: $*" >&2
	if [ -n "${DIG_CMD:-}" ]; then
		echo "---- last query: $DIG_CMD" >&2
		printf '%s\n' "$DIG_OUT" >&2
		echo "----" >&2
	fi
	local log
	for log in "${LOGS[@]}"; do
		echo "---- tail of $(basename "$log")" >&2
		tail -n 30 "$log" >&2 || true
	done
	echo "e2e: $PASSED passed, 1 failed"
	exit 1
}

need() {
	command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed (.ci/run installs it)"
}
need dig
need awk
need timeout
[ -x "$GENREPORT" ] || fail "$GENREPORT is missing or not executable (part of CI's contract: ../shared/tools/genreport)"

# ---------------------------------------------------------------- dig helpers

DIG_CMD=""
DIG_OUT=""

# q ADDR PORT DIG-ARGS...: one query; the output lands in DIG_OUT.
q() {
	local addr="$1" port="$2" rc=0
	shift 2
	DIG_CMD="dig @$addr -p $port +time=2 +tries=1 $*"
	DIG_OUT="$(dig "@$addr" -p "$port" +time=2 +tries=1 "$@" 2>&1)" || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "dig exited with status $rc (no usable answer)"
	fi
}

# q1 DIG-ARGS...: a query to the server on the bundled example, over IPv4.
q1() { q 127.0.0.1 "$PORT" "$@"; }

status() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$DIG_OUT" | head -n 1; }
flags() { sed -n 's/^;; flags: \([^;]*\);.*/\1/p' <<<"$DIG_OUT" | head -n 1; }
# hdrcount QUERY|ANSWER|AUTHORITY|ADDITIONAL: the count in the header line.
hdrcount() { sed -n "s/^;; flags: .* $1: \([0-9]*\).*/\1/p" <<<"$DIG_OUT" | head -n 1; }
# section NAME: the record lines of one section (QUESTION lines keep their ';').
section() {
	awk -v s=";; $1 SECTION:" '$0 == s { f = 1; next } f && /^$/ { f = 0 } f' <<<"$DIG_OUT"
}
# rrcount SECTION TYPE: how many records of TYPE the section holds.
rrcount() { section "$1" | awk -v t="$2" '$4 == t' | wc -l | tr -d ' '; }

expect_status() {
	local got
	got="$(status)"
	[ "$got" = "$1" ] || fail "expected status $1, got '${got:-none}'"
}
expect_flag() {
	[[ " $(flags) " == *" $1 "* ]] || fail "expected flag '$1' in flags '$(flags)'"
}
expect_no_flag() {
	[[ " $(flags) " != *" $1 "* ]] || fail "flag '$1' must not be set (flags '$(flags)')"
}
# expect_rrs SECTION TYPE N [TTL]: exactly N records of TYPE, all with TTL.
expect_rrs() {
	local n
	n="$(rrcount "$1" "$2")"
	[ "$n" = "$3" ] || fail "expected $3 $2 record(s) in $1 section, got $n"
	if [ $# -ge 4 ]; then
		local bad
		bad="$(section "$1" | awk -v t="$2" -v ttl="$4" '$4 == t && $2 != ttl' | wc -l | tr -d ' ')"
		[ "$bad" = 0 ] || fail "expected TTL $4 on every $2 record in $1 section, $bad differ"
	fi
}

# ------------------------------------------------------------ server helpers

# start NAME PORT HTTPPORT [ARGS...]: start gslb serve in the background,
# dual-stack on PORT; sets LAST_PID and LAST_LOG.
start() {
	local name="$1" port="$2" http="$3"
	shift 3
	LAST_LOG="$WORK/$name.log"
	: >"$LAST_LOG"
	: >"$WORK/$name.out"
	"$GSLB" serve -dns-addr "127.0.0.1:$port" -dns-addr "[::1]:$port" -http-addr "127.0.0.1:$http" "$@" \
		>"$WORK/$name.out" 2>"$LAST_LOG" </dev/null &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	LOGS+=("$LAST_LOG")
}

# wait_ready PID LOG PORT NAME: poll until the server has logged that it
# started and answers the SOA of NAME, at most 10 s. The log line tells
# that this process bound the port, not another one that holds it.
wait_ready() {
	local pid="$1" log="$2" port="$3" name="$4" i out=""
	for i in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			DIG_CMD=""
			fail "gslb (pid $pid) exited before answering on port $port (port in use?)"
		fi
		if grep -q 'gslb started' "$log" || grep -q 'answers DNS on' "${log%.log}.out"; then
			out="$(dig @127.0.0.1 -p "$port" +time=1 +tries=1 SOA "$name" 2>&1)" || true
			if grep -q 'status: NOERROR' <<<"$out"; then
				return 0
			fi
		fi
		sleep 0.1
	done
	DIG_CMD="dig @127.0.0.1 -p $port +time=1 +tries=1 SOA $name"
	DIG_OUT="$out"
	fail "gslb on port $port did not answer within 10 s"
}

# stop PID NAME: SIGTERM, then it must be gone within 5 s with status 0.
stop() {
	local pid="$1" name="$2" i rc=0
	kill -TERM "$pid"
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	DIG_CMD=""
	if kill -0 "$pid" 2>/dev/null; then
		fail "$name (pid $pid) still running 5 s after SIGTERM"
	fi
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "$name (pid $pid) exited with status $rc after SIGTERM"
	ok "$name stops within 5 s of SIGTERM, exit status 0"
}

# http_get PORT PATH: prints the raw HTTP/1.0 response (no curl needed).
http_get() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
		cat <&3' _ "$1" "$2"
}

# ----------------------------------------------------------------- the build

if [ -n "${GSLB_BIN:-}" ]; then
	GSLB="$GSLB_BIN"
	echo "e2e: testing $GSLB"
else
	GSLB="$WORK/gslb"
	echo "e2e: building ./cmd/gslb"
	# The Dockerfile's build command: a static binary, as the image ships it.
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=ci" -o "$GSLB" ./cmd/gslb
fi
"$GSLB" version

# ------------------------------------------- server 1: the bundled example

echo "e2e: starting gslb serve (bundled example) on 127.0.0.1:$PORT, [::1]:$PORT, HTTP 127.0.0.1:$HTTP_PORT"
start example "$PORT" "$HTTP_PORT"
PID1=$LAST_PID
wait_ready "$PID1" "$LAST_LOG" "$PORT" "$ZONE"
ok "server answers on port $PORT (pid $PID1)"

# HTTP liveness and readiness.
DIG_CMD=""
resp="$(http_get "$HTTP_PORT" /healthz)" || fail "GET /healthz on 127.0.0.1:$HTTP_PORT failed"
if ! grep -q '^HTTP/1\.[01] 200' <<<"$resp" || ! grep -q '^ok' <<<"$resp"; then
	fail "GET /healthz: unexpected response: $resp"
fi
ok "GET /healthz → 200 ok"
# Ready once every health-checked backend has had its first probe: poll,
# at most 15 s.
ready=""
for _ in $(seq 1 75); do
	resp="$(http_get "$HTTP_PORT" /readyz)" || fail "GET /readyz on 127.0.0.1:$HTTP_PORT failed"
	if grep -q '^HTTP/1\.[01] 200' <<<"$resp" && grep -q '^ready' <<<"$resp"; then
		ready=1
		break
	fi
	sleep 0.2
done
[ -n "$ready" ] || fail "GET /readyz: not 200 ready within 15 s; last response: $resp"
ok "GET /readyz → 200 ready"

# Metrics: a real scrape is valid exposition format and passes promtool's
# lint (names, units, _total, help).
command -v promtool >/dev/null 2>&1 || fail "promtool not found (Debian package prometheus; .ci/run installs it)"
http_get "$HTTP_PORT" /metrics | sed '1,/^\r\{0,1\}$/d' >"$WORK/metrics.txt" || fail "GET /metrics failed"
grep -q '^gslb_dns_queries_total{' "$WORK/metrics.txt" || fail "/metrics has no gslb_dns_queries_total after queries"
promtool check metrics <"$WORK/metrics.txt" || fail "promtool check metrics reports problems (above)"
ok "GET /metrics → $(grep -c '^gslb_' "$WORK/metrics.txt") gslb_ series, promtool check metrics clean"

# The status page in headless Chromium: api-3 (nothing listens on its
# check port) shows as DOWN in the rendered DOM.
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$CHROMIUM" ] || fail "chromium not found (Debian package chromium; .ci/run installs it)"
dom=""
for _ in $(seq 1 10); do
	dom="$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir="$WORK/chromium" --dump-dom "http://127.0.0.1:$HTTP_PORT/" 2>/dev/null || true)"
	grep -q 'data-backend="api.gslb.example.com/api-3" data-state="DOWN"' <<<"$dom" && break
	sleep 1
done
grep -q 'data-backend="api.gslb.example.com/api-3" data-state="DOWN"' <<<"$dom" ||
	fail "the status page in Chromium does not show api-3 as DOWN; DOM: $(head -c 2000 <<<"$dom")"
grep -q '<svg class="spark"' <<<"$dom" || fail "the status page has no RTT sparkline"
ok "status page in headless Chromium: api.gslb.example.com/api-3 shown DOWN, sparklines drawn"

# SOA at the apex.
q1 SOA gslb.example.com
expect_status NOERROR
expect_flag aa
expect_rrs ANSWER SOA 1
ok "SOA gslb.example.com → NOERROR, aa, 1 SOA"

# Apex NS with glue.
q1 NS gslb.example.com
expect_status NOERROR
expect_flag aa
expect_rrs ANSWER NS 2
ns="$(section ANSWER | awk '$4 == "NS" { print tolower($5) }' | sort | tr '\n' ' ')"
[ "$ns" = "ns1.gslb.example.com. ns2.gslb.example.com. " ] || fail "expected NS ns1 and ns2, got: $ns"
for h in ns1 ns2; do
	for t in A AAAA; do
		n="$(section ADDITIONAL | awk -v h="$h.gslb.example.com." -v t="$t" 'tolower($1) == h && $4 == t' | wc -l | tr -d ' ')"
		[ "$n" -ge 1 ] || fail "no glue $t for $h.gslb.example.com. in the ADDITIONAL section"
	done
done
ok "NS gslb.example.com → ns1, ns2 with A and AAAA glue in ADDITIONAL"

# The www service (policy geo): 127.0.0.1 is in no GeoIP network, so the
# default rule sends it to pool "us" (two IPv4 members, one IPv6).
q1 www.gslb.example.com A
expect_status NOERROR
expect_flag aa
expect_rrs ANSWER A 2 30
[ "$(hdrcount ANSWER)" = 2 ] || fail "expected ANSWER: 2 in the header"
ok "www.gslb.example.com A → NOERROR, aa, 2 A (pool us), TTL 30"

q1 www.gslb.example.com AAAA
expect_status NOERROR
expect_flag aa
expect_rrs ANSWER AAAA 1 30
[ "$(hdrcount ANSWER)" = 1 ] || fail "expected ANSWER: 1 in the header"
ok "www.gslb.example.com AAAA → NOERROR, aa, 1 AAAA (pool us), TTL 30"

# EDNS Client Subnet: an Asian and a European client subnet get their own
# pools, and the reply carries the ECS scope of the matched network.
q1 +subnet=175.16.199.0/24 www.gslb.example.com A
expect_status NOERROR
section ANSWER | awk '$4 == "A"' | grep -q '203\.0\.113\.10$' || fail "Asian subnet: expected the ap pool (203.0.113.10)"
grep -q 'CLIENT-SUBNET: 175\.16\.199\.0/24/24' <<<"$DIG_OUT" || fail "Asian subnet: expected ECS 175.16.199.0/24 with scope 24"
ok "+subnet=175.16.199.0/24 → pool ap (203.0.113.10), ECS scope /24"
q1 +subnet=2a02:cfc0::/56 www.gslb.example.com A
expect_status NOERROR
section ANSWER | awk '$4 == "A"' | grep -q '192\.0\.2\.1[01]$' || fail "European subnet: expected the eu pool (192.0.2.10/11)"
grep -q 'CLIENT-SUBNET: 2a02:cfc0::/56/29' <<<"$DIG_OUT" || fail "European subnet: expected ECS 2a02:cfc0::/56 with scope 29"
ok "+subnet=2a02:cfc0::/56 → pool eu (192.0.2.10, 192.0.2.11), ECS scope /29"

# A name that does not exist.
q1 nonexistent.gslb.example.com A
expect_status NXDOMAIN
expect_flag aa
expect_rrs ANSWER A 0
expect_rrs AUTHORITY SOA 1 60
section AUTHORITY | awk '$4 == "SOA"' | grep -qi '^gslb\.example\.com\.' || fail "the SOA in AUTHORITY is not the zone's"
ok "nonexistent.gslb.example.com → NXDOMAIN, aa, SOA in AUTHORITY with TTL 60"

# A zone that is not ours.
q1 example.org A
expect_status REFUSED
expect_no_flag aa
[ "$(hdrcount ANSWER)" = 0 ] || fail "expected no answer records"
ok "example.org → REFUSED"

# TCP.
q1 +tcp www.gslb.example.com A
expect_status NOERROR
expect_flag aa
expect_rrs ANSWER A 2 30
grep -q '^;; SERVER: .*(TCP)' <<<"$DIG_OUT" || fail "dig did not use TCP"
ok "+tcp www.gslb.example.com A → NOERROR, 2 A"

# IPv6 listener, UDP and TCP.
q ::1 "$PORT" www.gslb.example.com A
expect_status NOERROR
expect_flag aa
expect_rrs ANSWER A 2 30
grep -q '^;; SERVER: ::1#' <<<"$DIG_OUT" || fail "the answer did not come from ::1"
q ::1 "$PORT" +tcp www.gslb.example.com AAAA
expect_status NOERROR
expect_rrs ANSWER AAAA 1 30
ok "IPv6 listener [::1]:$PORT answers over UDP and TCP"

# ANY: one RRset only.
q1 ANY gslb.example.com
expect_status NOERROR
expect_flag aa
types="$(section ANSWER | awk '{ print $4 }' | sort -u)"
[ -n "$types" ] || fail "ANY: empty answer"
[ "$(wc -l <<<"$types" | tr -d ' ')" = 1 ] || fail "ANY: expected a single RRset, got types: $(tr '\n' ' ' <<<"$types")"
ok "ANY gslb.example.com → a single RRset ($types)"

# The case of the query name is kept.
q1 WwW.GsLb.ExAmPlE.CoM A
expect_status NOERROR
grep -q '^;WwW\.GsLb\.ExAmPlE\.CoM\.[[:space:]]' <<<"$(section QUESTION)" || fail "the question name lost its case"
expect_rrs ANSWER A 2 30
bad="$(section ANSWER | awk '$1 != "WwW.GsLb.ExAmPlE.CoM."' | wc -l | tr -d ' ')"
[ "$bad" = 0 ] || fail "$bad answer record(s) do not keep the owner name WwW.GsLb.ExAmPlE.CoM."
ok "WwW.GsLb.ExAmPlE.CoM keeps its case in question and answer"

# ISC DNS compliance tests, EDNS and FULL groups, over IPv4 and IPv6.
DIG_CMD=""
for addr in 127.0.0.1 ::1; do
	for mode in "" -f; do
		what="genreport -P $PORT ${mode:+$mode }@$addr"
		# All three fields, always: with fewer genreport asks the system resolver.
		out="$(echo "$ZONE ns1.$ZONE $addr" | timeout 120 "$GENREPORT" -P "$PORT" $mode 2>&1)" || fail "$what failed: $out"
		tokens="$(tr -s ' \t' '\n' <<<"$out" | grep '=' || true)"
		[ -n "$tokens" ] || fail "$what printed no test results: $out"
		badtok="$(grep -v '^[^=]*=ok' <<<"$tokens" || true)"
		[ -z "$badtok" ] || fail "$what: tests not ok: $(tr '\n' ' ' <<<"$badtok")
full output: $out"
		ok "$what: all $(wc -l <<<"$tokens" | tr -d ' ') tests ok"
	done
done

# ------------------------------------------------------------ gslb check

mkdir -p "$WORK/broken/zones"
printf 'zones = ["zones"]\n' >"$WORK/broken/gslb.toml"
cat >"$WORK/broken/zones/broken.toml" <<'EOF'
origin = "broken.example."
ns = ["ns1"]
colour = "blue"                             # unknown key

[soa]
rname = "hostmaster@example.com"

[records]
ns1 = { A = "127.0.0.1" }
bad = { A = "192.0.2.300" }                 # not an IP address
both = { A = "192.0.2.1", CNAME = "ns1" }   # CNAME beside other data
EOF
rc=0
out="$("$GSLB" check -config "$WORK/broken/gslb.toml" 2>&1)" || rc=$?
[ "$rc" = 1 ] || fail "gslb check on a broken zone: exit status $rc, want 1; output:
$out"
n="$(grep -cE '^[^:]+:[0-9]+:([0-9]+:)? ' <<<"$out" || true)"
[ "$n" = 3 ] || fail "gslb check on a broken zone: $n file:line: lines, want 3; output:
$out"
for want in 'colour' '192\.0\.2\.300' 'CNAME'; do
	grep -E '^[^:]+:[0-9]+:([0-9]+:)? ' <<<"$out" | grep -q "$want" || fail "gslb check: no problem reported about $want; output:
$out"
done
ok "gslb check on a broken zone → exit 1, 3 file:line: problems (bad IP, unknown key, CNAME beside A)"

rc=0
out="$("$GSLB" check 2>&1)" || rc=$?
[ "$rc" = 0 ] || fail "gslb check on the bundled example: exit status $rc, want 0; output:
$out"
ok "gslb check on the bundled example → exit 0"

# ------------------------------------ server 2: a temporary configuration

CFG="$WORK/cfg"
mkdir -p "$CFG/zones"
cat >"$CFG/gslb.toml" <<'EOF'
# e2e: a temporary configuration
zones = ["zones"]
EOF
ZFILE="$CFG/zones/e2e.toml"

# write_zone RELOAD_VALUE: (re)writes the zone file; the value is the A
# record of reload.e2e.example. Written beside and renamed over the file,
# as editors do, so the server never reads half a file.
write_zone() {
	{
		cat <<EOF
origin = "e2e.example."
ns = ["ns1"]

[soa]
rname = "hostmaster@example.com"
negative_ttl = 60

[records]
ns1 = { A = "127.0.0.1", AAAA = "::1" }
reload = { A = "$1" }
EOF
		# big: 40 TXT records of 60 characters, about 3 KB: more than any
		# UDP answer may carry (512, or 1232 with EDNS).
		printf 'big.TXT = [\n'
		for i in $(seq -w 1 40); do
			printf '  "txt-%s-%s",\n' "$i" "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq"
		done
		printf ']\n\n'
		# many: a service with 40 IPv4 backends, about 700 octets: more
		# than 512, less than 1232.
		printf '[services.many]\nttl = 30\nbackends = [\n'
		for i in $(seq 1 40); do
			printf '  { name = "b%d", address = "198.51.100.%d" },\n' "$i" "$i"
		done
		printf ']\n'
	} >"$CFG/zones/.e2e.tmp"
	mv -f "$CFG/zones/.e2e.tmp" "$ZFILE"
}
write_zone 192.0.2.1
"$GSLB" check -config "$CFG/gslb.toml" >/dev/null 2>&1 || fail "the temporary config is not valid: $("$GSLB" check -config "$CFG/gslb.toml" 2>&1)"

echo "e2e: starting gslb serve -config $CFG/gslb.toml on port $PORT2, HTTP $HTTP_PORT2"
start cfg "$PORT2" "$HTTP_PORT2" -config "$CFG/gslb.toml"
PID2=$LAST_PID
LOG2=$LAST_LOG
wait_ready "$PID2" "$LOG2" "$PORT2" e2e.example.
ok "server with -config answers on port $PORT2 (pid $PID2)"

q2() { q 127.0.0.1 "$PORT2" "$@"; }

# Truncation.
q2 +bufsize=512 +ignore +notcp big.e2e.example TXT
expect_status NOERROR
expect_flag tc
[ "$(hdrcount ANSWER)" = 0 ] || fail "a truncated reply must carry no answer records"
ok "big TXT over UDP, bufsize 512 → tc, no answer records"

q2 +noedns +ignore +notcp big.e2e.example TXT
expect_flag tc
[ "$(hdrcount ANSWER)" = 0 ] || fail "a truncated reply must carry no answer records"
ok "big TXT over UDP without EDNS → tc, no answer records"

q2 +tcp big.e2e.example TXT
expect_status NOERROR
expect_flag aa
expect_no_flag tc
expect_rrs ANSWER TXT 40
ok "big TXT over TCP → all 40 records"

q2 +bufsize=512 +ignore +notcp many.e2e.example A
expect_flag tc
[ "$(hdrcount ANSWER)" = 0 ] || fail "a truncated reply must carry no answer records"
q2 +bufsize=1232 +ignore +notcp many.e2e.example A
expect_status NOERROR
expect_no_flag tc
expect_rrs ANSWER A 40 30
ok "40-backend service: tc at bufsize 512, all 40 A over UDP at bufsize 1232"

# Hot reload: a broken file is rejected and the old data stays.
q2 reload.e2e.example A
expect_rrs ANSWER A 1
section ANSWER | grep -q '192\.0\.2\.1$' || fail "expected reload.e2e.example A 192.0.2.1 before the reload"

write_zone 192.0.2.999
logged=""
for _ in $(seq 1 100); do
	if grep -qE 'reload rejected: [^ ]*e2e\.toml:[0-9]+:' "$LOG2"; then
		logged=1
		break
	fi
	sleep 0.1
done
DIG_CMD=""
[ -n "$logged" ] || fail "no 'reload rejected: .../e2e.toml:LINE:' in the log within 10 s of breaking the zone file"
ok "broken zone file: the log names it with file:line ($(grep -oE 'reload rejected: [^ ]*e2e\.toml:[0-9]+(:[0-9]+)?' "$LOG2" | head -n 1 | sed 's/.*\///'))"
kill -0 "$PID2" 2>/dev/null || fail "the server exited after a broken zone file"
q2 reload.e2e.example A
expect_status NOERROR
expect_rrs ANSWER A 1
section ANSWER | grep -q '192\.0\.2\.1$' || fail "after a rejected reload the old data (192.0.2.1) must still be answered"
ok "broken zone file: the server keeps answering the old data"

# Fixed, with a changed record: the new data is answered within 10 s.
write_zone 192.0.2.2
reloaded=""
for _ in $(seq 1 100); do
	q2 reload.e2e.example A
	if section ANSWER | grep -q '192\.0\.2\.2$'; then
		reloaded=1
		break
	fi
	sleep 0.1
done
[ -n "$reloaded" ] || fail "the fixed zone file (reload A 192.0.2.2) was not answered within 10 s"
expect_status NOERROR
expect_rrs ANSWER A 1
ok "fixed zone file: the new data is answered"

# ---------------------------------- gslb test and gslb ctl, as operators run them

# The bundled example's policy tests pass; JUnit XML is written.
rc=0
out="$("$GSLB" test -junit "$WORK/junit.xml" cmd/gslb/example/tests/*.toml 2>&1)" || rc=$?
[ "$rc" = 0 ] || fail "gslb test on the bundled example's tests: exit $rc; output:
$out"
grep -q '<testsuites ' "$WORK/junit.xml" || fail "gslb test -junit wrote no <testsuites>: $(head -c 300 "$WORK/junit.xml")"
ok "gslb test cmd/gslb/example/tests/*.toml → $(tail -n 1 <<<"$out" | cut -f2)"

# A server with the admin API on: drain a whole pool with gslb ctl, see the
# answers move to the next pool, undrain it.
CTL="$WORK/ctl"
mkdir -p "$CTL/zones"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CTL/token"
chmod 600 "$CTL/token"
printf 'zones = ["zones"]\n[admin]\ntoken_file = "token"\n' >"$CTL/gslb.toml"
cat >"$CTL/zones/ctl.toml" <<'EOF'
origin = "ctl.example."
ns = ["ns1"]
[soa]
rname = "hostmaster@example.com"
[records]
ns1 = { A = "127.0.0.1" }
[services.www]
policy = "failover"
backends = [
  { name = "eu-1", address = "192.0.2.1" },
  { name = "eu-2", address = "192.0.2.2" },
  { name = "us-1", address = "192.0.2.3" },
]
pools = [{ name = "eu", backends = ["eu-1", "eu-2"] }, { name = "us", backends = ["us-1"] }]
EOF
PORT3="${E2E_DNS_PORT3:-18055}"
HTTP_PORT3="${E2E_HTTP_PORT3:-18082}"
start ctl "$PORT3" "$HTTP_PORT3" -config "$CTL/gslb.toml"
PID3=$LAST_PID
wait_ready "$PID3" "$LAST_LOG" "$PORT3" ctl.example
# answers3: the sorted A records of www.ctl.example, on one line.
answers3() { dig @127.0.0.1 -p "$PORT3" +short +time=2 +tries=1 www.ctl.example A | sort | tr '\n' ' '; }
DIG_CMD="dig @127.0.0.1 -p $PORT3 +short www.ctl.example A"
[ "$(answers3)" = "192.0.2.1 192.0.2.2 " ] || fail "before the drain: www.ctl.example answers '$(answers3)', want the eu pool"
ctl=("$GSLB" ctl -config "$CTL/gslb.toml" -server "http://127.0.0.1:$HTTP_PORT3")
out="$("${ctl[@]}" drain www/eu -reason e2e 2>&1)" || fail "gslb ctl drain www/eu failed: $out"
grep -q 'pool eu of www.ctl.example: drained (2 backend(s))' <<<"$out" || fail "gslb ctl drain printed: $out"
[ "$(answers3)" = "192.0.2.3 " ] || fail "after draining pool eu: '$(answers3)', want the us pool (192.0.2.3)"
# The output captured first: grep -q ending a pipe early would SIGPIPE
# the writer, and pipefail would take that for a failure.
out="$("${ctl[@]}" backends www 2>&1)" || fail "gslb ctl backends www failed: $out"
grep -qE 'www.ctl.example/eu-1 +192.0.2.1 +up +drain \(e2e\)' <<<"$out" || fail "gslb ctl backends does not show eu-1 drained: $out"
out="$("${ctl[@]}" undrain www/eu 2>&1)" || fail "gslb ctl undrain www/eu failed: $out"
[ "$(answers3)" = "192.0.2.1 192.0.2.2 " ] || fail "after undrain: '$(answers3)', want the eu pool back"
rc=0
out="$("${ctl[@]}" drain www/ue 2>&1)" || rc=$?
{ [ "$rc" = 2 ] && grep -q 'did you mean "eu"' <<<"$out"; } || fail "gslb ctl drain of a misspelt pool: exit $rc: $out"
ok "gslb ctl drain www/eu → answers from pool us; undrain → eu again; a misspelt pool → exit 2 with a suggestion"
stop "$PID3" "gslb (ctl)"

# ------------------------------------------------------------------ stop

stop "$PID2" "gslb -config"
stop "$PID1" "gslb (bundled example)"


# ===================================================================
# The status page in headless Chromium through playwright-core: the
# bundled example served on its own addresses (DNS 127.0.0.1:8053, HTTP
# 127.0.0.1:9153, the ports its checks probe, so every backend but api-3
# is UP), a few answers for the charts, then .ci/status-page.mjs takes
# docs/status-1280.png and docs/status-400.png and checks in the live DOM
# (DevTools protocol) that nothing overflows its container sideways.
# playwright-core comes from .ci/statuspage/package-lock.json; it drives
# Debian's Chromium and downloads no browser.
# ===================================================================

need node
need npm
echo "e2e: status page: npm ci in .ci/statuspage"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$ROOT/.ci/statuspage" --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1 ||
	{ cat "$WORK/npm.log" >&2; fail "npm ci in .ci/statuspage failed"; }

SP_LOG="$WORK/statuspage.log"
: >"$SP_LOG"
"$GSLB" serve >"$WORK/statuspage.out" 2>"$SP_LOG" </dev/null &
SP_PID=$!
PIDS+=("$SP_PID")
LOGS+=("$SP_LOG")
wait_ready "$SP_PID" "$SP_LOG" 8053 "$ZONE"
ready=""
for _ in $(seq 1 75); do
	if http_get 9153 /readyz | grep -q '^ready'; then
		ready=1
		break
	fi
	sleep 0.2
done
[ -n "$ready" ] || fail "gslb serve (bundled example, HTTP 127.0.0.1:9153): not ready within 15 s"
ok "gslb serve on the bundled example's own addresses (DNS 127.0.0.1:8053, HTTP 127.0.0.1:9153)"

# Answers for the charts: every service, clients from several places.
for i in $(seq 1 30); do
	q 127.0.0.1 8053 api.gslb.example.com A
	q 127.0.0.1 8053 app.gslb.example.com A +subnet="192.0.2.$i/32"
	q 127.0.0.1 8053 cdn.gslb.example.com A
	q 127.0.0.1 8053 edge.gslb.example.com A +subnet="81.2.69.$((i % 8 * 16))/28"
	q 127.0.0.1 8053 www.gslb.example.com A +subnet="175.16.199.$i/32"
	q 127.0.0.1 8053 www.gslb.example.com A +subnet="2.125.160.$i/32"
	q 127.0.0.1 8053 www.gslb.example.com AAAA
done
DIG_CMD=""
# A few probe results in every strip (checks run every 2 s or more).
sleep 4

out="$(node "$ROOT/.ci/status-page.mjs" "http://127.0.0.1:9153/" "$ROOT/docs" 2>&1)" ||
	fail "status page in Chromium: $out"
while IFS= read -r line; do
	ok "status page in Chromium: ${line#ok: }"
done <<<"$out"
[ -s "$ROOT/docs/status-1280.png" ] && [ -s "$ROOT/docs/status-400.png" ] ||
	fail "no docs/status-1280.png or docs/status-400.png"
ok "status page screenshots: docs/status-1280.png, docs/status-400.png"

stop "$SP_PID" "gslb serve (status page)"

echo
echo "e2e: all checks passed"
echo "e2e: $PASSED passed, 0 failed"
