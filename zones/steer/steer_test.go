package steer

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestSlowStartFactor(t *testing.T) {
	s := SlowStart{Window: 100 * time.Second, MinWeightPercent: 10, Aggression: 1}
	fast := s
	fast.Aggression = 2
	cases := []struct {
		s       SlowStart
		elapsed time.Duration
		want    float64
	}{
		{s, -time.Second, 0.1},
		{s, 0, 0.1},
		{s, 5 * time.Second, 0.1}, // 0.05 < the minimum
		{s, 10 * time.Second, 0.1},
		{s, 25 * time.Second, 0.25},
		{s, 50 * time.Second, 0.5},
		{s, 99 * time.Second, 0.99},
		{s, 100 * time.Second, 1},
		{s, time.Hour, 1},
		{fast, 25 * time.Second, 0.5}, // 0.25^(1/2)
		{fast, 4 * time.Second, 0.2},  // 0.04^(1/2)
		{SlowStart{}, 0, 1},           // off
	}
	for _, c := range cases {
		if got := c.s.Factor(c.elapsed); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%+v at %v: %v, want %v", c.s, c.elapsed, got, c.want)
		}
	}
	d := SlowStart{}.WithDefaults(30 * time.Second)
	if d.Window != 90*time.Second || d.MinWeightPercent != 10 || d.Aggression != 1 || d.Check() != nil {
		t.Errorf("defaults %+v (%v)", d, d.Check())
	}
}

func TestParamsCheck(t *testing.T) {
	good := Params{Law: LeastLoad}.WithDefaults(30*time.Second, time.Second)
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	if good.Smoothing != 90*time.Second {
		t.Errorf("least_load smoothing %v, want 3 TTLs", good.Smoothing)
	}
	if f := (Params{Law: Fastest}).WithDefaults(30*time.Second, 4*time.Second); f.Smoothing != 2*time.Second {
		t.Errorf("fastest smoothing %v, want half an interval", f.Smoothing)
	}
	if f := (Params{Law: Shed}).WithDefaults(30*time.Second, 4*time.Second); f.Smoothing != 6*time.Second {
		t.Errorf("shed smoothing %v, want 1.5 intervals", f.Smoothing)
	}
	bad := []func(p *Params){
		func(p *Params) { p.Law = "cheapest" },
		func(p *Params) { p.Smoothing = time.Millisecond },
		func(p *Params) { p.MaxChange = 2 },
		func(p *Params) { p.Floor = -1 },
		func(p *Params) { p.Low, p.High = 0.9, 0.8 },
		func(p *Params) { p.Idle = 3 },
	}
	for i, f := range bad {
		p := good
		f(&p)
		if p.Check() == nil {
			t.Errorf("case %d: %+v accepted", i, p)
		}
	}
}

// loop is a closed loop in numbers: demand D requests/s spread over
// members by their shares, each answer drawn at random (n per second), a
// member's load the demand its share brought over the last w seconds
// (resolver caches) over its capacity, plus background load.
type loop struct {
	caps       []float64
	demand     float64 // of the total capacity
	w          int
	n          int
	background []float64
	rng        *rand.Rand
	// rate: each member also reports the requests it served over the
	// window (Signals.Rate).
	rate bool
	// law, when not nil, collects the law's shares after every step.
	law *[][]float64
}

// run steps the law for secs seconds and returns the observed shares and
// loads of every second.
func (l loop) run(p Params, secs int) (shares, loads [][]float64) {
	k := len(l.caps)
	members := make([]*Member, k)
	in := make([]In, k)
	for i := range members {
		members[i] = &Member{}
		in[i].Weight = 1
	}
	total := 0.0
	for _, c := range l.caps {
		total += c
	}
	var hist [][]float64
	for range secs {
		obs := make([]float64, k)
		for range l.n {
			r := l.rng.Float64()
			i := 0
			for ; i < k-1; i++ {
				sh := members[i].Share
				if sh == 0 {
					sh = 1 / float64(k) // before the first step: the configured (equal) shares
				}
				if r < sh {
					break
				}
				r -= sh
			}
			obs[i]++
		}
		for i := range obs {
			obs[i] /= float64(l.n)
		}
		hist = append(hist, obs)
		load := make([]float64, k)
		for i := range load {
			m, c := 0.0, 0
			for j := len(hist) - 1; j >= 0 && j >= len(hist)-l.w; j-- {
				m += hist[j][i]
				c++
			}
			load[i] = l.demand*total*m/float64(c)/l.caps[i] + l.rng.NormFloat64()*0.01
			if l.background != nil {
				load[i] += l.background[i]
			}
			in[i].Signals = Signals{Load: load[i], HasLoad: true}
			if l.rate {
				in[i].Signals.Rate, in[i].Signals.HasRate = l.demand*total*m/float64(c), true
			}
		}
		shares = append(shares, obs)
		loads = append(loads, load)
		Step(p, members, in, time.Second)
		if l.law != nil {
			row := make([]float64, k)
			for i, m := range members {
				row[i] = m.Share
			}
			*l.law = append(*l.law, row)
		}
	}
	return shares, loads
}

