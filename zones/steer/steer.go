// Package steer holds the control laws of gslb's load-aware member
// selection: from each member's live signals (utilisation, latency, error
// rate) it computes the share of new answers each member gets, once per
// step, off the query path. It knows nothing of DNS or configuration
// files: zones feeds it signals and publishes the weights it returns.
//
// Every law has named, bounded parameters (Params) and the same three
// guards: an exponential moving average of every signal (Smoothing), a
// cap on how far a member's share moves per second (MaxChange), and a
// floor under every member's share (Floor) so that it keeps enough traffic
// to be measured. docs/steering.md states each law, why it does not
// oscillate for resolver cache windows up to the TTL, and the measurements.
package steer

import (
	"fmt"
	"math"
	"time"
)

// Laws.
const (
	// LeastLoad steers toward equal utilisation: each step a member's
	// target share is its smoothed share divided by its smoothed
	// utilisation, normalised. At the fixed point every member runs at
	// the same utilisation, so each gets a share in proportion to its
	// capacity net of load gslb does not steer (its headroom). Members
	// without a fresh utilisation keep their share.
	LeastLoad = "least_load"
	// Fastest gives each member a share in proportion to its weight
	// times (fastest + tolerance) / latency: members within the tolerance
	// of the fastest get their full weight.
	Fastest = "fastest"
	// Shed gives a member its full weight while its utilisation is below
	// Low, none above High while another member is below High, and a
	// share falling linearly in between (NS1's shed_load).
	Shed = "shed"
)

// Laws lists the laws, for error messages.
var Laws = []string{LeastLoad, Fastest, Shed}

// Params are a law and its parameters. The zero value of a field means
// its default (Defaults).
type Params struct {
	Law string
	// Smoothing is the time constant of the moving average of every
	// signal (and, for LeastLoad, of the share): a change of a signal
	// moves the target by 63 % of the way in one Smoothing.
	Smoothing time.Duration
	// MaxChange caps the change of a member's share per second
	// (0.01..1, absolute: 0.25 is 25 points of share).
	MaxChange float64
	// Floor is the least share a member keeps, as a fraction of its
	// configured share (0..1); a member that is healthy but slow or full
	// still gets this much, so that its signals stay measured.
	Floor float64
	// Tolerance and ToleranceRatio (Fastest): latencies within
	// max(Tolerance, ToleranceRatio × fastest) of the fastest count as
	// the fastest, so that jitter moves nothing.
	Tolerance      time.Duration
	ToleranceRatio float64
	// Low and High (Shed) are the utilisation watermarks (0..10, Low <
	// High).
	Low, High float64
	// Idle (LeastLoad) is the utilisation below which members count as
	// equally idle (0..1): differences between nearly idle members are
	// noise, not a reason to move traffic.
	Idle float64
	// LoadTolerance (LeastLoad, 0.001..0.5) is a deadband: a target
	// within this fraction of the member's share moves nothing. A
	// backend's load wanders by a few per cent from second to second
	// (requests arrive at random, and each cache window hands it a random
	// number of clients); without the band the law hands that wander on
	// to the shares, which at high utilisation builds queues.
	LoadTolerance float64
	// Warmup (LeastLoad) is how long a member's load must have been
	// measured before it steers the member (default: 2 TTLs). Until
	// resolvers' caches have turned over once, a member's load does not
	// reflect the share it is given (at start, its first samples are of
	// whatever clients happened to ask first): the member keeps its share
	// meanwhile, as one without a load does, and its load is averaged
	// over the second half only.
	Warmup time.Duration
}

// Default parameters.
const (
	DefaultMaxChange      = 0.25
	DefaultFloor          = 0.05
	DefaultTolerance      = 10 * time.Millisecond
	DefaultToleranceRatio = 0.2
	DefaultLow            = 0.7
	DefaultHigh           = 0.9
	DefaultIdle           = 0.1
	DefaultLoadTolerance  = 0.05
	// MinSmoothing is the shortest default Smoothing of least_load and
	// shed, MinFastSmoothing of fastest.
	MinSmoothing     = 2 * time.Second
	MinFastSmoothing = time.Second
)

