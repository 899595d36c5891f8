package zones

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones/steer"
)

// TestWarmStartKeepsTheLaw: steering saved after the law moved the
// weights is restored into a new process's snapshot, and kept while the
// backends' health is pending, rather than reset to the configured
// weights.
func TestWarmStartKeepsTheLaw(t *testing.T) {
	const zone = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n" +
		"[services.www]\nmembers = \"least_load\"\ncheck = { type = \"tcp\", port = 80 }\nbackends = [{ name = \"a\", address = \"192.0.2.10\" }, { name = \"b\", address = \"192.0.2.11\" }]\n"
	load := func() *Snapshot {
		s, err := loadText(t, zone)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Unix(1_800_000_000, 0)
	s1 := load()
	st1 := NewSteering()
	st1.Signals = func(b *Backend, _ time.Time) steer.Signals {
		if b.Name == "a" {
			return steer.Signals{Load: 0.9, HasLoad: true}
		}
		return steer.Signals{Load: 0.1, HasLoad: true}
	}
	s1.BindEach(func(b *Backend) *health.State { return health.FixedState(b.Check, true) }, nil, st1, nil)
	for i := range 300 {
		st1.Step(s1, now.Add(time.Duration(i)*time.Second), time.Second)
	}
	a1 := s1.Services()[0].Backends[0].EffectiveWeight()
	if a1 >= 0.9 {
		t.Fatalf("the law did not move a's weight: %v", a1)
	}
	saved := st1.Save(now.Add(300 * time.Second))

	s2 := load()
	st2 := NewSteering()
	n, err := st2.Restore(saved, now.Add(310*time.Second), 10*time.Minute)
	if err != nil || n != 2 {
		t.Fatalf("restored %d: %v", n, err)
	}
	// What a fleet's coordinator publishes names the restored backends.
	for _, sl := range st2.slots {
		if !strings.HasPrefix(sl.id, "www.example.com/") {
			t.Errorf("a restored slot has ID %q", sl.id)
		}
	}
	s2.BindEach(func(b *Backend) *health.State { return health.StartState(b.Check) }, nil, st2, nil) // pending
	a := s2.Services()[0].Backends[0]
	if !a.Pending() {
		t.Fatal("a is not pending")
	}
	for i := range 3 {
		st2.Step(s2, now.Add(time.Duration(311+i)*time.Second), time.Second)
	}
	if got := a.EffectiveWeight(); math.Abs(got-a1) > 1e-9 {
		t.Errorf("after the warm start a weighs %v, want %v as saved", got, a1)
	}
	if _, err := st2.Restore(saved, now.Add(time.Hour), 10*time.Minute); err == nil {
		t.Error("an hour-old state was restored")
	}
}