// TestLeastLoadClosedLoop: capacities 100/100/50 and equal weights; at
// 94 % and 110 % demand and cache windows of 1 s and the TTL, the
// per-second share's sd over the second half stays within 1.5× binomial
// noise and the loads within ±10 % of the capacity-proportional ideal.
func TestLeastLoadClosedLoop(t *testing.T) {
	const ttl = 30
	p := Params{Law: LeastLoad}.WithDefaults(ttl*time.Second, time.Second)
	for _, demand := range []float64{0.94, 1.10} {
		for _, w := range []int{1, 5, ttl} {
			l := loop{caps: []float64{100, 100, 50}, demand: demand, w: w, n: 400, rng: rand.New(rand.NewPCG(1, uint64(w)))}
			shares, loads := l.run(p, 16*ttl)
			half := len(shares) / 2
			for i := range l.caps {
				var m, m2, lm float64
				for _, s := range shares[half:] {
					m += s[i]
					m2 += s[i] * s[i]
				}
				for _, x := range loads[half:] {
					lm += x[i]
				}
				cnt := float64(len(shares) - half)
				m, lm = m/cnt, lm/cnt
				sd := math.Sqrt(max(m2/cnt-m*m, 0))
				noise := math.Sqrt(m * (1 - m) / float64(l.n))
				if sd > 1.5*noise {
					t.Errorf("demand %.0f%% window %ds member %d: share sd %.4f, %.2f× binomial noise %.4f", demand*100, w, i, sd, sd/noise, noise)
				}
				if math.Abs(lm-demand)/demand > 0.1 {
					t.Errorf("demand %.0f%% window %ds member %d: mean load %.3f, ideal %.3f", demand*100, w, i, lm, demand)
				}
				t.Logf("| %.0f %% | %d s | %d (capacity %.0f) | %.3f | %.4f | %.2f | %.3f |", demand*100, w, i, l.caps[i], m, sd, sd/noise, lm)
			}
		}
	}
}

// TestLeastLoadServedShare: with the requests each member served, the
// law's target is the members' capacities, whatever the caches did: over
// the second half of a run at 94 %, with a cache window of the TTL, the
// law's shares hold within half a point of the ideal, where by the
// answers' shares alone they wander by more.
func TestLeastLoadServedShare(t *testing.T) {
	const ttl = 5
	p := Params{Law: LeastLoad}.WithDefaults(ttl*time.Second, time.Second)
	ideal := []float64{0.4, 0.4, 0.2}
	wander := func(rate bool) float64 {
		var law [][]float64
		l := loop{caps: []float64{100, 100, 50}, demand: 0.94, w: ttl, n: 100, rng: rand.New(rand.NewPCG(4, 5)), rate: rate, law: &law}
		l.run(p, 40*ttl)
		if rate {
			// No warm-up with rates: the capacities are found at once.
			for sec, row := range law[:2*ttl] {
				t.Logf("second %d: law shares %.3f", sec+1, row)
			}
			for i, x := range law[2*ttl-1] {
				if math.Abs(x-ideal[i]) > 0.01 {
					t.Errorf("with rates, member %d's share is %.3f after 2 TTLs, want %.2f", i, x, ideal[i])
				}
			}
		}
		worst := 0.0
		for _, row := range law[len(law)/2:] {
			for i, x := range row {
				worst = max(worst, math.Abs(x-ideal[i]))
			}
		}
		return worst
	}
	byRate, byAnswers := wander(true), wander(false)
	t.Logf("largest distance of a law share from the ideal: %.4f with rates, %.4f without", byRate, byAnswers)
	if byRate > 0.005 {
		t.Errorf("with rates a law share strays %.4f from the ideal, want <= 0.005", byRate)
	}
	if byAnswers <= byRate {
		t.Errorf("without rates the shares stray %.4f, with %.4f: the served share should hold them stiller", byAnswers, byRate)
	}
}

