package zones

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// AnswerCounts counts the answers each backend was given, by service, pool
// and backend: the traffic each backend is being sent. Counters are kept
// by name, so they survive reloads; it is a prometheus.Collector.
type AnswerCounts struct {
	mu     sync.Mutex
	counts map[answerKey]*atomic.Uint64
}

type answerKey struct{ service, pool, backend string }

// NewAnswerCounts returns an empty set of counters.
func NewAnswerCounts() *AnswerCounts {
	return &AnswerCounts{counts: map[answerKey]*atomic.Uint64{}}
}

func (a *AnswerCounts) counter(k answerKey) *atomic.Uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.counts[k]
	if !ok {
		c = new(atomic.Uint64)
		a.counts[k] = c
	}
	return c
}

// bind gives every pool member of the snapshot its counter.
func (a *AnswerCounts) bind(s *Snapshot) {
	for _, svc := range s.Services() {
		name := strings.TrimSuffix(strings.ToLower(svc.Name), ".")
		for _, p := range svc.Pools {
			for _, g := range []*group{&p.v4, &p.v6} {
				g.counts = make([]*atomic.Uint64, len(g.members))
				for i, b := range g.members {
					g.counts[i] = a.counter(answerKey{name, p.Name, b.Name})
				}
			}
		}
	}
}

// Get returns the answers given so far for a backend in a pool.
func (a *AnswerCounts) Get(service, pool, backend string) uint64 {
	a.mu.Lock()
	c := a.counts[answerKey{strings.TrimSuffix(strings.ToLower(service), "."), pool, backend}]
	a.mu.Unlock()
	if c == nil {
		return 0
	}
	return c.Load()
}

var answersDesc = prometheus.NewDesc("gslb_answers_total",
	"Answers given with a backend's address, by service, pool and backend.",
	[]string{"service", "pool", "backend"}, nil)

// Describe implements prometheus.Collector.
func (a *AnswerCounts) Describe(ch chan<- *prometheus.Desc) { ch <- answersDesc }

// Collect implements prometheus.Collector.
func (a *AnswerCounts) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, c := range a.counts {
		ch <- prometheus.MustNewConstMetric(answersDesc, prometheus.CounterValue, float64(c.Load()), k.service, k.pool, k.backend)
	}
}
