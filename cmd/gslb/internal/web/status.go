package web

import (
	"math"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
	"github.com/miekg/dns"
)

// statusJSON is the document GET /api/v1/status returns. Its field names
// are documented in README.md and checked by TestStatusSchema.
type statusJSON struct {
	Version  string        `json:"version"`
	Now      time.Time     `json:"now"`
	Config   configJSON    `json:"config"`
	GeoIP    *geoJSON      `json:"geoip"`
	Zones    []zoneJSON    `json:"zones"`
	Services []serviceJSON `json:"services"`
}

// configJSON is the configuration in use.
type configJSON struct {
	File            string    `json:"file"`
	Hash            string    `json:"hash"`
	LoadedAt        time.Time `json:"loaded_at"`
	LastReloadError *string   `json:"last_reload_error"`
}

// geoJSON is the GeoIP database in use.
type geoJSON struct {
	Type      string    `json:"type"`
	BuildTime time.Time `json:"build_time"`
	ASNType   string    `json:"asn_type"`
}

// zoneJSON is one zone.
type zoneJSON struct {
	Origin   string    `json:"origin"`
	Serial   uint32    `json:"serial"`
	File     string    `json:"file"`
	LoadedAt time.Time `json:"loaded_at"`
	// DNSSEC is how the zone is signed, absent when it is not.
	DNSSEC *dnssecJSON `json:"dnssec,omitempty"`
}

// dnssecJSON is a signed zone's signing.
type dnssecJSON struct {
	Keys []signingKeyJSON `json:"keys"`
	NSEC string           `json:"nsec"`
	// CDS is what the apex's CDS and CDNSKEY ask the parent for: "none",
	// "keys" or "delete".
	CDS                      string  `json:"cds"`
	SignatureValiditySeconds float64 `json:"signature_validity_seconds"`
	// SignaturesExpire is when the signatures made now expire;
	// NextSigning when the next window starts, from which answers carry
	// new signatures (the old ones are valid until they expire).
	SignaturesExpire time.Time `json:"signatures_expire"`
	NextSigning      time.Time `json:"next_signing"`
}

// signingKeyJSON is one key of a signed zone, with the DS its parent
// must have.
type signingKeyJSON struct {
	Tag       uint16 `json:"tag"`
	Algorithm string `json:"algorithm"`
	DS        string `json:"ds"`
	File      string `json:"file"`
}

// signingView describes a zone's signing at now (nil when unsigned).
func signingView(z *zones.Zone, now time.Time) *dnssecJSON {
	sg := z.Signing()
	if sg == nil {
		return nil
	}
	w := dnssec.WindowAt(now, sg.Validity)
	d := &dnssecJSON{NSEC: "compact", CDS: sg.CDS, SignatureValiditySeconds: sg.Validity.Seconds(), SignaturesExpire: w.Expires(), NextSigning: w.Renewed(sg.Validity)}
	for _, k := range sg.Keys {
		d.Keys = append(d.Keys, signingKeyJSON{Tag: k.Tag, Algorithm: dnssec.AlgorithmName(k.DNSKEY.Algorithm), DS: k.DNSKEY.ToDS(dns.SHA256).String(), File: k.File})
	}
	return d
}

// serviceJSON is one service with its pools and backends.
type serviceJSON struct {
	Name        string        `json:"name"`
	TTL         uint32        `json:"ttl"`
	Policy      string        `json:"policy"`
	Members     string        `json:"members"`
	Answers     int           `json:"answers"`
	MinHealthy  int           `json:"min_healthy"`
	WhenAllDown string        `json:"when_all_down"`
	Pools       []poolJSON    `json:"pools"`
	Backends    []backendJSON `json:"backends"`
}

// poolJSON is one pool: its backends by name.
type poolJSON struct {
	Name     string   `json:"name"`
	Backends []string `json:"backends"`
}

// recentAnswers is the last minute of the answer counters, so that the
// status can show each backend's share of its service's answers over a
// sliding minute, however often (or seldom) it is read.
//
// Run takes a sample every answerEvery; reads take none. A share is of the
// answers between the baseline, the oldest sample no older than
// answerWindow, and the live counters read with the status, so answers of
// the last partial second count and answers older than a minute do not (to
// the second: the window is between 59 and 60 s long while Run samples).
// When every sample is older than a minute (a Server that Run does not
// drive, in tests), the baseline is the newest sample.
//
// The first sample, taken by New, is the start: it stands for counters that
// are all zero, as the binary's are when the process starts. Until a minute
// has passed, a share is therefore of every answer since start, those given
// before New included.
//
// A sample holds one count per counter (service, pool, backend) of the
// snapshot in use when it was taken, 8 bytes each in a layout the samples
// of one snapshot share, so memory is bounded by answerSamples times 8
// bytes times the pool members of the configuration (49 MB for 100,000). After the first minute, a
// counter absent from the baseline (a backend or pool membership that a
// reload added) counts from the first sample that has it, and not at all
// before that sample: its history starts there, so up to answerEvery of
// its answers right after the reload are not counted, and the counts a
// re-added backend kept from before (counters are kept by name) do not
// return. A backend that a reload removed is not in the status, and drops
// out of the samples as they are replaced.
type recentAnswers struct {
	mu      sync.Mutex
	samples []answerSample // oldest first, at most answerSamples
	// lay is the layout of the samples of the snapshot layFor, which it
	// does not keep alive.
	lay    *answerLayout
	layFor weak.Pointer[zones.Snapshot]
	// hour is the last hour by minute, fed from the same samples.
	hour answerHistory
}