// TestLeastLoadBackground: load gslb does not steer on one member moves
// gslb's share away from it until utilisations are equal.
func TestLeastLoadBackground(t *testing.T) {
	p := Params{Law: LeastLoad}.WithDefaults(10*time.Second, time.Second)
	l := loop{caps: []float64{100, 100, 100}, demand: 0.6, w: 5, n: 400, background: []float64{0.3, 0, 0}, rng: rand.New(rand.NewPCG(2, 3))}
	_, loads := l.run(p, 200)
	var sum [3]float64
	for _, x := range loads[100:] {
		for i := range sum {
			sum[i] += x[i] / 100
		}
	}
	// Ideal: (0.6×3 + 0.3)/3 = 0.7 each.
	for i, u := range sum {
		if math.Abs(u-0.7) > 0.05 {
			t.Errorf("member %d: load %.3f, want 0.70 (equal utilisation)", i, u)
		}
	}
}

// stepRun feeds fixed signals (the law's loop is open: the signals do not
// follow the share) and returns member 0's share after every second.
func stepRun(p Params, sig func(sec int) []Signals, secs int) []float64 {
	members := []*Member{{}, {}, {}}
	in := make([]In, 3)
	var out []float64
	for s := range secs {
		for i, x := range sig(s) {
			in[i] = In{Weight: 1, Signals: x}
		}
		Step(p, members, in, time.Second)
		out = append(out, members[0].Share)
	}
	return out
}

// TestStepResponse: a step of one member's latency (+200 ms) or load
// (to 0.95) closes 80 % of the gap to the new target within 3 signal
// intervals and comes back within 5 once restored, overshooting by no
// more than 5 points. Interval 2 s, TTL 5 s.
func TestStepResponse(t *testing.T) {
	const interval = 2 * time.Second
	cases := []struct {
		law        string
		before     Signals
		after      Signals
		other      Signals
		wantTarget float64 // member 0's share after the step
	}{
		{Fastest, Signals{Latency: 5 * time.Millisecond, HasLatency: true}, Signals{Latency: 205 * time.Millisecond, HasLatency: true}, Signals{Latency: 5 * time.Millisecond, HasLatency: true}, (15.0 / 205) / (2 + 15.0/205)},
		{Shed, Signals{Load: 0.5, HasLoad: true}, Signals{Load: 0.95, HasLoad: true}, Signals{Load: 0.5, HasLoad: true}, DefaultFloor / 3},
	}
	for _, c := range cases {
		p := Params{Law: c.law}.WithDefaults(5*time.Second, interval)
		on, off := 30, 60
		shares := stepRun(p, func(s int) []Signals {
			x := c.before
			if s >= on && s < off {
				x = c.after
			}
			return []Signals{x, c.other, c.other}
		}, 90)
		base := shares[on-1]
		// The target: where the share settles.
		target := shares[off-1]
		gap := target - base
		at := shares[on-1+3*int(interval/time.Second)]
		if (at-base)/gap < 0.8 {
			t.Errorf("%s: after 3 intervals the share is %.3f: %.0f%% of the way from %.3f to %.3f", c.law, at, 100*(at-base)/gap, base, target)
		}
		back := shares[off-1+5*int(interval/time.Second)]
		if math.Abs(back-base) > 0.2*math.Abs(gap) {
			t.Errorf("%s: 5 intervals after the restore the share is %.3f, want near %.3f", c.law, back, base)
		}
		for s := off; s < len(shares); s++ {
			if shares[s]-base > 0.05 {
				t.Errorf("%s: overshoot %.3f at %ds", c.law, shares[s]-base, s)
				break
			}
		}
		if math.Abs(target-c.wantTarget) > 0.001 {
			t.Errorf("%s: settles at %.4f, want %.4f", c.law, target, c.wantTarget)
		}
		t.Logf("%s: %.3f → %.3f; after 3 intervals %.3f (%.0f%%); 5 intervals after the restore %.3f", c.law, base, target, at, 100*(at-base)/gap, back)
	}
}

