package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

// TestSteeringFollowsCoordinator: the member with the lowest name steers;
// the others answer with its weights (several packets of them), a member
// serving another configuration steers alone, and when the coordinator
// leaves the next one takes over.
func TestSteeringFollowsCoordinator(t *testing.T) {
	f := fleet(t, 3, testKey)
	a, b, c := f[0], f[1], f[2]
	waitFor(t, "every member to follow a", func() bool {
		return a.Coordinator() == "a" && b.Coordinator() == "a" && c.Coordinator() == "a"
	})
	var weights []zones.FleetWeight
	for i := range 3 * maxSteerEntries {
		weights = append(weights, zones.FleetWeight{ID: fmt.Sprintf("www.example.test/b%d", i), Multiplier: 1 + float64(i)/1000, Share: 1 / float64(3*maxSteerEntries), Unsettled: i%2 == 0})
	}
	tick := time.Now().Truncate(time.Millisecond)
	b.PublishSteering(tick, weights) // not the coordinator: sends nothing
	a.PublishSteering(tick, weights)
	last := weights[len(weights)-1]
	waitFor(t, "b and c to have a's weights", func() bool {
		_, okb := b.FleetWeight(last.ID)
		_, okc := c.FleetWeight(last.ID)
		return okb && okc
	})
	for _, w := range weights {
		got, ok := c.FleetWeight(w.ID)
		if !ok || got.From != "a" || !got.At.Equal(tick) || got.Unsettled != w.Unsettled ||
			math.Abs(got.Multiplier-w.Multiplier) > 1e-6 || math.Abs(got.Share-w.Share) > 1e-9 {
			t.Fatalf("c has %+v %v for %+v", got, ok, w)
		}
	}
	if _, ok := a.FleetWeight(last.ID); ok {
		t.Error("the coordinator follows itself")
	}
	if _, ok := c.FleetWeight("www.example.test/unknown"); ok {
		t.Error("a weight for a backend the coordinator did not send")
	}
	if s := c.Status(); s.Coordinator != "a" || s.SteeringAlone {
		t.Errorf("c's status: coordinator %q, alone %v", s.Coordinator, s.SteeringAlone)
	}

	// Stale: a tick older than three heartbeats is not followed.
	time.Sleep(3*200*time.Millisecond + 50*time.Millisecond)
	if _, ok := b.FleetWeight(last.ID); ok {
		t.Error("b follows a stale tick")
	}
	if s := b.Status(); !s.SteeringAlone {
		t.Error("b's status does not say it steers alone")
	}

	// Another configuration: c steers alone, the others still follow a.
	c.SetConfigHash("other")
	waitFor(t, "c to be its own coordinator", func() bool { return c.Coordinator() == "c" })
	a.PublishSteering(time.Now(), weights[:1])
	waitFor(t, "b to follow a again", func() bool { _, ok := b.FleetWeight(weights[0].ID); return ok })
	if _, ok := c.FleetWeight(weights[0].ID); ok {
		t.Error("c, serving another configuration, follows a")
	}

	// a leaves: b takes over, and sends to c once c serves its
	// configuration again.
	c.SetConfigHash("")
	a.shutdown()
	waitFor(t, "b to be the coordinator", func() bool { return b.Coordinator() == "b" && c.Coordinator() == "b" })
	b.PublishSteering(time.Now(), weights[:1])
	waitFor(t, "c to follow b", func() bool { w, ok := c.FleetWeight(weights[0].ID); return ok && w.From == "b" })
}

// TestSharedReports: a report pushed to one member is on every member; a
// removal too; an older report arriving late loses.
func TestSharedReports(t *testing.T) {
	f := fleet(t, 3, testKey)
	stores := make([]*health.Reports, len(f))
	for i, c := range f {
		stores[i] = health.NewReports(10)
		c.ShareReports(stores[i])
	}
	now := time.Now()
	rep := health.Report{Utilization: 0.7, Connections: math.NaN(), RequestRate: 120, Capacity: 0, At: now, Expires: now.Add(time.Minute), Source: "agent"}
	if err := stores[1].Set("www.example.test/one", rep); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the report on a and c", func() bool {
		ra, oka := stores[0].Get("www.example.test/one", now)
		rc, okc := stores[2].Get("www.example.test/one", now)
		return oka && okc && ra.Utilization == 0.7 && rc.RequestRate == 120 && math.IsNaN(rc.Connections) && rc.Source == "agent"
	})
	// A late copy of an older report changes nothing.
	old := rep
	old.Utilization, old.At = 0.1, now.Add(-time.Second)
	if ok, err := stores[0].Merge(health.ReportChange{ID: "www.example.test/one", Report: &old, At: old.At}); ok || err != nil {
		t.Errorf("an older report merged: %v %v", ok, err)
	}
	if !stores[2].Delete("www.example.test/one") {
		t.Fatal("no report to delete")
	}
	waitFor(t, "the removal on a and b", func() bool {
		_, oka := stores[0].Get("www.example.test/one", now)
		_, okb := stores[1].Get("www.example.test/one", now)
		return !oka && !okb
	})
}

