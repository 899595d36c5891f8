#!/usr/bin/env bash
# scale.sh: how gslb's load time and memory grow with the size of a zone,
# beside NSD and Knot DNS serving the same records (issue 18). Run by hand:
#
#   bash .ci/scale.sh                    # 10k, 100k and 1M records
#   SIZES="10000 100000" bash .ci/scale.sh
#   SERVICES="" bash .ci/scale.sh        # skip the services configurations
#   SIZES="" bash .ci/scale.sh           # services only
#
# gslb is built from the working tree (the table's first line says which
# commit, and whether files were uncommitted). It needs go, dig, GNU time (/usr/bin/time), nsd and nsd-checkzone,
# knotd and kzonecheck. Everything goes to $SCALE_DIR (default
# /tmp/scale); progress goes to stderr, the markdown table to stdout (and
# to $SCALE_DIR/table.md). Each figure is measured once: on a shared
# machine, read them as orders of magnitude. docs/scale.md says what each
# column is.
#
# Env: SIZES (records per zone), SERVICES (COUNT:BACKENDS pairs for gslb
# alone), RELOADS (gslb reloads per run, default 10; cut to 3 when ten
# would take more than RELOAD_BUDGET seconds, default 300), ports
# GSLB_DNS_PORT, GSLB_HTTP_PORT, NSD_PORT, KNOT_PORT (loopback only).
set -euo pipefail

SIZES=${SIZES-"10000 100000 1000000"}
SERVICES=${SERVICES-"10000:10 100000:10"}
RELOADS=${RELOADS:-10}
RELOAD_BUDGET=${RELOAD_BUDGET:-300}
RELOAD_GAP=${RELOAD_GAP:-1.5}
W=${SCALE_DIR:-/tmp/scale}
GSLB_DNS_PORT=${GSLB_DNS_PORT:-18053}
GSLB_HTTP_PORT=${GSLB_HTTP_PORT:-19153}
NSD_PORT=${NSD_PORT:-18054}
KNOT_PORT=${KNOT_PORT:-18055}
START_TIMEOUT=${START_TIMEOUT:-600}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$W"

