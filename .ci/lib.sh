# Helpers shared by the end-to-end scripts that run real servers
# (.ci/realworld.sh, .ci/dnssec.sh): sourced, not run. The sourcing script
# defines fail MESSAGE (print, show logs, exit 1) and WORK (its directory,
# with logs/), and calls stop_all from its cleanup.
# shellcheck shell=bash

T0=${EPOCHREALTIME/./}
PASSED=0
PIDS=()
NAMES=()

# now_us: microseconds since the epoch.
now_us() { echo "${EPOCHREALTIME/./}"; }
# secs US: microseconds as seconds with two decimals.
secs() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1e6 }'; }
# elapsed: seconds since the script started.
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

# start NAME CMD...: run CMD in the background in its own session, output
# to logs/NAME.log, and remember its pid for stop and stop_all.
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

# stop NAME: KILL a process started with start (and its group), reap it,
# and forget it; nothing if there is none of that name. Reaping here keeps
# bash from printing a "Killed" report.
stop() {
	local i
	for i in "${!NAMES[@]}"; do
		if [ "${NAMES[$i]}" = "$1" ]; then
			{
				kill -KILL -- "-${PIDS[$i]}"
				wait "${PIDS[$i]}"
			} 2>/dev/null || true
			unset 'PIDS[i]' 'NAMES[i]'
			return 0
		fi
	done
}

# stop_all: TERM every process started with start (each is a process
# group: servers' children too), give them 3 s, then KILL what is left.
stop_all() {
	local i pid
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

# status_of OUT: the rcode in dig's header.
status_of() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$1" | head -n1; }
# flags_of OUT: dig's flags line.
flags_of() { sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' <<<"$1" | head -n1; }
