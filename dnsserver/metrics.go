package dnsserver

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// qtypes are the query types counted by name; the rest count as "other".
var qtypes = [...]uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeSOA, dns.TypeCNAME, dns.TypeMX, dns.TypeTXT,
	dns.TypeSRV, dns.TypePTR, dns.TypeCAA, dns.TypeDS, dns.TypeDNSKEY, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeANY,
	dns.TypeAXFR, dns.TypeIXFR}

// rcodes are the response codes counted by name; the rest count as "other".
var rcodes = [...]int{dns.RcodeSuccess, dns.RcodeFormatError, dns.RcodeServerFailure, dns.RcodeNameError,
	dns.RcodeNotImplemented, dns.RcodeRefused, dns.RcodeBadVers}

var qtypeIndex, rcodeIndex = func() ([65536]uint8, [4096]uint8) {
	var q [65536]uint8
	var r [4096]uint8
	for i := range q {
		q[i] = uint8(len(qtypes))
	}
	for i, t := range qtypes {
		q[t] = uint8(i)
	}
	for i := range r {
		r[i] = uint8(len(rcodes))
	}
	for i, c := range rcodes {
		r[c] = uint8(i)
	}
	return q, r
}()

// zoneStats counts queries of one zone by query type, transport and rcode.
type zoneStats [len(qtypes) + 1][2][len(rcodes) + 1]atomic.Uint64

// outsideZones labels queries for names in none of our zones.
const outsideZones = "none"

// Metrics counts what the handler does without locks on the query path;
// it is a prometheus.Collector. Zones are labelled by origin, so label
// sets follow the configuration, never the query names or clients.
type Metrics struct {
	mu    sync.Mutex // guards adding zones
	zones atomic.Pointer[map[string]*zoneStats]

	latency   [2]latencyHist
	ecs       atomic.Uint64
	truncated atomic.Uint64
	dropped   atomic.Uint64
	panics    atomic.Uint64

	cacheHits, cacheMisses atomic.Uint64
}

// NewMetrics returns the handler's metrics.
func NewMetrics() *Metrics {
	m := &Metrics{}
	zs := map[string]*zoneStats{}
	m.zones.Store(&zs)

	return m
}

func (m *Metrics) zone(name string) *zoneStats {
	if z := (*m.zones.Load())[name]; z != nil {
		return z
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.zones.Load()
	if z := old[name]; z != nil {
		return z
	}
	next := make(map[string]*zoneStats, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	z := new(zoneStats)
	next[name] = z
	m.zones.Store(&next)
	return z
}

// record counts one answered query.
func (m *Metrics) record(o *outcome, t Transport, rcode int, truncated bool) {
	zone, qtype := o.zone, o.qtype
	if zone == "" {
		zone = outsideZones
	}
	z := o.stats
	if z == nil {
		z = m.zone(zone)
	}
	if rcode < 0 || rcode >= len(rcodeIndex) {
		rcode = len(rcodeIndex) - 1
	}
	z[qtypeIndex[qtype]][t][rcodeIndex[rcode]].Add(1)
	if o.ecs {
		m.ecs.Add(1)
	}
	if truncated {
		m.truncated.Add(1)
	}
}

var (
	queriesDesc = prometheus.NewDesc("gslb_dns_queries_total",
		"DNS queries answered, by zone (\"none\" outside our zones), query type, transport and response code.",
		[]string{"zone", "qtype", "transport", "rcode"}, nil)
	ecsDesc       = prometheus.NewDesc("gslb_dns_ecs_queries_total", "Queries that carried an EDNS Client Subnet option.", nil, nil)
	truncatedDesc = prometheus.NewDesc("gslb_dns_truncated_total", "UDP answers sent truncated (TC) because they did not fit.", nil, nil)
	droppedDesc   = prometheus.NewDesc("gslb_dns_dropped_total", "Packets dropped unanswered: responses, packets shorter than a DNS header, and datagrams from port 0.", nil, nil)
	cacheHitsDesc = prometheus.NewDesc("gslb_dns_answer_cache_hits_total",
		"UDP queries answered from a reader's answer cache (replies that depend only on what the cache checks).", nil, nil)
	cacheMissesDesc = prometheus.NewDesc("gslb_dns_answer_cache_misses_total",
		"UDP queries on the fast path that the answer cache could not answer.", nil, nil)
	panicsDesc = prometheus.NewDesc("gslb_dns_panics_total", "Queries whose handling panicked and were answered SERVFAIL.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- queriesDesc
	ch <- ecsDesc
	ch <- truncatedDesc
	ch <- droppedDesc
	ch <- cacheHitsDesc
	ch <- cacheMissesDesc
	ch <- panicsDesc
	ch <- latencyDesc
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for zone, z := range *m.zones.Load() {
		for qi := range z {
			qt := "other"
			if qi < len(qtypes) {
				qt = dns.TypeToString[qtypes[qi]]
			}
			for t := range z[qi] {
				tr := Transport(t).String()
				for ri := range z[qi][t] {
					n := z[qi][t][ri].Load()
					if n == 0 {
						continue
					}
					rc := "other"
					if ri < len(rcodes) {
						rc = rcodeName(rcodes[ri])
					}
					ch <- prometheus.MustNewConstMetric(queriesDesc, prometheus.CounterValue, float64(n), zone, qt, tr, rc)
				}
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(ecsDesc, prometheus.CounterValue, float64(m.ecs.Load()))
	ch <- prometheus.MustNewConstMetric(truncatedDesc, prometheus.CounterValue, float64(m.truncated.Load()))
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(m.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(m.cacheHits.Load()))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(m.cacheMisses.Load()))
	ch <- prometheus.MustNewConstMetric(panicsDesc, prometheus.CounterValue, float64(m.panics.Load()))
	for t := range m.latency {
		m.latency[t].collect(ch, Transport(t).String())
	}
}

// latencyBuckets are the upper bounds of the latency histogram, in seconds.
var latencyBuckets = [...]float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2}

var latencyDesc = prometheus.NewDesc("gslb_dns_request_duration_seconds",
	"Time to answer a DNS query in the handler, from request bytes to reply bytes; UDP queries are timed a receive batch at a time, each at the batch's average.",
	[]string{"transport"}, nil)

// latencyHist is a histogram of atomics that can record many equal
// observations at once, as a batch of UDP queries needs.
type latencyHist struct {
	buckets [len(latencyBuckets) + 1]atomic.Uint64 // the last: above every bound
	sumNs   atomic.Uint64
}

// observe records n observations of d each.
func (h *latencyHist) observe(d time.Duration, n int) {
	s := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && s > latencyBuckets[i] {
		i++
	}
	h.buckets[i].Add(uint64(n))
	h.sumNs.Add(uint64(max(d, 0)) * uint64(n))
}

func (h *latencyHist) collect(ch chan<- prometheus.Metric, transport string) {
	cum := make(map[float64]uint64, len(latencyBuckets))
	var total uint64
	for i, ub := range latencyBuckets {
		total += h.buckets[i].Load()
		cum[ub] = total
	}
	count := total + h.buckets[len(latencyBuckets)].Load()
	ch <- prometheus.MustNewConstHistogram(latencyDesc, count, float64(h.sumNs.Load())/1e9, cum, transport)
}

// rcodeName names a response code; miekg/dns names 16 BADSIG (its TSIG
// meaning), but in a reply with OPT it is BADVERS (RFC 6891).
func rcodeName(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "other"
}
