package zones

import (
	"net/netip"
	"time"

	"github.com/gslb/gslb/health"
)

// metricsDoc is a metrics table as written, on a service (for every
// backend) or on a backend (its keys override the service's): where a
// backend's own Prometheus metrics are and which series carry its load and
// latency (health.ScrapeSpec).
type metricsDoc struct {
	Address     tomlString `toml:"address"`
	Port        tomlInt    `toml:"port" range:"1..65535"`
	Path        tomlString `toml:"path"`
	Scheme      tomlString `toml:"scheme"`
	Interval    duration   `toml:"interval"`
	Timeout     duration   `toml:"timeout"`
	Utilization tomlString `toml:"utilization"`
	Connections tomlString `toml:"connections"`
	Requests    tomlString `toml:"requests"`
	Latency     tomlString `toml:"latency"`
	Quantile    tomlNumber `toml:"quantile" range:"0.01..0.999"`
	// Capacity divides connections or the request rate into a
	// utilisation (1 = capacity); per backend, usually.
	Capacity tomlNumber `toml:"capacity" range:"0..1000000000"`
}

// Defaults of a metrics table.
const (
	defaultMetricsInterval = 5 * time.Second
	defaultMetricsPath     = "/metrics"
)

// Metrics is where a backend's own metrics are scraped and how they give
// its load: the utilisation series as it is, or connections or requests
// per second divided by Capacity.
type Metrics struct {
	Spec     health.ScrapeSpec
	Capacity float64
}

// metrics builds a backend's Metrics from the service's table and its
// own (either may be nil); ok is false when neither is written or the
// result is unusable (reported at path).
func (l *zoneLoader) metrics(svc, b *metricsDoc, addr netip.Addr, svcPath, bPath []string) (Metrics, bool) {
	if svc == nil && b == nil {
		return Metrics{}, false
	}
	var d metricsDoc
	path := svcPath
	if svc != nil {
		d = *svc
	}
	if b != nil {
		path = bPath
		over := func(dst *tomlString, src tomlString) {
			if src.set {
				*dst = src
			}
		}
		over(&d.Address, b.Address)
		over(&d.Path, b.Path)
		over(&d.Scheme, b.Scheme)
		over(&d.Utilization, b.Utilization)
		over(&d.Connections, b.Connections)
		over(&d.Requests, b.Requests)
		over(&d.Latency, b.Latency)
		if b.Port.set {
			d.Port = b.Port
		}
		if b.Interval.set {
			d.Interval = b.Interval
		}
		if b.Timeout.set {
			d.Timeout = b.Timeout
		}
		if b.Quantile.set {
			d.Quantile = b.Quantile
		}
		if b.Capacity.set {
			d.Capacity = b.Capacity
		}
	}
	fail := func(format string, args ...any) { l.e.key(path, format, args...) }
	host := netip.AddrPortFrom(addr, 0)
	if d.Address.ok() && d.Address.v != "" {
		ap, err := netip.ParseAddrPort(d.Address.v)
		if err != nil {
			ip, err2 := netip.ParseAddr(d.Address.v)
			if err2 != nil {
				fail("address %q: want IP or IP:port", d.Address.v)
				return Metrics{}, false
			}
			ap = netip.AddrPortFrom(ip, 0)
		}
		host = ap
	}
	if d.Port.ok() {
		if host.Port() != 0 {
			fail("port is given twice: in address %q and as port", d.Address.v)
		}
		host = netip.AddrPortFrom(host.Addr(), uint16(d.Port.v))
	}
	if host.Port() == 0 {
		fail("metrics need a port (port = 9464, or address = \"IP:port\")")
		return Metrics{}, false
	}
	scheme := "http"
	if d.Scheme.ok() && d.Scheme.v != "" {
		scheme = d.Scheme.v
		if scheme != "http" && scheme != "https" {
			fail("scheme %q: want \"http\" or \"https\"", scheme)
			return Metrics{}, false
		}
	}
	p := defaultMetricsPath
	if d.Path.ok() && d.Path.v != "" {
		p = d.Path.v
	}
	s := health.ScrapeSpec{URL: scheme + "://" + host.String() + p, Interval: defaultMetricsInterval}
	d.Interval.to(&s.Interval)
	s.Timeout = min(s.Interval/2, 2*time.Second)
	d.Timeout.to(&s.Timeout)
	d.Quantile.to(&s.Quantile)
	sel := func(name string, v tomlString, dst *health.Selector) {
		if !v.ok() || v.v == "" {
			return
		}
		x, err := health.ParseSelector(v.v)
		if err != nil {
			l.e.key(append(path[:len(path):len(path)], name), "%v", err)
			return
		}
		*dst = x
	}
	sel("utilization", d.Utilization, &s.Utilization)
	sel("connections", d.Connections, &s.Connections)
	sel("requests", d.Requests, &s.Requests)
	sel("latency", d.Latency, &s.Latency)
	m := Metrics{Spec: s}
	d.Capacity.to(&m.Capacity)
	if s.Utilization.IsZero() && m.Capacity <= 0 && (!s.Connections.IsZero() || !s.Requests.IsZero()) && s.Latency.IsZero() {
		fail("connections and requests give a load only with capacity = N (what the backend serves at 100 %%)")
	}
	if err := s.Check(); err != nil {
		fail("%v", err)
		return Metrics{}, false
	}
	return m, true
}

// Load is the backend's utilisation from its scraped metrics at now: the
// utilisation series, else connections or requests per second over
// Capacity; stale (older than three intervals) or missing gives false.
func (m *Metrics) load(sc *health.Scraped, now time.Time) (float64, bool) {
	fresh := func(v float64, at time.Time, ok bool) (float64, bool) {
		if !ok || now.Sub(at) > 3*m.Spec.Interval {
			return 0, false
		}
		return v, true
	}
	if v, ok := fresh(sc.Utilization()); ok {
		return v, true
	}
	if m.Capacity > 0 {
		if v, ok := fresh(sc.Connections()); ok {
			return v / m.Capacity, true
		}
		if v, ok := fresh(sc.RequestRate()); ok {
			return v / m.Capacity, true
		}
	}
	return 0, false
}

// rate is the scraped request rate at now, if fresh.
func (m *Metrics) rate(sc *health.Scraped, now time.Time) (float64, bool) {
	v, at, ok := sc.RequestRate()
	if !ok || now.Sub(at) > 3*m.Spec.Interval {
		return 0, false
	}
	return v, true
}

// latency is the scraped latency quantile at now, if fresh.
func (m *Metrics) latency(sc *health.Scraped, now time.Time) (time.Duration, bool) {
	d, at, ok := sc.Latency()
	if !ok || now.Sub(at) > 3*m.Spec.Interval {
		return 0, false
	}
	return d, true
}
