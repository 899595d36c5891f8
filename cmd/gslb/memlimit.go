package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles are where Linux tells a process its memory limit:
// cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// memoryLimit is the soft memory limit serve gives the Go runtime, and
// where it comes from: GOMEMLIMIT in the environment (the runtime reads
// it itself: 0 here), [limits] memory_limit_mib, else 90 % of the
// container's (cgroup) limit, else none. With a limit the collector runs
// harder as the heap nears it, instead of letting the high GOGC serve sets
// for speed grow the process until the kernel kills it.
func memoryLimit(configMiB int, getenv func(string) string, readFile func(string) ([]byte, error)) (limit int64, source string) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, "GOMEMLIMIT " + getenv("GOMEMLIMIT")
	}
	if configMiB > 0 {
		return int64(configMiB) << 20, fmt.Sprintf("[limits] memory_limit_mib = %d", configMiB)
	}
	for _, f := range cgroupMemoryFiles {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(s, 10, 64)
		if s == "max" || err != nil || n <= 0 || n >= math.MaxInt64/2 {
			// No limit (v1 writes a huge number for none).
			return 0, "none (no cgroup memory limit)"
		}
		return n / 10 * 9, fmt.Sprintf("90%% of the cgroup limit %d MiB (%s)", n>>20, f)
	}
	return 0, "none"
}

// gcPercent is the collector's GOGC setting in effect (reading it means
// setting it; it is set straight back).
func gcPercent() int {
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	return old
}

// readSmall reads a small system file.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 64)
	n, err := f.Read(b)
	if n == 0 {
		return nil, err
	}
	return b[:n], nil
}
