package cluster

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
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

// TestSteeringVolume measures what the coordinator sends for 10,000
// steered backends at one tick a second: every weight every tick (a
// frame stands alone, so nothing is saved when weights hold still).
func TestSteeringVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement")
	}
	const backends = 10000
	f := fleetWith(t, 3, testKey, DefaultHeartbeat, io.Discard)
	a := f[0]
	waitFor(t, "a to be the coordinator", func() bool {
		return a.Coordinator() == "a" && f[1].Coordinator() == "a" && f[2].Coordinator() == "a"
	})
	weights := make([]zones.FleetWeight, backends)
	for i := range weights {
		weights[i] = zones.FleetWeight{ID: fmt.Sprintf("svc%d.example.test/b%d", i/10, i%10), Multiplier: 1, Share: 0.1}
	}
	sent := func() float64 { return testutil.ToFloat64(a.metrics.bytes.WithLabelValues("steering", "sent")) }
	before := sent()
	const ticks = 5
	start := time.Now()
	for i := range ticks {
		a.PublishSteering(start.Add(time.Duration(i)*time.Second), weights)
	}
	perTick := (sent() - before) / ticks
	waitFor(t, "b to have the last weight", func() bool { _, ok := f[1].FleetWeight(weights[backends-1].ID); return ok })
	fmt.Printf("steering of %d backends, one tick a second: %.0f bytes/s sent by the coordinator to its 2 peers, %.0f per peer (%.1f bytes a backend)\n", backends, perTick, perTick/2, perTick/2/backends)
	if perTick/2/backends > 20 {
		t.Errorf("%.1f bytes a backend a tick per peer, want at most 20", perTick/2/backends)
	}
}
