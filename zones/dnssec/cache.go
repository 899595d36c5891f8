package dnssec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultCacheSize is the number of signatures a cache holds at most.
const DefaultCacheSize = 1 << 17

// Cache holds signatures by what they sign: the RRset in canonical form
// (owner in lower case, records sorted, the original TTL), the key and
// the validity window. A lookup is lock-free: a table of atomic pointers
// whose entries keep their whole key, so that two RRsets never share a
// signature; each key has two slots (two-choice hashing), and a new entry
// takes an empty one, else the one of the older window, which bounds the
// memory and keeps collisions rare. A miss signs, once at a time per key:
// callers missing the same key meanwhile wait for that signature.
//
// Keys in the cache survive reloads (the server keeps one cache), and a
// key's signatures are not found once the window moves on: they are
// replaced as the slots are used again.
type Cache struct {
	seed  maphash.Seed
	slots []atomic.Pointer[entry]
	mask  uint64

	mu    sync.Mutex
	calls map[string]*call

	hits, misses, signed, failed, evicted, entries atomic.Uint64
	signNanos                                      atomic.Uint64
}

type entry struct {
	key   string
	sig   Signature
	start int64 // the window's step
}

type call struct {
	done chan struct{}
	sig  Signature
	err  error
}

// Signature is an RRSIG the cache made, and its RDATA in wire form, which
// the server's fast encoder copies.
type Signature struct {
	RRSIG *dns.RRSIG
	Rdata []byte
}

// NewCache returns a cache of size signatures at most (rounded up to a
// power of two; 0 for DefaultCacheSize).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	n := 1
	for n < size {
		n <<= 1
	}
	return &Cache{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[entry], n), mask: uint64(n - 1), calls: map[string]*call{}}
}

// maxSet bounds the records of an RRset the cache sorts in place; a
// larger RRset (rare in answers) is signed without the cache.
const maxSet = 64

