package geo

import "github.com/prometheus/client_golang/prometheus"

var (
	lookupsDesc = prometheus.NewDesc("gslb_geoip_lookups_total", "GeoIP lookups of client addresses.", nil, nil)
	missesDesc  = prometheus.NewDesc("gslb_geoip_misses_total", "GeoIP lookups that found no location (the configured default answers).", nil, nil)
	buildDesc   = prometheus.NewDesc("gslb_geoip_database_build_timestamp_seconds", "When the GeoIP database in use was built, as a Unix time.", []string{"type"}, nil)
)

// Describe sends the descriptors of the locator's metrics: a Locator is a
// prometheus.Collector, registered by the server on its registry.
func (l *Locator) Describe(ch chan<- *prometheus.Desc) {
	ch <- lookupsDesc
	ch <- missesDesc
	ch <- buildDesc
}

// Collect sends the lookups, the misses and the build time of the
// database in use.
func (l *Locator) Collect(ch chan<- prometheus.Metric) {
	lookups, misses := l.Stats()
	ch <- prometheus.MustNewConstMetric(lookupsDesc, prometheus.CounterValue, float64(lookups))
	ch <- prometheus.MustNewConstMetric(missesDesc, prometheus.CounterValue, float64(misses))
	t, built, _ := l.DB()
	ch <- prometheus.MustNewConstMetric(buildDesc, prometheus.GaugeValue, float64(built.Unix()), t)
}
