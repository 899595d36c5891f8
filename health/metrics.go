package health

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the checker's Prometheus metrics, labelled by probe target
// (bounded by the configuration, never by clients).
type metrics struct {
	targetUp    *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	results     *prometheus.CounterVec
	transitions *prometheus.CounterVec
	rtt         *prometheus.GaugeVec
	load        *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		targetUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gslb", Subsystem: "health", Name: "target_up",
			Help: "Whether a probe target is healthy (1) or not (0).",
		}, []string{"target"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gslb", Subsystem: "health", Name: "probe_duration_seconds",
			Help:    "Duration of health probes.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"target"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gslb", Subsystem: "health", Name: "probes_total",
			Help: "Health probes by outcome (success, failure).",
		}, []string{"target", "outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gslb", Subsystem: "health", Name: "transitions_total",
			Help: "Changes of a probe target between up and down, by new state.",
		}, []string{"target", "state"}),
		rtt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gslb", Subsystem: "health", Name: "rtt_seconds",
			Help: "Moving average of successful probe durations.",
		}, []string{"target"}),
		load: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gslb", Subsystem: "health", Name: "reported_load_ratio",
			Help: "Load a backend reports, as a share of its capacity.",
		}, []string{"target"}),
	}
	if reg != nil {
		reg.MustRegister(m.targetUp, m.duration, m.results, m.transitions, m.rtt, m.load)
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) upSet(target string, up bool) { m.targetUp.WithLabelValues(target).Set(b2f(up)) }

func (m *metrics) observe(t string, r Result, st *State) {
	m.duration.WithLabelValues(t).Observe(r.Duration.Seconds())
	outcome := "failure"
	if r.OK {
		outcome = "success"
	}
	m.results.WithLabelValues(t, outcome).Inc()
	m.upSet(t, st.Up())
	m.rtt.WithLabelValues(t).Set(st.RTT().Seconds())
	if l, ok := st.Load(); ok {
		m.load.WithLabelValues(t).Set(l)
	}
}

func (m *metrics) transition(target string, up bool) {
	state := "down"
	if up {
		state = "up"
	}
	m.transitions.WithLabelValues(target, state).Inc()
}

// forget drops the series of a target that is no longer probed.
func (m *metrics) forget(t string) {
	for _, v := range []interface{ DeleteLabelValues(...string) bool }{m.targetUp, m.duration, m.rtt, m.load} {
		v.DeleteLabelValues(t)
	}
	for _, o := range []string{"success", "failure"} {
		m.results.DeleteLabelValues(t, o)
	}
	for _, st := range []string{"up", "down"} {
		m.transitions.DeleteLabelValues(t, st)
	}
}
