package zones

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	backendUpDesc = prometheus.NewDesc("gslb_backend_up",
		"Whether a backend gets answers (healthy or forced up, and not drained or forced down).",
		[]string{"service", "backend"}, nil)
	backendHealthyDesc = prometheus.NewDesc("gslb_backend_healthy",
		"Whether a backend's health checks pass, whatever its admin state.",
		[]string{"service", "backend"}, nil)
	backendPendingDesc = prometheus.NewDesc("gslb_backend_pending",
		"Whether a backend waits for its first probe result (in no answer until then).",
		[]string{"service", "backend"}, nil)
	backendWeightDesc = prometheus.NewDesc("gslb_backend_effective_weight",
		"The weight selection uses: the configured weight scaled by the control law and slow start.",
		[]string{"service", "backend"}, nil)
	steerShareDesc = prometheus.NewDesc("gslb_steering_share",
		"The share of its pool's answers a backend's control law gives it (0..1), before slow start.",
		[]string{"service", "backend", "law"}, nil)
	steerTargetDesc = prometheus.NewDesc("gslb_steering_target",
		"The share a backend's control law aims at (0..1); the share moves toward it by at most max_change a second.",
		[]string{"service", "backend", "law"}, nil)
	steerSignalDesc = prometheus.NewDesc("gslb_steering_signal",
		"A backend's signal as its control law read it at the last step (load: utilisation, 1 = capacity; latency in seconds; error_rate 0..1; request_rate, requests served per second). Absent while missing or stale.",
		[]string{"service", "backend", "signal"}, nil)
	steerStaleDesc = prometheus.NewDesc("gslb_steering_signal_stale",
		"1 when the signal a backend's control law needs (load for least_load and shed, latency for fastest) is missing or stale, so that the law treats it as neutral.",
		[]string{"service", "backend", "signal"}, nil)
	slowStartDesc = prometheus.NewDesc("gslb_backend_slow_start_ramp",
		"A backend's slow-start factor (0..1; 1 once ramped up).",
		[]string{"service", "backend"}, nil)
)

// BackendCollector exports the state of every backend of the snapshot in
// use, which snapshot returns (nil: none yet): whether it gets answers
// (gslb_backend_up), whether its checks pass (gslb_backend_healthy) or
// have not reported yet (gslb_backend_pending), its effective weight, and
// for steered backends the factors of their control law and slow start
// (gslb_steering_*, gslb_backend_slow_start_ramp).
// The label set follows the configuration, reloads included.
type BackendCollector struct {
	snapshot func() *Snapshot
}

// NewBackendCollector returns a collector of the backends of the snapshot
// that snapshot returns at each scrape.
func NewBackendCollector(snapshot func() *Snapshot) *BackendCollector {
	return &BackendCollector{snapshot: snapshot}
}

// Describe sends the descriptors of the backend metrics.
func (c *BackendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backendUpDesc
	ch <- backendHealthyDesc
	ch <- backendPendingDesc
	ch <- backendWeightDesc
	ch <- steerShareDesc
	ch <- steerTargetDesc
	ch <- steerSignalDesc
	ch <- steerStaleDesc
	ch <- slowStartDesc
}

// Collect sends one up and one healthy series per backend.
func (c *BackendCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	if s == nil {
		return
	}
	for _, svc := range s.Services() {
		name := strings.TrimSuffix(svc.Name, ".")
		for _, b := range svc.Backends {
			ch <- prometheus.MustNewConstMetric(backendUpDesc, prometheus.GaugeValue, one(b.Serving()), name, b.Name)
			healthy := b.State() == nil || b.State().Up()
			ch <- prometheus.MustNewConstMetric(backendHealthyDesc, prometheus.GaugeValue, one(healthy), name, b.Name)
			ch <- prometheus.MustNewConstMetric(backendPendingDesc, prometheus.GaugeValue, one(b.Pending()), name, b.Name)
			ch <- prometheus.MustNewConstMetric(backendWeightDesc, prometheus.GaugeValue, b.EffectiveWeight(), name, b.Name)
			collectFactors(ch, name, b)
		}
	}
}

// collectFactors sends the steering series of a backend with a control
// law or slow start, as of its last step.
func collectFactors(ch chan<- prometheus.Metric, service string, b *Backend) {
	f, ok := b.Factors()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(slowStartDesc, prometheus.GaugeValue, f.Ramp, service, b.Name)
	if f.Law == "" {
		return
	}
	ch <- prometheus.MustNewConstMetric(steerShareDesc, prometheus.GaugeValue, f.Smoothed.Share, service, b.Name, f.Law)
	ch <- prometheus.MustNewConstMetric(steerTargetDesc, prometheus.GaugeValue, f.Smoothed.Target, service, b.Name, f.Law)
	if f.Signals.HasLoad {
		ch <- prometheus.MustNewConstMetric(steerSignalDesc, prometheus.GaugeValue, f.Signals.Load, service, b.Name, "load")
	}
	if f.Signals.HasLatency {
		ch <- prometheus.MustNewConstMetric(steerSignalDesc, prometheus.GaugeValue, f.Signals.Latency.Seconds(), service, b.Name, "latency")
	}
	ch <- prometheus.MustNewConstMetric(steerSignalDesc, prometheus.GaugeValue, f.Signals.ErrorRate, service, b.Name, "error_rate")
	if f.Signals.HasRate {
		ch <- prometheus.MustNewConstMetric(steerSignalDesc, prometheus.GaugeValue, f.Signals.Rate, service, b.Name, "request_rate")
	}
	need, has := "load", f.Signals.HasLoad
	if f.Law == "fastest" {
		need, has = "latency", f.Signals.HasLatency
	}
	ch <- prometheus.MustNewConstMetric(steerStaleDesc, prometheus.GaugeValue, one(!has), service, b.Name, need)
}

// one is 1 for true, 0 for false.
func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