// DefaultSmoothing is the Smoothing a law gets unless the service sets
// one:
//
//   - least_load: max(3 TTLs, 1.5 signal intervals, MinSmoothing). Its
//     target depends on the share it gave, which the members' load
//     reflects only after resolvers' caches turn over: the loop is stable
//     while the smoothing is above half the cache window plus the
//     measurement delays (docs/steering.md), and one TTL would leave that
//     margin for every cache window up to the TTL. Three average out the
//     load's own noise (a backend's requests arrive at random, and each
//     cache window hands it a random number of clients), which the law
//     would otherwise pass on to the shares at utilisations where a few
//     points of share decide the queue; a new member's running mean
//     (Step) keeps the start fast.
//   - shed: max(1.5 signal intervals, MinSmoothing): one new load sample
//     moves the average by half.
//   - fastest: max(interval/2, MinFastSmoothing). Its latency is already
//     the median of the last 3 probes, which one slow probe does not move;
//     the average then follows a real change within an interval.
func DefaultSmoothing(law string, ttl, signalInterval time.Duration) time.Duration {
	switch law {
	case LeastLoad:
		return max(3*ttl, signalInterval*3/2, MinSmoothing)
	case Fastest:
		return max(signalInterval/2, MinFastSmoothing)
	}
	return max(signalInterval*3/2, MinSmoothing)
}

// WithDefaults returns p with every zero field set to its default; ttl
// and signalInterval choose the Smoothing.
func (p Params) WithDefaults(ttl, signalInterval time.Duration) Params {
	if p.Smoothing == 0 {
		p.Smoothing = DefaultSmoothing(p.Law, ttl, signalInterval)
	}
	if p.MaxChange == 0 {
		p.MaxChange = DefaultMaxChange
	}
	if p.Floor == 0 {
		p.Floor = DefaultFloor
	}
	if p.Tolerance == 0 {
		p.Tolerance = DefaultTolerance
	}
	if p.ToleranceRatio == 0 {
		p.ToleranceRatio = DefaultToleranceRatio
	}
	if p.Low == 0 && p.High == 0 {
		p.Low, p.High = DefaultLow, DefaultHigh
	}
	if p.Idle == 0 {
		p.Idle = DefaultIdle
	}
	if p.Warmup == 0 {
		p.Warmup = 2 * ttl
	}
	if p.LoadTolerance == 0 {
		p.LoadTolerance = DefaultLoadTolerance
	}
	return p
}

// Check reports the first parameter out of its bounds.
func (p Params) Check() error {
	switch {
	case p.Law != LeastLoad && p.Law != Fastest && p.Law != Shed:
		return fmt.Errorf("law %q: want %s, %s or %s", p.Law, LeastLoad, Fastest, Shed)
	case p.Smoothing < 100*time.Millisecond || p.Smoothing > time.Hour:
		return fmt.Errorf("smoothing %v: want 100ms..1h", p.Smoothing)
	case p.MaxChange < 0.01 || p.MaxChange > 1:
		return fmt.Errorf("max_change %g: want 0.01..1", p.MaxChange)
	case p.Floor < 0 || p.Floor > 1:
		return fmt.Errorf("floor %g: want 0..1", p.Floor)
	case p.Tolerance < 0 || p.Tolerance > time.Minute:
		return fmt.Errorf("rtt_tolerance %v: want 0..1m", p.Tolerance)
	case p.ToleranceRatio < 0 || p.ToleranceRatio > 10:
		return fmt.Errorf("rtt_tolerance %g: want 0..10 (1000%%)", p.ToleranceRatio)
	case p.Low < 0 || p.High > 10 || p.Low >= p.High:
		return fmt.Errorf("watermarks low %g, high %g: want 0 <= low < high <= 10", p.Low, p.High)
	case p.Idle < 0 || p.Idle > 1:
		return fmt.Errorf("idle %g: want 0..1", p.Idle)
	case p.LoadTolerance < 0 || p.LoadTolerance > 0.5:
		return fmt.Errorf("load_tolerance %g: want 0.001..0.5", p.LoadTolerance)
	case p.Warmup < 0 || p.Warmup > time.Hour:
		return fmt.Errorf("warmup %v: want 0..1h", p.Warmup)
	}
	return nil
}

