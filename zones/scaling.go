package zones

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gslb/gslb/zones/scale"
	"github.com/prometheus/client_golang/prometheus"
)

// Scaling keeps the scaler of every pool of the services with a scale
// table, by pool ("service/pool"), so that it survives reloads, and steps
// them once a second after the steering laws.
type Scaling struct {
	// Signals gives the load of backends of a service without a control
	// law (nil: ProbeSignals); with a law its smoothed load counts.
	Signals SignalSource

	mu    sync.Mutex
	pools map[string]*scalePool
}

type scalePool struct {
	service, pool string
	spec          scale.Spec
	state         scale.State
	events        map[string]int // by action
	touched       bool
}

// ScaleEvent is a pool's scaling event with the names and an idempotency
// key: the same on every member of a fleet that decides it at the same
// tick (their ticks are the wall clock's seconds).
type ScaleEvent struct {
	scale.Event
	Service, Pool string
	Key           string
	// Webhooks are the service's URLs to tell.
	Webhooks []string
}

// PoolScale is what the metrics and the API show of a pool's scaler.
type PoolScale struct {
	Service, Pool  string
	Current        int
	Desired        int
	Recommendation string
	Utilization    float64 // NaN: no signal
	Spec           scale.Spec
	Events         map[string]int
	LastEvent      time.Time
}

// NewScaling returns an empty store.
func NewScaling() *Scaling { return &Scaling{pools: map[string]*scalePool{}} }

// Step moves every scaled pool of the snapshot one step at now and
// returns the events. A pool's members are its serving backends (a
// draining, down or starting one is no capacity); each counts with its
// weight as its capacity and its smoothed load.
func (sc *Scaling) Step(s *Snapshot, now time.Time) []ScaleEvent {
	src := sc.Signals
	if src == nil {
		src = ProbeSignals
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, p := range sc.pools {
		p.touched = false
	}
	var out []ScaleEvent
	for _, svc := range s.Services() {
		if svc.Scale == nil {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(svc.Name, "."))
		for _, pool := range svc.Pools {
			id := name + "/" + pool.Name
			p := sc.pools[id]
			if p == nil {
				p = &scalePool{service: name, pool: pool.Name, events: map[string]int{}}
				sc.pools[id] = p
			}
			p.touched, p.spec = true, *svc.Scale
			var members []scale.Member
			for _, b := range pool.Members {
				if !b.Serving() || b.Weight <= 0 {
					continue
				}
				m := scale.Member{Capacity: b.Weight, InService: time.Hour}
				if st := b.State(); st != nil && st.Probed() {
					m.InService = now.Sub(st.Since())
				}
				if f, ok := b.Factors(); ok && f.Law != "" {
					m.Load, m.HasLoad = f.Smoothed.Load, f.Smoothed.HasLoad
				} else {
					sig := src(b, now)
					m.Load, m.HasLoad = sig.Load, sig.HasLoad
				}
				members = append(members, m)
			}
			if ev, ok := p.state.Step(p.spec, members, now); ok {
				p.events[ev.Action]++
				sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d|%d|%d", id, ev.Action, ev.From, ev.To, now.Unix()))
				out = append(out, ScaleEvent{Event: ev, Service: name, Pool: pool.Name, Key: hex.EncodeToString(sum[:16]), Webhooks: svc.Webhooks})
			}
		}
	}
	for id, p := range sc.pools {
		if !p.touched {
			delete(sc.pools, id)
		}
	}
	return out
}

// Pools returns every scaled pool's state, by service and pool.
func (sc *Scaling) Pools() []PoolScale {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make([]PoolScale, 0, len(sc.pools))
	for _, p := range sc.pools {
		ev := make(map[string]int, len(p.events))
		for k, v := range p.events {
			ev[k] = v
		}
		u := p.state.Utilization
		if p.state.Recommendation == "" {
			u = math.NaN()
		}
		out = append(out, PoolScale{Service: p.service, Pool: p.pool, Current: p.state.Current, Desired: p.state.Desired,
			Recommendation: p.state.Recommendation, Utilization: u, Spec: p.spec, Events: ev, LastEvent: p.state.LastEvent})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Pool < out[j].Pool
	})
	return out
}

var (
	poolBackendsDesc  = prometheus.NewDesc("gslb_pool_backends", "Serving backends of a scaled pool, as its scaler counted them at its last step.", []string{"service", "pool"}, nil)
	poolDesiredDesc   = prometheus.NewDesc("gslb_pool_desired_backends", "The size the scaler recommends for the pool (stabilised for scale-in, within min and max).", []string{"service", "pool"}, nil)
	poolUtilDesc      = prometheus.NewDesc("gslb_pool_utilization", "The pool's utilisation as the scaler read it: its warm serving members' smoothed loads weighted by their weights (1 = capacity); absent without a signal.", []string{"service", "pool"}, nil)
	poolRecDesc       = prometheus.NewDesc("gslb_pool_scale_recommendation", "1 for the scaler's current recommendation of the pool (scale_out, hold, scale_in), 0 for the others.", []string{"service", "pool", "recommendation"}, nil)
	scaleEventsDesc   = prometheus.NewDesc("gslb_scale_events_total", "Scaling events given for the pool (the recommendation, past its cooldown), by action.", []string{"service", "pool", "action"}, nil)
	scaleCooldownDesc = prometheus.NewDesc("gslb_pool_scale_cooldown_seconds", "Time left before the pool's next event may be given (0: none pending).", []string{"service", "pool"}, nil)
)

// Describe implements prometheus.Collector.
func (sc *Scaling) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolBackendsDesc, poolDesiredDesc, poolUtilDesc, poolRecDesc, scaleEventsDesc, scaleCooldownDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (sc *Scaling) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, p := range sc.Pools() {
		if p.Recommendation == "" {
			continue // not stepped yet
		}
		ch <- prometheus.MustNewConstMetric(poolBackendsDesc, prometheus.GaugeValue, float64(p.Current), p.Service, p.Pool)
		ch <- prometheus.MustNewConstMetric(poolDesiredDesc, prometheus.GaugeValue, float64(p.Desired), p.Service, p.Pool)
		if !math.IsNaN(p.Utilization) {
			ch <- prometheus.MustNewConstMetric(poolUtilDesc, prometheus.GaugeValue, p.Utilization, p.Service, p.Pool)
		}
		for _, r := range []string{scale.ScaleOut, scale.Hold, scale.ScaleIn} {
			v := 0.0
			if r == p.Recommendation {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(poolRecDesc, prometheus.GaugeValue, v, p.Service, p.Pool, r)
		}
		for _, a := range []string{scale.ScaleOut, scale.ScaleIn} {
			ch <- prometheus.MustNewConstMetric(scaleEventsDesc, prometheus.CounterValue, float64(p.Events[a]), p.Service, p.Pool, a)
		}
		left := 0.0
		if !p.LastEvent.IsZero() {
			left = max(p.Spec.Cooldown-now.Sub(p.LastEvent), 0).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(scaleCooldownDesc, prometheus.GaugeValue, left, p.Service, p.Pool)
	}
}
