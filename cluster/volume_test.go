package cluster

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gslb/gslb/health"
)

// TestGossipVolume measures what one member sends to the others (gslb's
// own messages, before encryption) for 10,000 checks probed every
// second: once they have all been sent, when nothing changes, and when
// 1 % and 10 % of them flip every second. Printed, and bounded where
// nothing changes.
func TestGossipVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement")
	}
	const checks = 10000
	f := fleetWith(t, 3, testKey, DefaultHeartbeat, io.Discard)
	a := f[0]
	specs := make([]health.Spec, checks)
	for i := range specs {
		specs[i] = health.Spec{Kind: health.KindTCP, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 80), Interval: time.Second}
	}
	state := make([]bool, checks)
	sent := func() float64 {
		total := 0.0
		for _, kind := range []string{"votes", "full votes", "admin"} {
			total += testutil.ToFloat64(a.metrics.bytes.WithLabelValues(kind, "sent"))
		}
		return total
	}
	round := func(flip int) {
		now := time.Now()
		for i := range specs {
			if i < flip {
				state[i] = !state[i]
			}
			a.Vote(specs[i], state[i], now)
		}
	}
	round(0) // every vote is new: the first frames carry them all
	waitFor(t, "b to have every vote", func() bool {
		return len(f[1].VotesOf(specs[checks-1])) == 1 && len(f[2].VotesOf(specs[checks-1])) == 1
	})
	fmt.Printf("| changes per second | bytes/s sent by one member to its 2 peers | per peer |\n|---|---|---|\n")
	for _, flip := range []int{0, checks / 100, checks / 10} {
		time.Sleep(1100 * time.Millisecond) // past a heartbeat
		before := sent()
		start := time.Now()
		for range 5 {
			round(flip)
			time.Sleep(time.Second)
		}
		rate := (sent() - before) / time.Since(start).Seconds()
		fmt.Printf("| %d | %.0f | %.0f |\n", flip, rate, rate/2)
		if flip == 0 && rate/2 > 1024 {
			t.Errorf("%.0f bytes/s per peer with nothing changing, want under 1 KB/s", rate/2)
		}
	}
}
