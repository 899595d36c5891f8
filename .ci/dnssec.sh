#!/usr/bin/env bash
# DNSSEC with real validators (issue 19). A fake root and a parent zone,
# both signed with ldns-signzone and served by NSD, delegate
# gslb.example.test. (with the DS that `gslb dnssec ds` prints) to two gslb
# instances sharing one key, and held.example.test. to a third, a test
# build whose signing clock is held (go build -tags heldclock). Three
# validating resolvers, each a Debian package, resolve through that chain
# from the root trust anchor: Unbound, BIND 9 and Knot Resolver. Everything runs on the loopback interface, on
# addresses of TEST-NET-2 this script gives it (and takes back) standing in
# for hosts, DNS on port 53: not 127.0.0.0/8, whose glue Knot Resolver
# ignores and on which named listens only at 127.0.0.1.
#
#   198.51.100.9   fake root (NSD)          198.51.100.10  Unbound
#   198.51.100.11  example.test. (NSD)      198.51.100.12  BIND 9 (named)
#   198.51.100.21  gslb ns1                 198.51.100.13  Knot Resolver (kresd)
#   198.51.100.22  gslb ns2                 198.51.100.14  Unbound, clock 6 min ahead
#   198.51.100.23  gslb, clock held         198.51.100.31/32  gslb ns1/ns2 behind
#                                           the tampering proxy (.ci/dnsflip.py)
#
# Checks, for each resolver:
#   1. ad on the answers of a service of each policy (weighted, geo with
#      A and AAAA, failover, nearest + roundrobin, sticky, least_load), on
#      NODATA, on a name that does not exist (compact denial), on a
#      wildcard answer, through a CNAME, and on the DNSKEY RRset;
#   2. the signatures renewed in real time (signature_validity 5 min: a new
#      window every 100 s) without ad ever dropping, through Unbound;
#   3. a server stopped from re-signing (its signing clock held, 5 min
#      signatures): ad until its signatures expire, SERVFAIL from then on,
#      from every resolver; and a resolver whose clock is past the
#      signatures' expiry (Unbound under faketime, 6 min ahead) answers
#      SERVFAIL, the same seen from the other side;
#   4. a proxy in front of both instances flipping a bit of each address in
#      the answers: SERVFAIL from every resolver;
#   5. both instances signing with a key the parent's DS does not name:
#      SERVFAIL from every resolver;
# and dnsviz (probe + grok) and zonemaster-cli on the signed zone.
#
# Usage: bash .ci/dnssec.sh      (as root: it binds port 53)
# Needs: nsd, unbound, bind9, knot-resolver, ldnsutils, faketime, dig, Go
#        (or GSLB_BIN).
# Environment: GSLB_BIN, GSLB_HELD_BIN (the -tags heldclock build),
#              DS_DEADLINE (400 s), DS_KEEP (keep the directory).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"

ROOT_ADDR=198.51.100.9
UNBOUND=198.51.100.10
PARENT=198.51.100.11
BIND=198.51.100.12
KRESD=198.51.100.13
AHEAD=198.51.100.14
NS1=198.51.100.21
NS2=198.51.100.22
HELD=198.51.100.23
BEHIND1=198.51.100.31
BEHIND2=198.51.100.32
ADDRS="$ROOT_ADDR $UNBOUND $PARENT $BIND $KRESD $AHEAD $NS1 $NS2 $HELD $BEHIND1 $BEHIND2"
ADDED=()
ZONE=gslb.example.test
HZONE=held.example.test
VALIDITY=5m
DEADLINE="${DS_DEADLINE:-400}"
WORK=""
WATCHDOG=""

