package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/zones"
	"github.com/prometheus/client_golang/prometheus"
)

// RRLConfig sets response rate limiting as BIND, NSD and Knot do it: per
// client network and kind of response, a token bucket of responses per
// second. Over the limit a response is dropped, except every Slip-th,
// which is sent empty with TC set so that a real client retries over TCP
// (where there is no limit: TCP sources cannot be spoofed).
type RRLConfig struct {
	// Answers, NXDomains and Errors are the responses per second allowed
	// per client network for answers (data, NODATA, referrals), NXDOMAIN
	// and errors (REFUSED, FORMERR, SERVFAIL, NOTIMP). 0 turns a kind's
	// limit off.
	Answers, NXDomains, Errors float64
	// Slip: every Slip-th limited response is sent truncated; 0 never.
	Slip uint64
	// IPv4Prefix and IPv6Prefix group clients into networks.
	IPv4Prefix, IPv6Prefix int
	// Exempt networks are never limited.
	Exempt []netip.Prefix
}

// RRL kinds of responses.
const (
	rrlAnswer = iota
	rrlNXDomain
	rrlError
)

// Token amounts are fixed point: 1 token = rrlUnit.
const rrlUnit = 1024

// RRL is a response rate limiter with a fixed-size table: memory does not
// grow however many networks send queries (a spoofed flood from millions
// of networks only recycles slots, which can make the limit looser for a
// moment, never stricter). It uses atomics only.
type RRL struct {
	cfg     atomic.Pointer[RRLConfig]
	table   []rrlEntry
	mask    uint64
	start   time.Time
	slipped atomic.Uint64
	dropped atomic.Uint64
	limited atomic.Uint64 // limited responses, for the slip count
}

type rrlEntry struct {
	key   atomic.Uint64
	state atomic.Uint64 // tokens (high 32 bits, in 1/rrlUnit) | time (low 32 bits, ms)
}

// DefaultRRLTableSize is the number of buckets: 1<<18 = 262,144 (4 MiB).
const DefaultRRLTableSize = 1 << 18

// NewRRL returns a limiter with size buckets (rounded up to a power of 2).
func NewRRL(cfg RRLConfig, size int) *RRL {
	n := 1
	for n < size {
		n <<= 1
	}
	r := &RRL{table: make([]rrlEntry, n), mask: uint64(n - 1), start: time.Now()}
	r.Configure(cfg)
	return r
}

// Configure changes the limits; the buckets stay.
func (r *RRL) Configure(cfg RRLConfig) {
	c := cfg
	r.cfg.Store(&c)
}

// Stats returns how many responses were dropped and slipped.
func (r *RRL) Stats() (dropped, slipped uint64) { return r.dropped.Load(), r.slipped.Load() }

// decision is what to do with one UDP response.
type decision uint8

const (
	rrlSend decision = iota
	rrlDrop
	rrlSlip
)

// check takes a token for a response of the kind to a client, at now.
func (r *RRL) check(client netip.Addr, kind int, now time.Time) decision {
	cfg := r.cfg.Load()
	rate := cfg.Answers
	switch kind {
	case rrlNXDomain:
		rate = cfg.NXDomains
	case rrlError:
		rate = cfg.Errors
	}
	if rate <= 0 {
		return rrlSend
	}
	client = client.Unmap()
	for _, p := range cfg.Exempt {
		if p.Contains(client) {
			return rrlSend
		}
	}
	bits := cfg.IPv4Prefix
	if client.Is6() {
		bits = cfg.IPv6Prefix
	}
	net := netip.PrefixFrom(client, bits).Masked().Addr().As16()
	key := hashKey(net, kind)
	e := &r.table[key&r.mask]
	ms := uint32(now.Sub(r.start).Milliseconds())
	burst := max(uint64(rate*rrlUnit), rrlUnit) // one second's worth, at least one
	for {
		st := e.state.Load()
		var tokens uint64
		stamp := uint32(st)
		if e.key.Load() != key {
			// A new network, or another one's slot: start full.
			e.key.Store(key)
			tokens, stamp = burst, ms
		} else {
			tokens = st >> 32
			last := uint32(st)
			// Readers run concurrently: a query stamped a little before the
			// last update refills nothing rather than wrap around.
			if elapsed := int32(ms - last); elapsed > 0 {
				add := uint64(float64(elapsed) * rate * rrlUnit / 1000)
				if add > 0 {
					// Only then move the time on, so that slow rates add up
					// fractions over many queries instead of losing them.
					tokens = min(tokens+add, burst)
					stamp = ms
				}
			}
		}
		allowed := tokens >= rrlUnit
		if allowed {
			tokens -= rrlUnit
		}
		if e.state.CompareAndSwap(st, tokens<<32|uint64(stamp)) {
			if allowed {
				return rrlSend
			}
			break
		}
	}
	if cfg.Slip > 0 && r.limited.Add(1)%cfg.Slip == 0 {
		r.slipped.Add(1)
		return rrlSlip
	}
	r.dropped.Add(1)
	return rrlDrop
}

// hashKey mixes a network and a kind into a non-zero key.
func hashKey(net [16]byte, kind int) uint64 {
	h := zones.Mix64(binary.BigEndian.Uint64(net[:8]) ^ uint64(kind)<<56)
	h = zones.Mix64(h ^ binary.BigEndian.Uint64(net[8:]))
	return h | 1
}

// rrlKind classifies a response by its rcode.
func rrlKind(rcode int) int {
	switch rcode {
	case 0:
		return rrlAnswer
	case 3:
		return rrlNXDomain
	}
	return rrlError
}

var (
	rrlDroppedDesc = prometheus.NewDesc("gslb_rrl_dropped_total", "UDP responses dropped by response rate limiting.", nil, nil)
	rrlSlippedDesc = prometheus.NewDesc("gslb_rrl_slipped_total", "UDP responses rate limited and sent truncated (slip), so that real clients retry over TCP.", nil, nil)
)

// Describe implements prometheus.Collector.
func (r *RRL) Describe(ch chan<- *prometheus.Desc) {
	ch <- rrlDroppedDesc
	ch <- rrlSlippedDesc
}

// Collect implements prometheus.Collector.
func (r *RRL) Collect(ch chan<- prometheus.Metric) {
	d, s := r.Stats()
	ch <- prometheus.MustNewConstMetric(rrlDroppedDesc, prometheus.CounterValue, float64(d))
	ch <- prometheus.MustNewConstMetric(rrlSlippedDesc, prometheus.CounterValue, float64(s))
}