// TestCoordinatorSettles: a member that joins a settled fleet follows the
// coordinator until it has run for ten heartbeats, even with a lower
// name, and then takes over.
func TestCoordinatorSettles(t *testing.T) {
	f := fleet(t, 2, testKey)
	time.Sleep(10 * 200 * time.Millisecond) // a and b settle
	start := time.Now()
	z := startMember(t, "0", []string{f[0].Addr().String()}, testKey, 200*time.Millisecond, io.Discard)
	// Until 0 has the others' frames it is alone, and its own coordinator.
	waitFor(t, "0 to follow a", func() bool { return z.Coordinator() == "a" })
	for time.Since(start) < 10*200*time.Millisecond-100*time.Millisecond {
		for _, c := range []*Cluster{z, f[0], f[1]} {
			if got := c.Coordinator(); got != "a" {
				t.Fatalf("%s: coordinator %q %v after 0 started, before it settles; want a", c.Name(), got, time.Since(start))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "0 to take over", func() bool {
		return z.Coordinator() == "0" && f[0].Coordinator() == "0" && f[1].Coordinator() == "0"
	})
	if d := time.Since(start); d < 10*200*time.Millisecond {
		t.Errorf("0 took over after %v, before it settled", d)
	}
}

// TestSharedRegistrations: a registration on one member is on every
// member, its renewals too; a deregistration removes it everywhere, and a
// late copy of the registration from before does not bring it back; a
// member that joins later gets the registrations in its push/pull.
func TestSharedRegistrations(t *testing.T) {
	f := fleet(t, 3, testKey)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	regs := make([]*health.Registry, len(f))
	for i, c := range f {
		regs[i] = health.NewRegistry("", log)
		c.ShareRegistrations(regs[i])
	}
	now := time.Now()
	r := health.Registration{ID: "api.example.test/web-1", Service: "api.example.test", Name: "web-1", Address: "10.0.0.7", Weight: 1, Lease: 10 * time.Second, Source: "test"}
	if _, _, err := regs[1].Put(r, 10, now); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web-1 on a and c", func() bool {
		_, oka := regs[0].Get(r.ID)
		_, okc := regs[2].Get(r.ID)
		return oka && okc
	})
	// Renewed on c: a and b have the new expiry.
	time.Sleep(10 * time.Millisecond)
	renewedAt := time.Now()
	if _, _, err := regs[2].Put(r, 10, renewedAt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the renewal on a and b", func() bool {
		x, _ := regs[0].Get(r.ID)
		y, _ := regs[1].Get(r.ID)
		return x.Expires.Equal(renewedAt.Add(10*time.Second)) && y.Expires.Equal(renewedAt.Add(10*time.Second)) && x.Renewals == 1
	})
	// A member joining later catches up in its push/pull.
	late := startMember(t, "d", []string{f[0].Addr().String()}, testKey, 200*time.Millisecond, io.Discard)
	lateReg := health.NewRegistry("", log)
	late.ShareRegistrations(lateReg)
	waitFor(t, "d to have web-1", func() bool { _, ok := lateReg.Get(r.ID); return ok })

	old, _ := regs[0].Get(r.ID)
	if ok, err := regs[0].Remove(r.ID, "test"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	waitFor(t, "the deregistration everywhere", func() bool {
		for _, x := range append(regs[1:], lateReg) {
			if _, ok := x.Get(r.ID); ok {
				return false
			}
		}
		return true
	})
	if ok, _ := regs[1].Merge(health.RegistrationChange{ID: r.ID, Registration: &old, At: old.Renewed}, time.Now()); ok {
		t.Error("a late copy of the registration from before its deregistration brought it back")
	}
}