// Signals are one member's raw measurements at a step. A signal that is
// missing or stale has its Has flag false: the law treats it as neutral.
type Signals struct {
	// Load is utilisation: 1 is capacity; above 1 is overload, where
	// the signal can show it (connections or requests over capacity).
	Load    float64
	HasLoad bool
	// Latency is the member's response time, from gslb's probes or the
	// member's own metrics.
	Latency    time.Duration
	HasLatency bool
	// ErrorRate is the share of failed probes or requests (0..1).
	ErrorRate float64
	// Rate is the requests per second the member served, from its own
	// metrics or reports (LeastLoad): when every member that steers has
	// one, the law divides each member's share of the requests served by
	// its load, rather than its share of the answers given.
	Rate    float64
	HasRate bool
}

// Member is a member's state between steps: the smoothed signals and the
// share the law gave it. Keep one per member across steps (and reloads);
// a zero Member is new.
type Member struct {
	// Share is the member's share of new answers among the group's
	// members, as of the last step.
	Share float64
	// SmoothShare, Load, Latency, ErrorRate and Rate are the moving
	// averages.
	SmoothShare float64
	Load        float64
	Latency     float64 // seconds; averaged as its logarithm (a geometric mean)
	ErrorRate   float64
	Rate        float64
	// HasLoad, HasLatency and HasRate tell whether the averages hold a
	// value.
	HasLoad, HasLatency, HasRate bool
	// Served is the member's share of the requests the members served
	// (their smoothed rates), when LeastLoad steered by it in the last
	// step; 0 when it steered by the answers' shares.
	Served float64
	// Target is the share the law aimed at in the last step, before
	// MaxChange.
	Target  float64
	started bool
	// steps counts the steps since the member started, up to warmSteps:
	// until then its averages are running means (below).
	steps int
	// measured is how long the member has had a load (up to an hour);
	// loadN counts the load samples averaged since the warm-up's half.
	measured time.Duration
	loadN    int
}

// warmSteps caps Member.steps: a member past it is warm.
const warmSteps = 1 << 20

// Resume marks a member restored from saved state (a warm start) as
// started, so that its averages carry on rather than start afresh. It
// does nothing to a member whose share is not positive.
func (m *Member) Resume() {
	if m.Share > 0 {
		m.started = true
		m.steps = warmSteps
		m.measured = time.Hour
		m.loadN = warmSteps
	}
}

// In is one member's input to a step.
type In struct {
	// Weight is the configured weight (> 0).
	Weight  float64
	Signals Signals
}

