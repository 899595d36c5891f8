package health

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

var nan = math.NaN()

func TestReportLoad(t *testing.T) {
	for _, c := range []struct {
		name       string
		util, conn float64
		rate, cap  float64
		want       float64
		ok         bool
	}{
		{"utilisation wins", 0.62, 120, 35.5, 200, 0.62, true},
		{"overload", 1.5, nan, nan, 0, 1.5, true},
		{"connections over capacity", nan, 120, 35.5, 200, 0.6, true},
		{"request rate over capacity", nan, nan, 50, 200, 0.25, true},
		{"zero connections", nan, 0, nan, 10, 0, true},
		{"connections without capacity", nan, 120, nan, 0, 0, false},
		{"request rate without capacity", nan, nan, 35.5, 0, 0, false},
		{"capacity alone", nan, nan, nan, 200, 0, false},
		{"nothing", nan, nan, nan, 0, 0, false},
	} {
		r := Report{Utilization: c.util, Connections: c.conn, RequestRate: c.rate, Capacity: c.cap}
		got, ok := r.Load()
		if ok != c.ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: Load() = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// report is a report of utilisation u received at at, valid for ttl.
func report(u float64, at time.Time, ttl time.Duration) Report {
	return Report{Utilization: u, Connections: nan, RequestRate: nan, At: at, Expires: at.Add(ttl), Source: "test"}
}

func TestReportsExpiry(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	s := NewReports(10)
	const id = "www.example.test/one"
	if _, ok := s.Get(id, t0); ok {
		t.Fatal("a report in an empty store")
	}
	if err := s.Set(id, report(0.5, t0, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at time.Duration
		ok bool
	}{{0, true}, {29*time.Second + 999*time.Millisecond, true}, {30 * time.Second, false}, {time.Hour, false}} {
		r, ok := s.Get(id, t0.Add(c.at))
		if ok != c.ok || (ok && (r.Utilization != 0.5 || r.Source != "test")) {
			t.Errorf("Get at +%v: %+v, %v; want ok %v", c.at, r, ok, c.ok)
		}
	}
	// A newer report replaces it, expiry and all.
	if err := s.Set(id, report(0.7, t0.Add(time.Minute), time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r, ok := s.Get(id, t0.Add(90*time.Second)); !ok || r.Utilization != 0.7 {
		t.Errorf("after the second report: %+v, %v", r, ok)
	}
	// Prune drops only what has expired.
	if err := s.Set("www.example.test/two", report(0.1, t0, time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := s.Prune(t0.Add(time.Minute)); n != 1 || s.Len() != 1 {
		t.Errorf("Prune: %d pruned, %d left; want 1, 1", n, s.Len())
	}
	if !s.Delete(id) || s.Delete(id) || s.Len() != 0 {
		t.Errorf("Delete: the report is still there, or was deleted twice")
	}
	if _, ok := s.Get(id, t0.Add(90*time.Second)); ok {
		t.Error("a deleted report")
	}
}

func TestReportsBound(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	s := NewReports(3)
	for i := range 3 {
		if err := s.Set(fmt.Sprintf("svc/b%d", i), report(0.5, t0, time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Set("svc/b3", report(0.5, t0, time.Minute))
	if !errors.Is(err, ErrReportsFull) || err.Error() != "load report for svc/b3: too many load reports (at most 3)" {
		t.Fatalf("Set beyond the bound: %v", err)
	}
	// A backend that has a report may still replace it.
	if err := s.Set("svc/b0", report(0.9, t0, time.Minute)); err != nil {
		t.Errorf("replacing in a full store: %v", err)
	}
	// A new backend gets the place of one that has expired.
	if err := s.Set("svc/b3", report(0.5, t0.Add(90*time.Second), time.Minute)); err != nil {
		t.Errorf("Set when one has expired: %v", err)
	}
	if _, ok := s.Get("svc/b0", t0.Add(90*time.Second)); ok || s.Len() != 3 {
		t.Errorf("after Set in a full store: b0 kept, or %d reports, want 3", s.Len())
	}
	if NewReports(0).limit != MaxReports {
		t.Error("NewReports(0) is not bounded by MaxReports")
	}
}

// TestReportsConcurrent is for the race detector: writers, readers,
// deleters and pruners on the same IDs.
func TestReportsConcurrent(t *testing.T) {
	t0 := time.Now()
	s := NewReports(8)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("svc/b%d", (w+i)%10)
				switch i % 4 {
				case 0:
					s.Set(id, report(float64(i), t0, time.Duration(i%3)*time.Millisecond))
				case 1:
					if r, ok := s.Get(id, t0.Add(time.Millisecond)); ok && r.Source != "test" {
						t.Errorf("torn report %+v", r)
					}
				case 2:
					s.Delete(id)
				case 3:
					s.Prune(t0.Add(time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
	if s.Len() > 8 {
		t.Errorf("%d reports, bound 8", s.Len())
	}
}

func TestReportsGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	t0 := time.Now()
	s := NewReports(0)
	s.Set("www.example.test/one", report(0.5, t0, time.Minute))
	var sink float64
	if a := testing.AllocsPerRun(1000, func() {
		r, _ := s.Get("www.example.test/one", t0)
		_, miss := s.Get("www.example.test/none", t0)
		if l, ok := r.Load(); ok && !miss {
			sink += l
		}
	}); a != 0 {
		t.Errorf("Get: %v allocations, want 0", a)
	}
	_ = sink
}

// BenchmarkReportsGet is the read the control laws make for each backend
// at each step: 0 allocations.
func BenchmarkReportsGet(b *testing.B) {
	t0 := time.Now()
	s := NewReports(0)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("svc%d.example.test/b%d", i/4, i%4)
		s.Set(ids[i], report(0.5, t0, time.Minute))
	}
	b.ReportAllocs()
	var sink float64
	i := 0
	for b.Loop() {
		r, ok := s.Get(ids[i%len(ids)], t0)
		if l, has := r.Load(); ok && has {
			sink += l
		}
		i++
	}
	_ = sink
}

// BenchmarkReportsGetParallel: readers share the lock, never wait on one
// another.
func BenchmarkReportsGetParallel(b *testing.B) {
	t0 := time.Now()
	s := NewReports(0)
	s.Set("www.example.test/one", report(0.5, t0, time.Minute))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Get("www.example.test/one", t0)
		}
	})
}