log() { printf '%s scale: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

for tool in go dig /usr/bin/time nsd nsd-checkzone knotd kzonecheck; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# Every server started, killed on exit.
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT

stop() { # PID: stop one server and wait for it
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# descendants PID: PID and every process under it.
descendants() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1" || true); do
		descendants "$c"
	done
}

# procsum FIELD FILE PID: the kB value of FIELD in /proc/P/FILE, summed
# over PID and its descendants.
procsum() {
	local p sum=0 v
	for p in $(descendants "$3"); do
		v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/$2" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# rss PID: VmRSS of PID and its descendants, summed, in KiB.
rss() { procsum VmRSS status "$1"; }

# pss PID: proportional set size of PID and its descendants, in KiB: pages
# shared between them (NSD's forked children) counted once.
pss() { procsum Pss smaps_rollup "$1"; }

# timed LOG CMD...: runs CMD, output to LOG; prints "seconds maxrss_kib".
timed() {
	local out=$1
	shift
	if ! /usr/bin/time -f '%e %M' -o "$out.time" "$@" >"$out" 2>&1; then
		cat "$out" >&2
		die "$* failed"
	fi
	cat "$out.time"
}

# wait_answer PID PORT NAME: polls until the server on PORT answers NAME
# (an A record), or dies, or START_TIMEOUT passes.
wait_answer() {
	local pid=$1 port=$2 name=$3 deadline
	deadline=$(($(date +%s) + START_TIMEOUT))
	while :; do
		if [ -n "$(dig @127.0.0.1 -p "$port" "$name" A +tries=1 +time=1 +short 2>/dev/null | grep -E '^[0-9.]+$' || true)" ]; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || die "server $pid exited before answering"
		[ "$(date +%s)" -lt "$deadline" ] || die "no answer on port $port in ${START_TIMEOUT}s"
		sleep 0.05
	done
}

port_free() {
	if dig @127.0.0.1 -p "$1" . SOA +tries=1 +time=1 >/dev/null 2>&1; then
		die "something already answers on 127.0.0.1:$1"
	fi
}

# reloads_done LOG: how many reloads gslb has finished, from its debug
# log (the files are unchanged, so each logs "configuration unchanged").
# The log, not /metrics: with many backends, scraping /metrics every
# 50 ms would itself slow the reload down.
reloads_done() {
	grep -c -E 'msg="configuration (unchanged|reloaded)' "$1" || true
}

# settled LOG: how many times gslb has settled its memory (a collection
# that returns freed pages to the system): once at start (the "go
# runtime" line), then after each load. RSS is read after it.
settled() {
	grep -c -E 'msg="(go runtime|memory settled after a reload)"' "$1" || true
}

# wait_settled LOG N: until gslb has settled N times (at most 60 s).
wait_settled() {
	local i
	for ((i = 0; i < 1200; i++)); do
		[ "$(settled "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	log "gslb did not settle its memory $2 times within 60 s"
}

# One row per (server, size): server|size|check s|check MiB|start s|RSS|PSS|reload s|RSS 1|RSS 10|note
rows=()
row() { rows+=("$(printf '%s|' "$@")"); }

build() {
	log "building gslb and scalegen"
	(cd "$repo" && go build -o "$W/gslb" ./cmd/gslb && go build -o "$W/scalegen" ./.ci/scalegen)
}

# measure_gslb LABEL SIZE DIR NAME: gslb check, serve, reloads.
measure_gslb() {
	local label=$1 size=$2 dir=$3 name=$4 c cs cm t0 t1 pid start r0 rt rss0 pss0 rss1 rssn n k tr0 first note="" total=0
	log "$label $size: gslb check"
	rm -rf "$dir/state"
	mkdir -p "$dir/state"
	c=$(timed "$dir/check.log" "$W/gslb" check -config "$dir/gslb.toml" -state-dir "$dir/state")
	read -r cs cm <<<"$c"
	grep -q ': ok' "$dir/check.log" || die "gslb check: $(cat "$dir/check.log")"
	log "$label $size: gslb check ${cs}s $(mib "$cm") MiB; gslb serve"
	port_free "$GSLB_DNS_PORT"
	t0=$(now)
	"$W/gslb" serve -config "$dir/gslb.toml" -state-dir "$dir/state" -log-level debug >"$dir/serve.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_answer "$pid" "$GSLB_DNS_PORT" "$name"
	t1=$(now)
	start=$(elapsed "$t0" "$t1")
	wait_settled "$dir/serve.log" 1
	rss0=$(rss "$pid")
	pss0=$(pss "$pid")
	log "$label $size: gslb up in ${start}s, RSS $(mib "$rss0") MiB; reloading"
	n=$RELOADS
	for ((k = 1; k <= n; k++)); do
		r0=$(reloads_done "$dir/serve.log")
		tr0=$(now)
		kill -HUP "$pid"
		while [ "$(reloads_done "$dir/serve.log")" = "$r0" ]; do
			kill -0 "$pid" 2>/dev/null || die "gslb exited during reload $k"
			! grep -q 'reload failed' "$dir/serve.log" || die "gslb reload $k failed: $(grep 'reload' "$dir/serve.log")"
			sleep 0.05
		done
		rt=$(elapsed "$tr0" "$(now)")
		total=$(awk -v a="$total" -v b="$rt" 'BEGIN { print a + b }')
		wait_settled "$dir/serve.log" $((k + 1))
		if [ "$k" = 1 ]; then
			first=$rt
			rss1=$(rss "$pid")
			if [ "$n" -gt 3 ] && awk -v t="$rt" -v n="$n" -v b="$RELOAD_BUDGET" 'BEGIN { exit !(t * n > b) }'; then
				n=3
				note="3 reloads, not $RELOADS: ${rt}s each"
			fi
		fi
		log "$label $size: reload $k in ${rt}s"
		# gslb merges the SIGHUPs of a burst: one within reload_settle
		# (default 1 s) of the end of the last reload would wait for the
		# burst to end. Each reload here stands alone.
		sleep "$RELOAD_GAP"
	done
	rssn=$(rss "$pid")
	log "$label $size: RSS $(mib "$rss1") MiB after 1 reload, $(mib "$rssn") MiB after $n"
	[ -n "$note" ] || note="$n reloads"
	note="$note, mean $(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.2f", t / n }')s"
	stop "$pid"
	row "gslb $label" "$size" "$cs" "$(mib "$cm")" "$start" "$(mib "$rss0")" "$(mib "$pss0")" "$first" "$(mib "$rss1")" "$(mib "$rssn")" "$note"
	if [ "$label" = zone ]; then
		eval "G_check_$size=$cs G_rss_$size=$rss0 G_start_$size=$start G_cm_$size=$cm"
	fi
}

measure_nsd() {
	local size=$1 dir=$2 c cs cm t0 t1 pid start rss0 pss0 nproc
	log "zone $size: nsd-checkzone"
	c=$(timed "$dir/nsd-checkzone.log" nsd-checkzone scale.test. "$dir/scale.test.zone")
	read -r cs cm <<<"$c"
	mkdir -p "$dir/nsd"
	cat >"$dir/nsd/nsd.conf" <<EOF
server:
	ip-address: 127.0.0.1
	port: $NSD_PORT
	do-ip6: no
	server-count: 1
	username: ""
	chroot: ""
	zonesdir: "$dir"
	database: ""
	zonelistfile: "$dir/nsd/zone.list"
	xfrdfile: "$dir/nsd/xfrd.state"
	pidfile: "$dir/nsd/nsd.pid"
	logfile: "$dir/nsd/nsd.log"
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: "scale.test."
	zonefile: "$dir/scale.test.zone"
EOF
	rm -f "$dir/nsd/zone.list" "$dir/nsd/xfrd.state"
	port_free "$NSD_PORT"
	log "zone $size: nsd-checkzone ${cs}s $(mib "$cm") MiB; nsd"
	t0=$(now)
	nsd -d -c "$dir/nsd/nsd.conf" >"$dir/nsd/stderr.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_answer "$pid" "$NSD_PORT" h0.scale.test.
	t1=$(now)
	start=$(elapsed "$t0" "$t1")
	sleep 1
	rss0=$(rss "$pid")
	pss0=$(pss "$pid")
	nproc=$(descendants "$pid" | wc -l)
	stop "$pid"
	row "NSD" "$size" "$cs" "$(mib "$cm")" "$start" "$(mib "$rss0")" "$(mib "$pss0")" "" "" "" "nsd-checkzone; RSS: sum of $nproc processes"
	eval "N_check_$size=$cs N_rss_$size=$rss0 N_pss_$size=$pss0 N_start_$size=$start N_cm_$size=$cm"
}

measure_knot() {
	local size=$1 dir=$2 c cs cm t0 t1 pid start rss0 pss0 k=$2/knot
	log "zone $size: kzonecheck"
	c=$(timed "$dir/kzonecheck.log" kzonecheck -o scale.test. "$dir/scale.test.zone")
	read -r cs cm <<<"$c"
	rm -rf "$k"
	mkdir -p "$k/db"
	cat >"$k/knot.conf" <<EOF
server:
    rundir: "$k"
    pidfile: "$k/knot.pid"
    listen: 127.0.0.1@$KNOT_PORT
control:
    listen: "$k/knot.sock"
database:
    storage: "$k/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$dir"
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: scale.test.
    file: "$dir/scale.test.zone"
EOF
	port_free "$KNOT_PORT"
	log "zone $size: kzonecheck ${cs}s $(mib "$cm") MiB; knotd"
	t0=$(now)
	knotd -c "$k/knot.conf" >"$k/stderr.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_answer "$pid" "$KNOT_PORT" h0.scale.test.
	t1=$(now)
	start=$(elapsed "$t0" "$t1")
	sleep 1
	rss0=$(rss "$pid")
	pss0=$(pss "$pid")
	stop "$pid"
	row "Knot" "$size" "$cs" "$(mib "$cm")" "$start" "$(mib "$rss0")" "$(mib "$pss0")" "" "" "" "kzonecheck"
	eval "K_check_$size=$cs K_rss_$size=$rss0 K_start_$size=$start"
}

build
for size in $SIZES; do
	dir=$W/zone-$size
	rm -rf "$dir"
	log "zone $size: generating"
	"$W/scalegen" -kind zone -n "$size" -out "$dir" -dns "127.0.0.1:$GSLB_DNS_PORT" -http "127.0.0.1:$GSLB_HTTP_PORT"
	measure_gslb zone "$size" "$dir" h0.scale.test.
	measure_nsd "$size" "$dir"
	measure_knot "$size" "$dir"
done
for spec in $SERVICES; do
	count=${spec%%:*}
	backends=${spec##*:}
	dir=$W/services-$count-$backends
	rm -rf "$dir"
	log "services $count×$backends: generating"
	"$W/scalegen" -kind services -n "$count" -backends "$backends" -out "$dir" -dns "127.0.0.1:$GSLB_DNS_PORT" -http "127.0.0.1:$GSLB_HTTP_PORT"
	measure_gslb "services ×$backends" "$count" "$dir" s0.svc.test.
done

# get VAR: the value of the variable named VAR, empty if unset.
get() { eval "printf '%s' \"\${$1-}\""; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else printf "–" }'; }

{
	if rev=$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null); then
		dirty=$(cd "$repo" && git status --porcelain --untracked-files=no -- cmd dnsserver zones geo health internal go.mod go.sum | wc -l)
		[ "$dirty" = 0 ] || rev="$rev with $dirty uncommitted file(s)"
	else
		rev="(not a git checkout)"
	fi
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); gslb $("$W/gslb" version | cut -d' ' -f2-) at $rev; $(nsd -v 2>&1 | head -1); $(knotd -V)"
	echo
	echo "| server | records | check s | check max RSS MiB | start to first answer s | RSS after start MiB | PSS MiB | reload s | RSS after 1 reload MiB | RSS after reloads MiB | note |"
	echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
	for r in "${rows[@]}"; do
		echo "| ${r//|/ | }" | sed 's/ | $/ |/'
	done
	echo
	prev=""
	for size in $SIZES; do
		if [ -n "$prev" ]; then
			for s in G:gslb N:NSD K:Knot; do
				p=${s%%:*}
				printf -- "- %s %s → %s records: check time %s, start time %s, RSS %s\n" "${s##*:}" "$prev" "$size" \
					"$(ratio "$(get "${p}_check_$size")" "$(get "${p}_check_$prev")")" \
					"$(ratio "$(get "${p}_start_$size")" "$(get "${p}_start_$prev")")" \
					"$(ratio "$(get "${p}_rss_$size")" "$(get "${p}_rss_$prev")")"
			done
		fi
		prev=$size
	done
	last=$prev
	if [ -n "$last" ]; then
		printf -- "- gslb / NSD at %s records: check time %s, start time %s, RSS %s (against NSD's PSS %s), check max RSS %s\n" "$last" \
			"$(ratio "$(get "G_check_$last")" "$(get "N_check_$last")")" \
			"$(ratio "$(get "G_start_$last")" "$(get "N_start_$last")")" \
			"$(ratio "$(get "G_rss_$last")" "$(get "N_rss_$last")")" \
			"$(ratio "$(get "G_rss_$last")" "$(get "N_pss_$last")")" \
			"$(ratio "$(get "G_cm_$last")" "$(get "N_cm_$last")")"
		printf -- "- gslb / Knot at %s records: check time %s, start time %s, RSS %s\n" "$last" \
			"$(ratio "$(get "G_check_$last")" "$(get "K_check_$last")")" \
			"$(ratio "$(get "G_start_$last")" "$(get "K_start_$last")")" \
			"$(ratio "$(get "G_rss_$last")" "$(get "K_rss_$last")")"
	fi
} | tee "$W/table.md"
