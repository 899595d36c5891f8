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
)

// BackendCollector exports the state of every backend of the snapshot in
// use, which snapshot returns (nil: none yet): whether it gets answers
// (gslb_backend_up) and whether its checks pass (gslb_backend_healthy).
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
		}
	}
}

// one is 1 for true, 0 for false.
func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