// packPool holds the buffers RRsets are packed in for their keys.
var packPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// keyBufPool holds the buffers keys are built in.
var keyBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Sign returns the signature of rrset (records of one owner, type and
// class) by k for the window w, with original TTL ttl; signer is the
// zone's name. The RRSIG returned is shared: its owner is rrset's as first
// signed and its TTL ttl; copy it to set another.
func (c *Cache) Sign(k *Key, signer string, rrset []dns.RR, ttl uint32, w Window) (*dns.RRSIG, error) {
	s, err := c.SignWire(k, signer, rrset, ttl, w)
	return s.RRSIG, err
}

// SignWire is Sign with the RDATA of the signature in wire form (shared:
// read only).
func (c *Cache) SignWire(k *Key, signer string, rrset []dns.RR, ttl uint32, w Window) (Signature, error) {
	bp := keyBufPool.Get().(*[]byte)
	defer keyBufPool.Put(bp)
	key, ok := canonicalKey((*bp)[:0], k, rrset, ttl, w)
	*bp = key[:0]
	if !ok {
		c.misses.Add(1)
		return c.sign(k, signer, rrset, ttl, w)
	}
	h := maphash.Bytes(c.seed, key)
	s1, s2 := &c.slots[h&c.mask], &c.slots[(h>>32|h<<32)&c.mask]
	if sig, ok := lookup(s1, s2, key); ok {
		c.hits.Add(1)
		return sig, nil
	}
	c.misses.Add(1)
	ks := string(key)
	c.mu.Lock()
	if cl, ok := c.calls[ks]; ok {
		c.mu.Unlock()
		<-cl.done
		return cl.sig, cl.err
	}
	if sig, ok := lookup(s1, s2, key); ok {
		// Stored between the first look and the lock.
		c.mu.Unlock()
		return sig, nil
	}
	cl := &call{done: make(chan struct{})}
	c.calls[ks] = cl
	c.mu.Unlock()
	cl.sig, cl.err = c.sign(k, signer, rrset, ttl, w)
	if cl.err == nil {
		// The empty slot, else the one of the older window, else the
		// first.
		slot := s1
		if e1, e2 := s1.Load(), s2.Load(); e1 != nil && (e2 == nil || e2.start < e1.start) {
			slot = s2
		}
		if old := slot.Swap(&entry{key: ks, sig: cl.sig, start: w.Start}); old == nil {
			c.entries.Add(1)
		} else {
			c.evicted.Add(1)
		}
	}
	c.mu.Lock()
	delete(c.calls, ks)
	c.mu.Unlock()
	close(cl.done)
	return cl.sig, cl.err
}

// lookup returns the signature of key in either slot.
func lookup(s1, s2 *atomic.Pointer[entry], key []byte) (Signature, bool) {
	if e := s1.Load(); e != nil && e.key == string(key) {
		return e.sig, true
	}
	if e := s2.Load(); e != nil && e.key == string(key) {
		return e.sig, true
	}
	return Signature{}, false
}

// sign makes a signature.
func (c *Cache) sign(k *Key, signer string, rrset []dns.RR, ttl uint32, w Window) (Signature, error) {
	start := time.Now()
	sig := &dns.RRSIG{
		Hdr:       dns.RR_Header{Ttl: ttl},
		Algorithm: k.DNSKEY.Algorithm, KeyTag: k.Tag, SignerName: signer,
		OrigTtl: ttl, Inception: w.Inception, Expiration: w.Expiration,
	}
	err := sig.Sign(k.Signer, rrset)
	var rdata []byte
	if err == nil {
		rdata, err = rdataOf(sig)
	}
	c.signNanos.Add(uint64(time.Since(start)))
	if err != nil {
		c.failed.Add(1)
		return Signature{}, fmt.Errorf("signing %s %s: %w", rrset[0].Header().Name, dns.TypeToString[rrset[0].Header().Rrtype], err)
	}
	c.signed.Add(1)
	return Signature{RRSIG: sig, Rdata: rdata}, nil
}

// rdataOf is an RR's RDATA in wire form, as miekg/dns packs it (RRSIG's
// signer name is never compressed).
func rdataOf(rr dns.RR) ([]byte, error) {
	buf := make([]byte, dns.Len(rr)+16)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	p := 0
	for p < n && buf[p] != 0 {
		p += int(buf[p]) + 1
	}
	p += 1 + 10 // the root label, type, class, TTL, RDLENGTH
	if p > n {
		return nil, errors.New("packed record too short")
	}
	return bytes.Clone(buf[p:n]), nil
}

// canonicalKey appends to b the cache key of rrset: the window (its step
// and its expiration), the original TTL, the key's identity, and each
// record without its TTL, in wire form with the owner in lower case,
// sorted. ok is false for an
// RRset the cache does not take.
func canonicalKey(b []byte, k *Key, rrset []dns.RR, ttl uint32, w Window) ([]byte, bool) {
	if len(rrset) == 0 || len(rrset) > maxSet {
		return b, false
	}
	b = binary.BigEndian.AppendUint64(b, uint64(w.Start))
	// The expiration too: validities whose steps start at the same
	// instant (14 and 7 days) differ in it (the inception follows from
	// the two).
	b = binary.BigEndian.AppendUint32(b, w.Expiration)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = append(b, k.id...)
	b = append(b, 0)
	// The records packed as a message's answer, uncompressed: the
	// records are the snapshot's, shared by every query, and dns.PackRR
	// would write their headers' Rdlength.
	pp := packPool.Get().(*[]byte)
	defer packPool.Put(pp)
	m := dns.Msg{Answer: rrset}
	wire, err := m.PackBuffer((*pp)[:cap(*pp)])
	if err != nil {
		return b, false
	}
	*pp = wire[:0]
	var offs [maxSet + 1]int
	base := len(b)
	off := 12
	for i := range rrset {
		offs[i] = len(b)
		start := off
		for off < len(wire) && wire[off] != 0 {
			if wire[off]&0xC0 != 0 {
				return b, false // a pointer: not packed as asked
			}
			off += int(wire[off]) + 1
		}
		off++ // the root label
		if off+10 > len(wire) {
			return b, false
		}
		name := off - start
		end := off + 10 + int(binary.BigEndian.Uint16(wire[off+8:]))
		if end > len(wire) {
			return b, false
		}
		b = append(b, wire[start:end]...)
		off = end
		// Owner in lower case; the TTL zeroed (the key has the
		// original TTL once).
		for j := offs[i]; j < offs[i]+name; j++ {
			if c := b[j]; c >= 'A' && c <= 'Z' {
				b[j] = c + 32
			}
		}
		clear(b[offs[i]+name+4 : offs[i]+name+8])
	}
	offs[len(rrset)] = len(b)
	// Records in canonical order: insertion sort of the chunks, through a
	// copy (RRsets in answers are a few records).
	n := len(rrset)
	var idxs [maxSet]int
	idx := idxs[:n]
	for i := range idx {
		idx[i] = i
	}
	chunk := func(i int) []byte { return b[offs[i]:offs[i+1]] }
	for i := 1; i < n; i++ {
		for j := i; j > 0 && bytes.Compare(chunk(idx[j-1]), chunk(idx[j])) > 0; j-- {
			idx[j-1], idx[j] = idx[j], idx[j-1]
		}
	}
	sorted := true
	for i := range idx {
		sorted = sorted && idx[i] == i
	}
	if sorted {
		return b, true
	}
	tail := append([]byte(nil), b[base:]...)
	b = b[:base]
	for _, i := range idx {
		b = append(b, tail[offs[i]-base:offs[i+1]-base]...)
	}
	return b, true
}

// Register adds the cache's series to reg.
func (c *Cache) Register(reg prometheus.Registerer) { reg.MustRegister(cacheCollector{c}) }

var (
	signedDesc    = prometheus.NewDesc("gslb_dnssec_signatures_total", "RRSIGs made (cache misses signed).", nil, nil)
	failedDesc    = prometheus.NewDesc("gslb_dnssec_signing_errors_total", "Signatures that could not be made (the answer goes out as SERVFAIL).", nil, nil)
	hitsDesc      = prometheus.NewDesc("gslb_dnssec_cache_hits_total", "Signatures found in the signature cache.", nil, nil)
	missesDesc    = prometheus.NewDesc("gslb_dnssec_cache_misses_total", "Signatures not in the signature cache (signed, or waited for).", nil, nil)
	evictedDesc   = prometheus.NewDesc("gslb_dnssec_cache_evictions_total", "Signatures replaced in the cache by another (a full cache, or a window that moved on).", nil, nil)
	entriesDesc   = prometheus.NewDesc("gslb_dnssec_cache_entries", "Signatures held in the signature cache.", nil, nil)
	sizeDesc      = prometheus.NewDesc("gslb_dnssec_cache_size", "Signatures the signature cache holds at most.", nil, nil)
	signSecsDesc  = prometheus.NewDesc("gslb_dnssec_signing_seconds_total", "Time spent making signatures.", nil, nil)
	signatureDesc = []*prometheus.Desc{signedDesc, failedDesc, hitsDesc, missesDesc, evictedDesc, entriesDesc, sizeDesc, signSecsDesc}
)

type cacheCollector struct{ c *Cache }

func (cc cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range signatureDesc {
		ch <- d
	}
}

func (cc cacheCollector) Collect(ch chan<- prometheus.Metric) {
	c := cc.c
	ch <- prometheus.MustNewConstMetric(signedDesc, prometheus.CounterValue, float64(c.signed.Load()))
	ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, float64(c.failed.Load()))
	ch <- prometheus.MustNewConstMetric(hitsDesc, prometheus.CounterValue, float64(c.hits.Load()))
	ch <- prometheus.MustNewConstMetric(missesDesc, prometheus.CounterValue, float64(c.misses.Load()))
	ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(c.evicted.Load()))
	ch <- prometheus.MustNewConstMetric(entriesDesc, prometheus.GaugeValue, float64(c.entries.Load()))
	ch <- prometheus.MustNewConstMetric(sizeDesc, prometheus.GaugeValue, float64(len(c.slots)))
	ch <- prometheus.MustNewConstMetric(signSecsDesc, prometheus.CounterValue, float64(c.signNanos.Load())/1e9)
}

// Stats are the cache's counters.
type Stats struct {
	Hits, Misses, Signed, Failed, Evicted, Entries uint64
	Signing                                        time.Duration
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Signed: c.signed.Load(), Failed: c.failed.Load(),
		Evicted: c.evicted.Load(), Entries: c.entries.Load(), Signing: time.Duration(c.signNanos.Load())}
}