// Step moves every member of one group one step of dt: it smooths the
// signals, computes the law's targets and moves each share toward its
// target by at most MaxChange × dt. It returns nothing; the shares are in
// the members. members[i] belongs to in[i]; p must have its defaults.
// Members come and go between steps: a new one (zero Member) starts at
// its configured share.
func Step(p Params, members []*Member, in []In, dt time.Duration) {
	n := len(members)
	if n == 0 {
		return
	}
	alpha := 1 - math.Exp(-dt.Seconds()/p.Smoothing.Seconds())
	totalW := 0.0
	for _, x := range in {
		totalW += x.Weight
	}
	if totalW <= 0 {
		return
	}
	// The shares of the members present: a member that has just come in
	// gets its configured share, and the others share the rest in the
	// proportions they had (a member that left gave its share to the
	// others in proportion).
	fresh, kept := 0.0, 0.0
	for i, m := range members {
		if !m.started {
			m.Share = in[i].Weight / totalW
			m.SmoothShare = m.Share
			fresh += m.Share
		} else {
			kept += m.Share
		}
	}
	for i, m := range members {
		switch {
		case !m.started:
		case kept > 0:
			f := (1 - fresh) / kept
			m.Share *= f
			m.SmoothShare *= f
		default:
			m.Share = in[i].Weight / totalW
		}
		// A member that has just started averages everything it has seen
		// so far (a running mean, weight 1/steps) until that weighs less
		// than the moving average: the law finds its shares within the
		// first seconds, then averages over Smoothing.
		a := alpha
		if m.steps < warmSteps {
			m.steps++
			a = max(alpha, 1/float64(m.steps))
		}
		s := in[i].Signals
		if s.HasLoad && m.measured < time.Hour {
			m.measured += dt
		}
		// The load, and the rate it is divided by, are averaged from the
		// second half of the warm-up on (steering by answers' shares): the first half's samples describe
		// the clients that resolvers' caches held before (at start:
		// whichever asked first), not the share.
		// A load that comes with a rate is averaged from the start: the
		// law divides the one by the other, whatever the caches held.
		if !s.HasRate && m.measured <= p.Warmup/2 && m.loadN < warmSteps {
			smooth(&m.Load, &m.HasLoad, s.Load, s.HasLoad, 1, true)
			smooth(&m.Rate, &m.HasRate, s.Rate, s.HasRate, 1, true)
		} else {
			la := alpha
			if m.loadN < warmSteps {
				m.loadN++
				la = max(alpha, 1/float64(m.loadN))
			}
			smooth(&m.Load, &m.HasLoad, s.Load, s.HasLoad, la, !m.started)
			smooth(&m.Rate, &m.HasRate, s.Rate, s.HasRate, la, !m.started)
		}
		// Latency is averaged in logarithms: a slowdown and a recovery by
		// the same factor take the same time, and one outlier weighs by
		// its ratio, not its milliseconds.
		if s.HasLatency && s.Latency > 0 {
			lg := math.Log(m.Latency)
			if !m.HasLatency {
				lg = 0
			}
			smooth(&lg, &m.HasLatency, math.Log(s.Latency.Seconds()), true, a, !m.started)
			m.Latency = math.Exp(lg)
		}
		if m.started {
			m.ErrorRate += a * (s.ErrorRate - m.ErrorRate)
			m.SmoothShare += a * (m.Share - m.SmoothShare)
		} else {
			m.ErrorRate = s.ErrorRate
			m.started = true
		}
	}
	var tgt [64]float64
	t := tgt[:0]
	if n > len(tgt) {
		t = make([]float64, 0, n)
	}
	switch p.Law {
	case LeastLoad:
		t = leastLoad(p, members, t)
	case Fastest:
		t = fastest(p, members, in, t)
	case Shed:
		t = shed(p, members, in, t)
	}
	// Errors cut every law's target: (1 − error rate)².
	for i, m := range members {
		e := 1 - min(max(m.ErrorRate, 0), 1)
		t[i] *= e * e
	}
	normalise(t, in, totalW)
	applyFloor(t, in, totalW, p.Floor)
	// The cap on the change per step.
	step := p.MaxChange * dt.Seconds()
	for i, m := range members {
		m.Target = t[i]
		d := t[i] - m.Share
		if p.Law == LeastLoad && math.Abs(d) <= p.LoadTolerance*m.Share {
			d = 0 // within the deadband
		}
		m.Share += max(-step, min(step, d))
	}
	sum := 0.0
	for _, m := range members {
		sum += m.Share
	}
	for _, m := range members {
		m.Share /= sum
	}
}

// smooth folds a new sample into a moving average; a missing sample
// leaves it, and a first one sets it.
func smooth(avg *float64, has *bool, v float64, ok bool, a float64, first bool) {
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if !*has || first {
		*avg, *has = v, true
		return
	}
	*avg += a * (v - *avg)
}

// normalise scales t to sum to 1; all zero becomes the configured shares.
func normalise(t []float64, in []In, totalW float64) {
	sum := 0.0
	for _, x := range t {
		sum += x
	}
	for i := range t {
		if sum > 0 {
			t[i] /= sum
		} else {
			t[i] = in[i].Weight / totalW
		}
	}
}