// answerSample is the answer counters at one time.
type answerSample struct {
	at     time.Time
	counts *answerVec // nil: the start, where every counter is zero
}

// answerVec is the values of a layout's counters, in its order: the
// compact form of the samples kept for a minute (8 bytes a counter,
// where a map of them took about 140; 61 such maps held 0.8 GiB for
// 100,000 pool members).
type answerVec struct {
	lay *answerLayout
	n   []uint64
}

// answerLayout is the answer counters of one snapshot's pool members, in
// a fixed order, shared by the samples taken while it is in use. It
// holds their names only, never the snapshot.
type answerLayout struct {
	keys  []answerKey
	index map[answerKey]int
}

// newAnswerLayout lays out the counters of the pool members of svcs.
func newAnswerLayout(svcs []*zones.Service) *answerLayout {
	l := &answerLayout{index: map[answerKey]int{}}
	for _, svc := range svcs {
		for _, p := range svc.Pools {
			for _, b := range p.Members {
				k := answerKey{svc.Name, p.Name, b.Name}
				if _, ok := l.index[k]; !ok {
					l.index[k] = len(l.keys)
					l.keys = append(l.keys, k)
				}
			}
		}
	}
	return l
}

// get returns counter k's value and whether the vector has it (a nil
// vector has none).
func (v *answerVec) get(k answerKey) (uint64, bool) {
	if v == nil {
		return 0, false
	}
	i, ok := v.lay.index[k]
	if !ok {
		return 0, false
	}
	return v.n[i], true
}

// answerKey names one answer counter: zones.AnswerCounts counts by service,
// pool and backend name.
type answerKey struct{ service, pool, backend string }

const (
	answerEvery   = time.Second                       // how often Run samples
	answerWindow  = time.Minute                       // the span of a share
	answerSamples = int(answerWindow/answerEvery) + 1 // both ends of a minute: 61
)

// start forgets every sample and makes at the start, where every counter
// is zero.
func (r *recentAnswers) start(at time.Time) {
	r.hour.start(at)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples[:0], answerSample{at: at})
}

// add appends a sample, dropping the oldest beyond answerSamples.
func (r *recentAnswers) add(smp answerSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == answerSamples {
		copy(r.samples, r.samples[1:])
		r.samples = r.samples[:answerSamples-1]
	}
	r.samples = append(r.samples, smp)
}

// since returns the samples from the baseline of a share read at now on,
// oldest first: from the oldest sample no older than answerWindow, else
// the newest. The caller holds r.mu.
func (r *recentAnswers) since(now time.Time) []answerSample {
	if len(r.samples) == 0 {
		return nil
	}
	cut := now.Add(-answerWindow)
	for i, smp := range r.samples {
		if !smp.at.Before(cut) {
			return r.samples[i:]
		}
	}
	return r.samples[len(r.samples)-1:]
}

// base returns counter k's count at the start of the window, the samples
// from the baseline on: at the first sample that has it, else now (live).
func base(window []answerSample, k answerKey, live uint64) uint64 {
	for _, smp := range window {
		if smp.counts == nil {
			return 0
		}
		if n, ok := smp.counts.get(k); ok {
			return min(n, live)
		}
	}
	return live
}

// answerCounts reads the answer counters of snap's pool members (nil
// without counters).
func (s *Server) answerCounts(snap *zones.Snapshot) map[answerKey]uint64 {
	if snap == nil {
		return nil
	}
	return s.answerCountsOf(snap.Services())
}

// answerCountsOf reads the answer counters of the pool members of svcs
// (nil without counters).
func (s *Server) answerCountsOf(svcs []*zones.Service) map[answerKey]uint64 {
	if s.deps.Answers == nil {
		return nil
	}
	counts := map[answerKey]uint64{}
	for _, svc := range svcs {
		for _, p := range svc.Pools {
			for _, b := range p.Members {
				counts[answerKey{svc.Name, p.Name, b.Name}] = s.deps.Answers.Get(svc.Name, p.Name, b.Name)
			}
		}
	}
	return counts
}