// TestFastestJitter: equal members whose latencies jitter by ±5 ms stay
// at an equal share: the tolerance absorbs the jitter.
func TestFastestJitter(t *testing.T) {
	p := Params{Law: Fastest}.WithDefaults(30*time.Second, time.Second)
	rng := rand.New(rand.NewPCG(4, 5))
	shares := stepRun(p, func(int) []Signals {
		s := make([]Signals, 3)
		for i := range s {
			s[i] = Signals{Latency: 20*time.Millisecond + time.Duration(rng.IntN(10_001)-5000)*time.Microsecond, HasLatency: true}
		}
		return s
	}, 60)
	for s, x := range shares {
		if math.Abs(x-1.0/3) > 1e-9 {
			t.Fatalf("second %d: member 0 at %.4f, want exactly 1/3", s, x)
		}
	}
}

// TestFloorAndErrors: a member at capacity keeps the floor; errors cut.
func TestFloorAndErrors(t *testing.T) {
	p := Params{Law: Shed}.WithDefaults(5*time.Second, time.Second)
	members := []*Member{{}, {}}
	in := []In{{Weight: 1, Signals: Signals{Load: 2, HasLoad: true}}, {Weight: 1, Signals: Signals{Load: 0.1, HasLoad: true}}}
	for range 60 {
		Step(p, members, in, time.Second)
	}
	if want := p.Floor / 2; math.Abs(members[0].Share-want) > 1e-6 {
		t.Errorf("full member: %.4f, want the floor %.4f", members[0].Share, want)
	}
	// Both full: nowhere better, keep the weights.
	in[1].Signals.Load = 3
	for range 60 {
		Step(p, members, in, time.Second)
	}
	if math.Abs(members[0].Share-0.5) > 1e-6 {
		t.Errorf("both full: %.4f, want 0.5", members[0].Share)
	}
	// Errors: 50 % errors → (0.5)² = 0.25 of the weight: share 0.2.
	p.Law = Fastest
	in = []In{{Weight: 1, Signals: Signals{ErrorRate: 0.5}}, {Weight: 1}}
	members = []*Member{{}, {}}
	for range 60 {
		Step(p, members, in, time.Second)
	}
	if math.Abs(members[0].Share-0.2) > 1e-3 {
		t.Errorf("50%% errors: %.4f, want 0.2", members[0].Share)
	}
}

func BenchmarkStep(b *testing.B) {
	p := Params{Law: LeastLoad}.WithDefaults(30*time.Second, time.Second)
	members := make([]*Member, 8)
	in := make([]In, 8)
	for i := range members {
		members[i] = &Member{}
		in[i] = In{Weight: 1, Signals: Signals{Load: 0.5 + float64(i)/20, HasLoad: true}}
	}
	b.ReportAllocs()
	for b.Loop() {
		Step(p, members, in, time.Second)
	}
}

// TestLeastLoadWarmupAndBand: a member's load steers it only after two
// TTLs of measurement, averaged over the second (the first describes the
// clients caches held before); afterwards a target within
// load_tolerance of the share moves nothing, one beyond it does.
func TestLeastLoadWarmupAndBand(t *testing.T) {
	const ttl = 5 * time.Second
	p := Params{Law: LeastLoad}.WithDefaults(ttl, time.Second)
	if p.Warmup != 2*ttl || p.LoadTolerance != DefaultLoadTolerance {
		t.Fatalf("defaults: warmup %v, load_tolerance %g", p.Warmup, p.LoadTolerance)
	}
	members := []*Member{{}, {}}
	in := []In{{Weight: 1}, {Weight: 1}}
	step := func(l0, l1 float64) {
		in[0].Signals = Signals{Load: l0, HasLoad: true}
		in[1].Signals = Signals{Load: l1, HasLoad: true}
		Step(p, members, in, time.Second)
	}
	// First half of the warm-up: garbage (member 0 looks saturated).
	for range 5 {
		step(1.0, 0.1)
	}
	// Second half: equal loads, at the held shares.
	for range 5 {
		step(0.5, 0.5)
		if members[0].Share != 0.5 {
			t.Fatalf("share %v during the warm-up, want the configured 0.5", members[0].Share)
		}
	}
	if members[0].Load != 0.5 || members[1].Load != 0.5 {
		t.Fatalf("averages %v %v after the warm-up, want 0.5 each (the first half left out)", members[0].Load, members[1].Load)
	}
	// A small difference stays inside the band.
	for range 20 {
		step(0.51, 0.49)
	}
	if members[0].Share != 0.5 {
		t.Errorf("a 2 %% difference moved the share to %v", members[0].Share)
	}
	// A large one moves it.
	for range 20 {
		step(0.8, 0.4)
	}
	if members[0].Share > 0.45 {
		t.Errorf("member 0 at twice the load of member 1 keeps a share of %v", members[0].Share)
	}
}