# shellcheck source=lib.sh
. "$ROOT/.ci/lib.sh"
fail() {
	echo "FAIL: $*" >&2
	if [ -n "$WORK" ] && [ -d "$WORK/logs" ]; then
		for f in "$WORK"/logs/*.log; do
			[ -s "$f" ] || continue
			echo "---- tail of ${f#"$WORK"/}" >&2
			tail -n 12 "$f" >&2
		done
	fi
	exit 1
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "$WATCHDOG" ] || kill -TERM -- "-$WATCHDOG" 2>/dev/null || true
	stop_all
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ -n "${DS_KEEP:-}" ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
	fi
	for a in "${ADDED[@]}"; do ip addr del "$a/32" dev lo 2>/dev/null || true; done
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'echo "FAIL: terminated (deadline of ${DEADLINE}s?)" >&2; exit 124' TERM

# ask SERVER ARGS...: dig through SERVER with DO; OUT gets the output.
ask() {
	local server="$1"
	shift
	DIG_CMD="dig @$server +dnssec +time=3 +tries=2 $*"
	OUT=$(dig "@$server" +dnssec +time=3 +tries=2 "$@" 2>&1) || fail "$DIG_CMD: dig failed: $OUT"
}
has_ad() { [[ " $(flags_of "$1") " == *" ad "* ]]; }
bad() { fail "$1
---- $DIG_CMD
$OUT"; }

step "preflight"
[ "$(id -u)" -eq 0 ] || fail "not root: the servers bind port 53"
for c in nsd unbound unbound-checkconf named named-checkconf kresd ldns-keygen ldns-signzone ldns-key2ds faketime dig curl setsid dnsviz zonemaster-cli; do
	command -v "$c" >/dev/null 2>&1 || fail "$c not found: apt-get install nsd unbound bind9 knot-resolver ldnsutils faketime bind9-dnsutils curl dnsviz zonemaster-cli"
done
info "nsd $(nsd -v 2>&1 | awk '{ print $NF; exit }'), unbound $(unbound -V 2>/dev/null | awk '/^Version/ { print $2 }'), $(named -v), kresd $(kresd --version 2>&1 | awk '{ print $NF; exit }'), $(dig -v 2>&1)"
for a in $ADDRS; do
	if grep -qx "$a:53" <<<"$(ss -Hlnu "sport = :53" 2>/dev/null | awk '{ print $4 }')"; then fail "port 53 taken on $a"; fi
	if ! grep -q "inet $a/" <<<"$(ip -4 addr show dev lo)"; then
		ip addr add "$a/32" dev lo || fail "cannot add $a to lo"
		ADDED+=("$a")
	fi
done
ok "tools present; $ADDRS on lo"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gslb-dnssec.XXXXXX")"
mkdir -p "$WORK"/{logs,root,parent,gslb/zones,unbound,ahead,bind,kresd,keys}
chmod 755 "$WORK"
setsid bash -c 'sleep "$1"; kill -TERM "$2" 2>/dev/null' watchdog "$DEADLINE" "$$" </dev/null &
WATCHDOG=$!

if [ -n "${GSLB_BIN:-}" ]; then BIN="$GSLB_BIN"; else
	step "build gslb"
	BIN="$WORK/gslb-bin"
	go build -o "$BIN" ./cmd/gslb || fail "go build failed"
fi
if [ -n "${GSLB_HELD_BIN:-}" ]; then HBIN="$GSLB_HELD_BIN"; else
	HBIN="$WORK/gslb-held"
	go build -tags heldclock -o "$HBIN" ./cmd/gslb || fail "go build -tags heldclock failed"
fi

step "keys and zones"
# gslb's key, made as an operator makes it.
"$BIN" dnssec keygen -dir "$WORK/gslb/zones" "$ZONE" >"$WORK/logs/keygen.log" || fail "gslb dnssec keygen failed"
GKEY=$(sed -n 's/^key = "\(.*\)"$/\1/p' "$WORK/logs/keygen.log")
[ -n "$GKEY" ] || fail "gslb dnssec keygen printed no key line"
cat >"$WORK/gslb/gslb.toml" <<EOF
zones = ["zones"]
[server]
dns = ["@ADDR@:53"]
http = "@ADDR@:9153"
[geo]
database = "$ROOT/testdata/geoip/GeoIP2-City-Test.mmdb"
EOF
cat >"$WORK/gslb/zones/$ZONE.toml" <<EOF
origin = "$ZONE."
ttl = 60
ns = ["ns1", "ns2"]
[soa]
rname = "hostmaster"
negative_ttl = 30
[records]
ns1 = { A = "$NS1" }
ns2 = { A = "$NS2" }
alias = { CNAME = "www" }
"*.wild" = { A = "192.0.2.99" }
[services.www]
ttl = 20
members = "weighted"
answers = 1
backends = [{ name = "a", address = "192.0.2.10" }, { name = "b", address = "192.0.2.11" }]
# A service of each policy and member selection of the bundled example,
# probed (ns1's DNS and HTTP ports stand in for backends).
[services.geo]
policy = "geo"
members = "all"
check = { type = "http", address = "$NS1:9153", path = "/healthz" }
backends = [
  { name = "eu-1", address = "192.0.2.20" },
  { name = "us-1", address = "192.0.2.30" },
  { name = "us-1-v6", address = "2001:db8:30::1" },
  { name = "us-2", address = "192.0.2.31" },
]
pools = [{ name = "eu", backends = ["eu-1"] }, { name = "us", backends = ["us-1", "us-1-v6", "us-2"] }]
[services.geo.geo]
default = ["us", "eu"]
continent = { EU = ["eu", "us"] }
[services.api]
policy = "failover"
members = "weighted"
answers = 1
check = { type = "tcp", address = "$NS1:53" }
when_all_down = "fallback"
fallback = ["192.0.2.49"]
backends = [
  { name = "api-1", address = "192.0.2.40", weight = 3 },
  { name = "api-2", address = "192.0.2.41", check = { address = "127.0.0.1:1" } },
  { name = "api-dr", address = "192.0.2.48" },
]
pools = [{ name = "primary", backends = ["api-1", "api-2"] }, { name = "dr", backends = ["api-dr"] }]
[services.edge]
policy = "nearest"
members = "roundrobin"
answers = 1
backends = [{ name = "fra", address = "192.0.2.50" }, { name = "nyc", address = "192.0.2.51" }]
pools = [
  { name = "frankfurt", backends = ["fra"], coordinates = [50.11, 8.68] },
  { name = "new-york", backends = ["nyc"], coordinates = [40.71, -74.01] },
]
[services.app]
members = "sticky"
answers = 1
check = { type = "tcp", address = "$NS1:53" }
backends = [{ name = "app-1", address = "192.0.2.60" }, { name = "app-2", address = "192.0.2.61" }]
[services.cdn]
members = "least_load"
answers = 1
check = { type = "http", address = "$NS1:9153", path = "/healthz" }
backends = [{ name = "cdn-1", address = "192.0.2.70" }, { name = "cdn-2", address = "192.0.2.71" }]
[dnssec]
key = "$GKEY"
cds = "keys"
EOF
for n in 1 2; do
	a=NS$n
	mkdir -p "$WORK/ns$n"
	sed "s/@ADDR@/${!a}/" "$WORK/gslb/gslb.toml" >"$WORK/ns$n/gslb.toml"
	sed -i "s|zones = \\[\"zones\"\\]|zones = [\"$WORK/gslb/zones\"]|" "$WORK/ns$n/gslb.toml"
done
# The held server: its own zone and key, signatures valid 5 min; started
# with the renewal check below.
mkdir -p "$WORK/held/zones"
"$BIN" dnssec keygen -dir "$WORK/held/zones" "$HZONE" >"$WORK/logs/keygen-held.log" || fail "gslb dnssec keygen $HZONE failed"
HKEY=$(sed -n 's/^key = "\(.*\)"$/\1/p' "$WORK/logs/keygen-held.log")
sed -e "s/@ADDR@/$HELD/" -e "s|zones = \\[\"zones\"\\]|zones = [\"$WORK/held/zones\"]|" "$WORK/gslb/gslb.toml" >"$WORK/held/gslb.toml"
cat >"$WORK/held/zones/$HZONE.toml" <<EOF
origin = "$HZONE."
ttl = 60
ns = ["ns"]
[soa]
rname = "hostmaster"
negative_ttl = 30
[records]
ns = { A = "$HELD" }
"*.w" = { A = "192.0.2.77" }
[dnssec]
key = "$HKEY"
signature_validity = "5m"
dnskey_ttl = 60
EOF
"$BIN" check -config "$WORK/held/gslb.toml" >/dev/null || fail "gslb check rejected $HZONE"
HDS=$("$BIN" dnssec ds -config "$WORK/held/gslb.toml" "$HZONE" | grep -v '^;' | awk '$4 == "DS"')
"$BIN" check -config "$WORK/ns1/gslb.toml" >/dev/null || fail "gslb check rejected the signed zone"
GDS=$("$BIN" dnssec ds -config "$WORK/ns1/gslb.toml" "$ZONE" | grep -v '^;' | awk '$4 == "DS"')
[ -n "$GDS" ] || fail "gslb dnssec ds printed no DS"
ok "gslb dnssec keygen and ds: $GKEY; $(awk '{ print $4, $5, $6, $7 }' <<<"$GDS")"

# The parent and the root, signed with ldns.
(cd "$WORK/keys" && ldns-keygen -a ECDSAP256SHA256 -k example.test >parent.base && ldns-keygen -a ECDSAP256SHA256 -k . >root.base) || fail "ldns-keygen failed"
PKEY="$WORK/keys/$(cat "$WORK/keys/parent.base")"
RKEY="$WORK/keys/$(cat "$WORK/keys/root.base")"
cat >"$WORK/parent/example.test.zone" <<EOF
\$ORIGIN example.test.
\$TTL 300
@       IN SOA ns.example.test. hostmaster.example.test. 2026120401 3600 600 604800 60
@       IN NS  ns.example.test.
ns      IN A   $PARENT
gslb    IN NS  ns1.gslb.example.test.
gslb    IN NS  ns2.gslb.example.test.
ns1.gslb IN A  $NS1
ns2.gslb IN A  $NS2
held    IN NS  ns.held.example.test.
ns.held IN A   $HELD
$GDS
$HDS
EOF
cat "$PKEY.key" >>"$WORK/parent/example.test.zone"
cat >"$WORK/root/root.zone" <<EOF
\$ORIGIN .
\$TTL 3600
.                 IN SOA a.root.test. hostmaster.root.test. 2026120401 1800 900 604800 86400
.                 IN NS  a.root.test.
a.root.test.      IN A   $ROOT_ADDR
example.test.     IN NS  ns.example.test.
ns.example.test.  IN A   $PARENT
$(ldns-key2ds -n -2 "$PKEY.key")
EOF
cat "$RKEY.key" >>"$WORK/root/root.zone"
ldns-signzone -f "$WORK/parent/example.test.zone.signed" "$WORK/parent/example.test.zone" "$PKEY" || fail "ldns-signzone (parent) failed"
ldns-signzone -f "$WORK/root/root.zone.signed" "$WORK/root/root.zone" "$RKEY" || fail "ldns-signzone (root) failed"
ANCHOR=$(ldns-key2ds -n -2 "$RKEY.key")
ok "root and example.test. signed with ldns-signzone; root trust anchor $(awk '{ print $4, $5 }' <<<"$ANCHOR")"

for z in root parent; do
	if [ $z = root ]; then addr=$ROOT_ADDR name=. file=root.zone.signed; else addr=$PARENT name=example.test. file=example.test.zone.signed; fi
	cat >"$WORK/$z/nsd.conf" <<EOF
server:
	ip-address: $addr
	port: 53
	do-ip6: no
	server-count: 1
	username: ""
	zonesdir: "$WORK/$z"
	database: ""
	zonelistfile: "$WORK/$z/zone.list"
	xfrdfile: "$WORK/$z/xfrd.state"
	pidfile: "$WORK/$z/nsd.pid"
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: "$name"
	zonefile: "$file"
EOF
done
printf '.  3600000 NS a.root.test.\na.root.test. 3600000 A %s\n' "$ROOT_ADDR" >"$WORK/root.hints"
printf '%s\n' "$ANCHOR" >"$WORK/root.anchor"

# unbound_conf ADDR DIR: a validating Unbound from the root anchor.
unbound_conf() {
	cat >"$2/unbound.conf" <<EOF
server:
	interface: $1
	outgoing-interface: $1
	port: 53
	do-ip6: no
	num-threads: 1
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$2"
	pidfile: "$2/unbound.pid"
	logfile: ""
	use-syslog: no
	verbosity: 1
	val-log-level: 2
	access-control: 127.0.0.0/8 allow
	access-control: 198.51.100.0/24 allow
	local-zone: "test." nodefault
	module-config: "validator iterator"
	root-hints: "$WORK/root.hints"
	trust-anchor-file: "$WORK/root.anchor"
	prefetch: no
	serve-expired: no
	harden-referral-path: no
	# Unbound accepts a signature up to a tenth of its validity (at least
	# an hour by default) past its expiry: none here, so that expiry shows.
	val-sig-skew-min: 0
	val-sig-skew-max: 0
EOF
	unbound-checkconf "$2/unbound.conf" >/dev/null || fail "unbound-checkconf rejected $2/unbound.conf"
}
unbound_conf "$UNBOUND" "$WORK/unbound"
unbound_conf "$AHEAD" "$WORK/ahead"
cat >"$WORK/bind/named.conf" <<EOF
options {
	directory "$WORK/bind";
	pid-file "$WORK/bind/named.pid";
	listen-on port 53 { $BIND; };
	listen-on-v6 { none; };
	query-source address $BIND;
	recursion yes;
	allow-query { any; };
	dnssec-validation yes;
	qname-minimization off;
};
controls { };
zone "." { type hint; file "$WORK/root.hints"; };
trust-anchors { . initial-ds $(awk '{ print $5, $6, $7, "\"" $8 "\"" }' <<<"$ANCHOR"); };
EOF
named-checkconf "$WORK/bind/named.conf" || fail "named-checkconf rejected named.conf"

cat >"$WORK/kresd/config" <<EOF
net.listen('$KRESD', 53, { kind = 'dns' })
net.ipv6 = false
net.outgoing_v4('$KRESD')
-- The fake root's anchor, not the real root's that the package loads.
trust_anchors.remove('.')
trust_anchors.add('$ANCHOR')
modules.load('hints > iterate')
-- test. is a special-use name (RFC 6761), blocked by default: this run uses it.
policy.add(policy.suffix(policy.PASS, policy.todnames({'test.'})))
hints.root({['a.root.test.'] = '$ROOT_ADDR'})
EOF
ok "configurations: NSD x2, Unbound x2, named, kresd"

step "start the servers"
start nsd-root nsd -d -c "$WORK/root/nsd.conf"
start nsd-parent nsd -d -c "$WORK/parent/nsd.conf"
start gslb-ns1 "$BIN" serve -config "$WORK/ns1/gslb.toml" -id ns1
start gslb-ns2 "$BIN" serve -config "$WORK/ns2/gslb.toml" -id ns2
for a in $ROOT_ADDR $PARENT $NS1 $NS2; do
	wait_until 10 "a server on $a" dig "@$a" +time=1 +tries=1 +norec . SOA
done
start unbound unbound -d -c "$WORK/unbound/unbound.conf"
start unbound-ahead faketime -f "+6m" unbound -d -c "$WORK/ahead/unbound.conf"
start named named -g -c "$WORK/bind/named.conf"
start kresd kresd -n -c "$WORK/kresd/config" "$WORK/kresd"
for a in $UNBOUND $AHEAD $BIND $KRESD; do
	wait_until 20 "a resolver on $a" dig "@$a" +time=1 +tries=1 a.root.test A
done
# Every service answered (its backends probed up) before the resolvers ask.
for s in geo api edge app cdn; do
	for a in $NS1 $NS2; do
		wait_until 10 "$s.$ZONE answered by $a" bash -c "dig @$a +norec +short $s.$ZONE A | grep -q ."
	done
done
ok "NSD (root, parent), gslb ns1 and ns2, Unbound (and one 6 min ahead), named, kresd"

step "validation"
declare -A RESOLVERS=([unbound]=$UNBOUND [bind]=$BIND [kresd]=$KRESD)
for r in unbound bind kresd; do
	s=${RESOLVERS[$r]}
	ask "$s" "www.$ZONE" A
	[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" && grep -q $'IN\tA\t192.0.2.1[01]' <<<"$OUT" || bad "$r: www A not validated"
	ask "$s" "www.$ZONE" AAAA
	[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" && grep -q 'ANSWER: 0,' <<<"$OUT" || bad "$r: NODATA (www AAAA) not validated"
	ask "$s" "nope.$ZONE" A
	st=$(status_of "$OUT")
	{ [ "$st" = NOERROR ] || [ "$st" = NXDOMAIN ]; } && has_ad "$OUT" || bad "$r: compact denial of nope not validated"
	nx=$st
	ask "$s" "x$RANDOM.wild.$ZONE" A
	[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" && grep -q '192.0.2.99' <<<"$OUT" || bad "$r: wildcard answer not validated"
	ask "$s" "alias.$ZONE" A
	[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" && grep -q $'IN\tCNAME' <<<"$OUT" || bad "$r: CNAME answer not validated"
	ask "$s" "$ZONE" DNSKEY
	has_ad "$OUT" && grep -q $'IN\tDNSKEY\t257 3 13' <<<"$OUT" || bad "$r: DNSKEY not validated"
	# The CDS asks for the DS the parent has (cds = "keys").
	ask "$s" "$ZONE" CDS
	has_ad "$OUT" && [ "$(awk '$4 == "CDS" { print $5, $6, $7, toupper($8 $9) }' <<<"$OUT")" = "$(awk '{ print $5, $6, $7, toupper($8 $9) }' <<<"$GDS")" ] ||
		bad "$r: CDS not validated, or not the parent's DS ($GDS)"
	ok "$r: ad on www A, NODATA, a missing name ($nx to the client), a wildcard, a CNAME, the DNSKEY RRset, the CDS (the parent's DS)"
	for q in "geo A" "geo AAAA" "api A" "edge A" "app A" "cdn A"; do
		# shellcheck disable=SC2086 # name and type
		ask "$s" ${q% *}.$ZONE ${q#* }
		[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" && grep -q $'IN\t'"${q#* }"$'\t' <<<"$OUT" || bad "$r: ${q% *}.$ZONE ${q#* } not validated"
	done
	ok "$r: ad on the answers of a service of each policy: geo (A and AAAA), failover + weighted, nearest + roundrobin, sticky, least_load"
done

step "dnsviz and zonemaster-cli"
# dnsviz 0.9.4 (Debian 12) reads pygraphviz.release.version, which
# pygraphviz 1.10 no longer has: a shim gives it one.
mkdir -p "$WORK/pyshim"
cat >"$WORK/pyshim/sitecustomize.py" <<'PY'
import sys, types
try:
    import pygraphviz
    m = types.ModuleType("pygraphviz.release")
    m.version = pygraphviz.__version__
    sys.modules["pygraphviz.release"] = m
    pygraphviz.release = m
except ImportError:
    pass
PY
"$BIN" dnssec ds -config "$WORK/ns1/gslb.toml" "$ZONE" | awk '$4 == "DNSKEY"' >"$WORK/trusted-key"
names="$ZONE www.$ZONE nope.$ZONE x.wild.$ZONE alias.$ZONE"
# shellcheck disable=SC2086 # a list of names
dnsviz probe -A -a "$ZONE" -N "$ZONE:ns1.$ZONE=$NS1,ns2.$ZONE=$NS2" -D "$ZONE:$(awk '{ print $5, $6, $7, $8 }' <<<"$GDS")" $names \
	>"$WORK/dnsviz-probe.json" 2>"$WORK/logs/dnsviz.log" || fail "dnsviz probe failed"
PYTHONPATH="$WORK/pyshim" dnsviz grok -t "$WORK/trusted-key" <"$WORK/dnsviz-probe.json" >"$WORK/dnsviz-grok.json" 2>>"$WORK/logs/dnsviz.log" ||
	fail "dnsviz grok failed"
if grep -q '"errors"\|"warnings"' "$WORK/dnsviz-grok.json"; then
	grep -o '"description": "[^"]*"' "$WORK/dnsviz-grok.json" | sort | uniq -c >&2
	fail "dnsviz grok reports errors or warnings"
fi
secure=$(grep -c '"status": "SECURE"' "$WORK/dnsviz-grok.json" || true)
bogus=$(grep -c '"status": "BOGUS"' "$WORK/dnsviz-grok.json" || true)
[ "$secure" -gt 0 ] && [ "$bogus" -eq 0 ] || fail "dnsviz grok: $secure SECURE, $bogus BOGUS"
ok "dnsviz probe + grok ($names): no error or warning; $secure SECURE, 0 BOGUS"
printf '.  3600000 NS a.root.test.\na.root.test. 3600000 A %s\n' "$ROOT_ADDR" >"$WORK/zm.hints"
zm="$WORK/logs/zonemaster.txt"
rc=0
timeout 150 zonemaster-cli --hints "$WORK/zm.hints" --no-ipv6 --no-progress --level INFO --show-testcase --raw --count "$ZONE" >"$zm" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$zm" >&2; fail "zonemaster-cli exited with status $rc"; }
awk '$2 ~ /^(CRITICAL|ERROR|WARNING|NOTICE)$/ { print "      " $2 " " $3 " " $4 }' "$zm" | sort | uniq -c | sed 's/^/   /'
grep -q 'DNSSEC' "$zm" || fail "zonemaster-cli ran no DNSSEC test case"
info "zonemaster-cli's DNSSEC messages:"
awk '$3 ~ /^DNSSEC/ { print "      " $2 " " $3 " " $4 }' "$zm" | sort | uniq -c | sed 's/^/   /'
zbad=$(awk '$2 ~ /^(CRITICAL|ERROR)$/ && $3 != "ADDRESS01"' "$zm")
[ -z "$zbad" ] || { echo "$zbad" >&2; fail "zonemaster-cli reports ERROR or CRITICAL messages other than ADDRESS01 (above)"; }
ok "zonemaster-cli: no ERROR except ADDRESS01 (documentation addresses), DNSSEC test cases run"

step "signatures renewed in real time (validity $VALIDITY: a new window every 100 s)"
# The same key, signatures valid $VALIDITY (the TTLs must fit in two thirds
# of it: the DNSKEY's is lowered to 60 s).
cp "$WORK/gslb/zones/$ZONE.toml" "$WORK/default.toml"
printf 'signature_validity = "%s"\ndnskey_ttl = 60\n' "$VALIDITY" >>"$WORK/gslb/zones/$ZONE.toml"
"$BIN" check -config "$WORK/ns1/gslb.toml" >/dev/null || fail "gslb check rejected signature_validity = $VALIDITY"
for n in 1 2; do
	stop "gslb-ns$n"
	a=NS$n
	start "gslb-ns$n" "$BIN" serve -config "$WORK/ns$n/gslb.toml" -id "ns$n"
	wait_until 10 "gslb ns$n again" dig "@${!a}" +time=1 +tries=1 +norec "$ZONE" SOA
done
# The held server's signing clock is held at HELD_AT, so that its
# signatures expire at HELD_EXPIRES, the next window boundary (a multiple
# of 100 s, at least 15 s away): when the live servers' window moves on
# (or, once in seven runs, the boundary after).
HELD_EXPIRES=$((($(date +%s) + 15) / 100 * 100 + 100))
HELD_AT=$((HELD_EXPIRES - 250))
start gslb-held env GSLB_HELD_CLOCK="$HELD_AT" "$HBIN" serve -config "$WORK/held/gslb.toml" -id held
wait_until 10 "gslb with its clock held" dig "@$HELD" +time=1 +tries=1 +norec "$HZONE" SOA
for r in unbound bind kresd; do
	ask "${RESOLVERS[$r]}" "h$RANDOM.w.$HZONE" A
	[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" || bad "$r: the held server's answer not validated before its signatures expire"
done
ok "unbound, bind, kresd: ad on the answers of the server whose clock is held, $((HELD_EXPIRES - $(date +%s))) s before its signatures expire"
first=$(dig "@$NS1" +dnssec +norec +time=2 "www.$ZONE" A | awk '$4 == "RRSIG" { print $9; exit }')
drops=0 n=0
end=$(($(now_us) + 105 * 1000000))
while [ "$(now_us)" -lt "$end" ]; do
	ask "$UNBOUND" "r$n.wild.$ZONE" A
	has_ad "$OUT" || drops=$((drops + 1))
	if [ "$(date +%s)" -lt "$HELD_EXPIRES" ]; then
		ask "$UNBOUND" "r$n.w.$HZONE" A
		has_ad "$OUT" || bad "unbound: the held server's answer lost ad before its signatures expired"
	fi
	n=$((n + 1))
	now=$(dig "@$NS1" +dnssec +norec +time=2 "www.$ZONE" A | awk '$4 == "RRSIG" { print $9; exit }')
	[ "$now" = "$first" ] || break
	sleep 1
done
[ "$now" != "$first" ] || fail "the signatures' expiration did not move in 105 s (still $first)"
[ "$drops" -eq 0 ] || fail "$drops of $n answers through Unbound lost ad while the signatures were renewed"
ask "$UNBOUND" "www.$ZONE" A
has_ad "$OUT" || bad "unbound: www A not validated after the renewal"
ok "expiration moved from $first to $now; $n fresh answers through Unbound meanwhile, all with ad"

step "a validator whose clock is past the expiry"
ask "$AHEAD" "www.$ZONE" A
[ "$(status_of "$OUT")" = SERVFAIL ] || bad "Unbound 6 min ahead: want SERVFAIL for signatures that expired"
ask "$AHEAD" "ns.example.test" A
[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" || bad "Unbound 6 min ahead: the parent (signed for weeks) should still validate"
ok "Unbound 6 min ahead: SERVFAIL for gslb's answers (signatures valid $VALIDITY), ad for the parent's"

step "a server stopped from re-signing (its clock held): SERVFAIL once its signatures expire"
ask "$HELD" +norec "s.w.$HZONE" A
hexp=$(awk '$4 == "RRSIG" { print $9; exit }' <<<"$OUT")
[ "$hexp" = "$(date -u -d "@$HELD_EXPIRES" +%Y%m%d%H%M%S)" ] || bad "the held server's signatures expire at $hexp, want $(date -u -d "@$HELD_EXPIRES" +%Y%m%d%H%M%S)"
while [ "$(date +%s)" -le "$HELD_EXPIRES" ]; do sleep 0.2; done
for r in unbound bind kresd; do
	s=${RESOLVERS[$r]}
	ask "$s" "h$RANDOM.w.$HZONE" A
	[ "$(status_of "$OUT")" = SERVFAIL ] || bad "$r: the held server's expired signatures were accepted"
	ask "$s" "l$RANDOM.wild.$ZONE" A
	[ "$(status_of "$OUT")" = NOERROR ] && has_ad "$OUT" || bad "$r: the live servers' answer not validated"
done
ok "unbound, bind, kresd: SERVFAIL for the held server's answers once its signatures expired ($hexp), ad for the live servers'"

step "a proxy flipping a bit of the addresses in the answers"
for n in 1 2; do
	stop "gslb-ns$n"
	a=NS$n b=BEHIND$n
	sed "s/${!a}/${!b}/g" "$WORK/ns$n/gslb.toml" >"$WORK/ns$n/behind.toml"
	start "gslb-behind$n" "$BIN" serve -config "$WORK/ns$n/behind.toml" -id "ns$n"
	wait_until 10 "gslb ns$n on ${!b}" dig "@${!b}" +time=1 +tries=1 +norec "$ZONE" SOA
	start "flip$n" /usr/bin/python3 .ci/dnsflip.py "${!a}" "${!b}" "$WORK/flip$n.count"
	wait_until 10 "the proxy on ${!a}" dig "@${!a}" +time=1 +tries=1 +norec "$ZONE" SOA
done
ask "$NS1" +norec "p.wild.$ZONE" A
grep -q $'IN\tA\t192.0.2.98' <<<"$OUT" || bad "the proxy did not change the address (192.0.2.99 to .98)"
for r in unbound bind kresd; do
	s=${RESOLVERS[$r]}
	ask "$s" "t$RANDOM.wild.$ZONE" A
	[ "$(status_of "$OUT")" = SERVFAIL ] || bad "$r: an answer changed on the way was not rejected"
done
flipped=$(($(cat "$WORK/flip1.count") + $(cat "$WORK/flip2.count")))
for n in 1 2; do stop "flip$n"; stop "gslb-behind$n"; done
ok "unbound, bind, kresd: SERVFAIL for answers whose address the proxy changed ($flipped replies changed)"

step "a key the DS does not name"
mkdir -p "$WORK/wrong/zones"
"$BIN" dnssec keygen -dir "$WORK/wrong/zones" "$ZONE" >"$WORK/logs/keygen-wrong.log" || fail "keygen failed"
WKEY=$(sed -n 's/^key = "\(.*\)"$/\1/p' "$WORK/logs/keygen-wrong.log")
sed "s|^key = .*|key = \"$WKEY\"|" "$WORK/gslb/zones/$ZONE.toml" >"$WORK/wrong/zones/$ZONE.toml"
for n in 1 2; do
	stop "gslb-ns$n"
	sed "s|$WORK/gslb/zones|$WORK/wrong/zones|" "$WORK/ns$n/gslb.toml" >"$WORK/ns$n/wrong.toml"
	a=NS$n
	start "gslb-wrong$n" "$BIN" serve -config "$WORK/ns$n/wrong.toml" -id "ns$n"
	wait_until 10 "gslb ns$n with the wrong key" dig "@${!a}" +time=1 +tries=1 +norec "$ZONE" SOA
done
for r in unbound bind kresd; do
	s=${RESOLVERS[$r]}
	ask "$s" "w$RANDOM.wild.$ZONE" A
	[ "$(status_of "$OUT")" = SERVFAIL ] || bad "$r: answers signed with a key the DS does not name were not rejected"
done
ok "unbound, bind, kresd: SERVFAIL for answers signed with a key the parent's DS does not name"

echo
echo "dnssec: all $PASSED checks passed in $(elapsed)s"