// sampleAnswers records, as of at, the counters of the snapshot in use.
// Run calls it every answerEvery.
func (s *Server) sampleAnswers(at time.Time) {
	if s.deps.Answers == nil {
		return
	}
	v := s.recent.read(s.deps.Handler.Snapshot(), s.deps.Answers)
	s.recent.add(answerSample{at: at, counts: v})
	s.recent.hour.observe(at, v)
}

// read returns the answer counters of snap's pool members now, in the
// layout of snap, made at its first sample.
func (r *recentAnswers) read(snap *zones.Snapshot, a *zones.AnswerCounts) *answerVec {
	r.mu.Lock()
	if r.layFor.Value() != snap || r.lay == nil {
		r.lay, r.layFor = newAnswerLayout(snap.Services()), weak.Make(snap)
	}
	lay := r.lay
	r.mu.Unlock()
	v := &answerVec{lay: lay, n: make([]uint64, len(lay.keys))}
	for i, k := range lay.keys {
		v.n[i] = a.Get(k.service, k.pool, k.backend)
	}
	return v
}

// shares returns each backend of snap its share of its service's answers
// over the last minute (NaN when the service answered nothing), as
// recentAnswers says. It takes no sample.
func (s *Server) shares(snap *zones.Snapshot) map[string]float64 {
	out, _ := s.sharesOf(snap.Services())
	return out
}

// sharesOf is shares for the services svcs alone, with the live counters
// it read (nil without counters).
func (s *Server) sharesOf(svcs []*zones.Service) (map[string]float64, map[answerKey]uint64) {
	out := map[string]float64{}
	live := s.answerCountsOf(svcs)
	if live == nil {
		return out, nil
	}
	now := s.now()
	delta := make(map[answerKey]uint64, len(live))
	r := &s.recent
	r.mu.Lock()
	window := r.since(now)
	for k, n := range live {
		delta[k] = n - base(window, k, n)
	}
	r.mu.Unlock()
	for _, svc := range svcs {
		total := 0.0
		by := map[string]float64{}
		for _, p := range svc.Pools {
			for _, b := range p.Members {
				d := float64(delta[answerKey{svc.Name, p.Name, b.Name}])
				by[b.ID] += d
				total += d
			}
		}
		for _, b := range svc.Backends {
			if total > 0 {
				out[b.ID] = by[b.ID] / total
			} else {
				out[b.ID] = math.NaN()
			}
		}
	}
	return out, live
}

// status builds the status document.
func (s *Server) status() statusJSON {
	snap := s.deps.Handler.Snapshot()
	st := statusJSON{
		Version: s.deps.Version,
		Now:     s.now().UTC(),
		Config: configJSON{
			File:            snap.Config.File,
			Hash:            snap.Hash,
			LoadedAt:        snap.LoadedAt.UTC(),
			LastReloadError: s.lastReloadError(),
		},
		Zones:    []zoneJSON{},
		Services: []serviceJSON{},
	}
	if s.deps.ConfigFile != "" {
		st.Config.File = s.deps.ConfigFile
	}
	if s.deps.Geo != nil {
		t, built, asn := s.deps.Geo.DB()
		st.GeoIP = &geoJSON{Type: t, BuildTime: built.UTC(), ASNType: asn}
	}
	for _, z := range snap.Zones {
		st.Zones = append(st.Zones, zoneJSON{Origin: z.Origin, Serial: z.SOA.Serial, File: z.File, LoadedAt: snap.LoadedAt.UTC(), DNSSEC: signingView(z, st.Now)})
	}
	shares := s.shares(snap)
	for _, svc := range snap.Services() {
		sj := serviceJSON{
			Name: strings.TrimSuffix(svc.Name, "."), TTL: svc.TTL, Policy: svc.Policy, Members: svc.Members,
			Answers: svc.Answers, MinHealthy: svc.MinHealthy, WhenAllDown: svc.WhenAllDown,
			Pools: []poolJSON{}, Backends: []backendJSON{},
		}
		for _, p := range svc.Pools {
			pj := poolJSON{Name: p.Name, Backends: []string{}}
			for _, b := range p.Members {
				pj.Backends = append(pj.Backends, b.Name)
			}
			sj.Pools = append(sj.Pools, pj)
		}
		for _, b := range svc.Backends {
			bj := backendView(svc, b)
			bj.AnswerShare = shareOf(shares, b.ID)
			bj.Fleet = s.fleetView(b)
			sj.Backends = append(sj.Backends, bj)
		}
		st.Services = append(st.Services, sj)
	}
	return st
}

// shareOf returns a backend's share of recent answers, nil when its
// service answered nothing lately.
func shareOf(shares map[string]float64, id string) *float64 {
	if s, ok := shares[id]; ok && !math.IsNaN(s) {
		return &s
	}
	return nil
}
