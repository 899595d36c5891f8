package main

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
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

// The collector's target (GOGC) that serve sets from the live heap after
// every load: gcPercentMax while the live heap is small, so that the few
// small objects the query path allocates cost few collections, but never
// more than gcHeadroom of garbage on top of the live heap once it is
// large, down to Go's default of 100 (the heap at most twice the live
// one). docs/performance.md gives the measurements behind the figures.
const (
	gcPercentMax = 400
	gcPercentMin = 100
	gcHeadroom   = 64 << 20
)

// gcPercentFor is the GOGC for a live heap of live bytes: 400 up to
// 16 MiB, then 64 MiB of headroom, 100 from 64 MiB on.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcPercentMax
	}
	return int(max(gcPercentMin, min(gcPercentMax, 100*gcHeadroom/live)))
}

// gcTuner settles memory after a load: a collection that also returns
// the freed pages to the system (a load's garbage and the replaced
// snapshot are most of the heap then), and a GOGC fitted to the new live
// heap unless GOGC in the environment fixes it.
type gcTuner struct {
	log   *slog.Logger
	fixed bool // GOGC set in the environment
}

// settle collects, returns memory to the system and fits GOGC; it returns
// the live heap and the GOGC in effect.
func (t *gcTuner) settle() (live uint64, gogc int) {
	debug.FreeOSMemory()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		live = sample[0].Value.Uint64()
	}
	if t.fixed {
		return live, gcPercent()
	}
	gogc = gcPercentFor(live)
	debug.SetGCPercent(gogc)
	return live, gogc
}

// settleSoon settles after delay, in the background: long enough after a
// snapshot swap for every UDP reader to have let the old snapshot go (an
// idle one does at its receive timeout, 200 ms).
func (t *gcTuner) settleSoon(delay time.Duration) {
	time.AfterFunc(delay, func() {
		live, gogc := t.settle()
		t.log.Debug("memory settled after a reload", "live_heap_mib", live>>20, "gogc", gogc)
	})
}