// applyFloor raises every share below Floor × its configured share to
// that and takes the difference from the others in proportion; t sums to
// 1 before and after. Raising some may push others under: a few passes.
func applyFloor(t []float64, in []In, totalW, floor float64) {
	if floor <= 0 {
		return
	}
	var fixedBuf [64]bool
	fixed := fixedBuf[:0]
	if len(t) > len(fixedBuf) {
		fixed = make([]bool, 0, len(t))
	}
	fixed = fixed[:len(t)]
	for range t {
		fixedSum, freeSum := 0.0, 0.0
		changed := false
		for i := range t {
			f := floor * in[i].Weight / totalW
			if !fixed[i] && t[i] < f {
				fixed[i], changed = true, true
			}
			if fixed[i] {
				t[i] = f
				fixedSum += f
			} else {
				freeSum += t[i]
			}
		}
		if !changed {
			return
		}
		if freeSum <= 0 {
			normalise(t, in, totalW)
			return
		}
		for i := range t {
			if !fixed[i] {
				t[i] *= (1 - fixedSum) / freeSum
			}
		}
	}
}

// leastLoad: target_i ∝ share_i / max(smoothed load_i, Idle); a member
// without a load (or, steering by answers, measured for less than
// Warmup) keeps its smoothed share, and the members with one share the
// rest.
//
// share_i is the member's share of the requests served when every member
// with a load has a rate, else its smoothed share of the answers. The
// served share is what resolvers' caches actually delivered: divided by
// the load it caused, measured at the same backend over the same
// interval, it is the member's capacity (net of load gslb does not steer)
// whatever the caches did, so the target holds still while the answers'
// share only reaches the backend through the caches' noise.
func leastLoad(p Params, members []*Member, t []float64) []float64 {
	// The rate is used when every member with a load has one. Then the
	// warm-up does not apply: it waits for the load to reflect the share
	// of answers given, and the served share and the load it caused come
	// from the same requests.
	rates, byRate, any := 0.0, true, false
	for _, m := range members {
		m.Served = 0
		if m.HasLoad {
			any = true
			rates += m.Rate
			byRate = byRate && m.HasRate
		}
	}
	byRate = byRate && any && rates > 0
	steers := func(m *Member) bool { return m.HasLoad && (byRate || m.measured >= p.Warmup) }
	rest := 0.0
	for _, m := range members {
		if steers(m) {
			rest += m.SmoothShare
		}
	}
	share := func(m *Member) float64 {
		if byRate {
			m.Served = m.Rate / rates
			return m.Served
		}
		return m.SmoothShare
	}
	ratios := 0.0
	for _, m := range members {
		if steers(m) {
			ratios += share(m) / max(m.Load, p.Idle)
		}
	}
	for _, m := range members {
		switch {
		case !steers(m):
			t = append(t, m.SmoothShare)
		case ratios > 0:
			t = append(t, rest*(share(m)/max(m.Load, p.Idle))/ratios)
		default:
			t = append(t, m.SmoothShare)
		}
	}
	return t
}

// fastest: target_i ∝ weight_i × min(1, (fastest + tolerance) /
// latency_i); a member without a latency counts as the fastest.
func fastest(p Params, members []*Member, in []In, t []float64) []float64 {
	best := math.Inf(1)
	for _, m := range members {
		if m.HasLatency {
			best = min(best, m.Latency)
		}
	}
	tol := max(p.Tolerance.Seconds(), p.ToleranceRatio*best)
	for i, m := range members {
		f := 1.0
		if m.HasLatency && !math.IsInf(best, 1) && m.Latency > best+tol {
			f = (best + tol) / m.Latency
		}
		t = append(t, in[i].Weight*f)
	}
	return t
}

// shed: target_i ∝ weight_i × (1 below Low, 0 above High, linear
// between); above High a member keeps its weight while no member is below
// High (there is nowhere better to send the load).
func shed(p Params, members []*Member, in []In, t []float64) []float64 {
	room := false
	for _, m := range members {
		if !m.HasLoad || m.Load < p.High {
			room = true
		}
	}
	for i, m := range members {
		f := 1.0
		if m.HasLoad {
			switch {
			case m.Load >= p.High:
				f = 0
				if !room {
					f = 1
				}
			case m.Load > p.Low:
				f = (p.High - m.Load) / (p.High - p.Low)
			}
		}
		t = append(t, in[i].Weight*f)
	}
	return t
}
