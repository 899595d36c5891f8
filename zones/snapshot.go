package zones

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is a complete, compiled configuration: the main settings and
// every zone. It is never changed after Load returns it, so the query path
// reads it without locks; a reload builds a new one and swaps the pointer.
type Snapshot struct {
	Config *Config
	// Zones are the zones in the order of their files.
	Zones []*Zone
	// Files are every file the snapshot was read from, for watching.
	Files []string
	// Hash identifies the content of all files read.
	Hash string
	// ZonesHash identifies the content of the zone files alone: what is
	// served. The members of a fleet compare it (their main files differ:
	// each has its own [cluster] name and addresses).
	ZonesHash string
	// Warnings are settings that are valid but do nothing ("warning: "
	// messages with their positions); gslb check prints them and serve
	// logs them, but they never fail a load.
	Warnings ErrorList
	// LoadedAt is when the snapshot was built.
	LoadedAt time.Time
	// Dropped are the registered backends left out (LoadWith).
	Dropped []DroppedRegistration

	byName  map[string]*Zone
	sources *recordedFiles // what was read, for WithRegistered
}

// Load reads the main configuration file and every zone file it names,
// checks them and compiles a snapshot. On failure the error is an ErrorList
// holding every problem found, each with its file and position.
func Load(files Files, configFile string) (*Snapshot, error) {
	return LoadWith(files, configFile, LoadOptions{})
}

// LoadWith is Load with the registered backends of opts.
func LoadWith(files Files, configFile string, opts LoadOptions) (*Snapshot, error) {
	rec := &recordedFiles{modes: map[string]fs.FileMode{}, files: map[string][]byte{}, dirs: map[string][]fs.DirEntry{}, globs: map[string][]string{}}
	files = recorder{files, rec}
	var list ErrorList
	src, err := files.ReadFile(configFile, DefaultFileMax)
	if err != nil {
		return nil, ErrorList{{File: configFile, Msg: fmt.Sprintf("cannot read configuration: %v", UnwrapPath(err))}}
	}
	hash, zonesHash := sha256.New(), sha256.New()
	hash.Write(src)
	cfg := parseConfig(files, configFile, src, &list)
	if cfg == nil {
		return nil, list
	}
	s := &Snapshot{Config: cfg, Files: []string{configFile}, byName: map[string]*Zone{}, sources: rec}
	for _, f := range cfg.ZoneFiles {
		s.Files = append(s.Files, f)
		zsrc, err := files.ReadFile(f, cfg.ZoneFileMax)
		if err != nil {
			list = append(list, &Error{File: f, Msg: fmt.Sprintf("cannot read zone file: %v", UnwrapPath(err))})
			continue
		}
		// Content only, not paths: instances that mount the same files at
		// other paths report the same hash.
		hash.Write(zsrc)
		zonesHash.Write(zsrc)
		z := parseZone(cfg, files, f, zsrc, &list, &s.Warnings, opts, &s.Dropped)
		if z == nil {
			continue
		}
		if sg := z.signing; sg != nil {
			// The keys are part of the configuration: another key is
			// another configuration, the same keys elsewhere the same.
			for _, k := range sg.Keys {
				hash.Write([]byte(k.DNSKEY.String()))
				zonesHash.Write([]byte(k.DNSKEY.String()))
			}
		}
		if other, dup := s.byName[z.origin]; dup {
			list = append(list, &Error{File: f, Line: 1, Msg: fmt.Sprintf("zone %s is already loaded from %s", z.Origin, other.File)})
			continue
		}
		s.byName[z.origin] = z
		s.Zones = append(s.Zones, z)
	}
	if len(list) > 0 {
		list.sortByPosition()
		return nil, list
	}
	s.Warnings.sortByPosition()
	s.Hash = hex.EncodeToString(hash.Sum(nil))[:16]
	s.ZonesHash = hex.EncodeToString(zonesHash.Sum(nil))[:16]
	s.LoadedAt = time.Now()
	return s, nil
}

// LoadConfig reads and checks the main configuration file alone, without
// its zones: for tools (gslb ctl) that need its addresses and files while
// a zone may be broken.
func LoadConfig(files Files, configFile string) (*Config, error) {
	var list ErrorList
	src, err := files.ReadFile(configFile, DefaultFileMax)
	if err != nil {
		return nil, ErrorList{{File: configFile, Msg: fmt.Sprintf("cannot read configuration: %v", UnwrapPath(err))}}
	}
	cfg := parseConfig(files, configFile, src, &list)
	if len(list) > 0 {
		list.sortByPosition()
		return nil, list
	}
	return cfg, nil
}

// UnwrapPath drops the path a file system error repeats, for a message
// that already names the file.
func UnwrapPath(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil && strings.Contains(err.Error(), " ") {
		return u.Unwrap()
	}
	return err
}

// Zone returns the zone that holds the lower-case FQDN name: the longest
// zone origin that is a suffix of it, found by walking the labels. It
// returns nil when no zone holds the name.
func (s *Snapshot) Zone(lower string) *Zone {
	for off, end := 0, false; !end; off, end = dns.NextLabel(lower, off) {
		if z := s.byName[lower[off:]]; z != nil {
			return z
		}
	}
	return nil
}

// Services returns every service of every zone.
func (s *Snapshot) Services() []*Service {
	var out []*Service
	for _, z := range s.Zones {
		out = append(out, z.Services...)
	}
	return out
}

// Specs returns the distinct health checks of every backend.
func (s *Snapshot) Specs() []health.Spec {
	seen := map[health.Spec]bool{}
	var out []health.Spec
	for _, svc := range s.Services() {
		for _, b := range svc.Backends {
			if !seen[b.Check] {
				seen[b.Check] = true
				out = append(out, b.Check)
			}
		}
	}
	return out
}

// Bind connects every backend to its health state, admin override and
// (for services with a control law or slow start) weight multiplier, and
// every service to its all-down counter (a vector labelled by service and
// policy). admin, steering and allDown may be nil. It is called once,
// before the snapshot serves.
func (s *Snapshot) Bind(states map[health.Spec]*health.State, admin *health.Admin, steering *Steering, allDown *prometheus.CounterVec) {
	s.BindEach(func(b *Backend) *health.State { return states[b.Check] }, admin, steering, allDown)
}

// BindEach is Bind with a health state chosen per backend rather than per
// check (backends sharing a check share its state when serving): gslb
// test injects each backend's health.
func (s *Snapshot) BindEach(state func(*Backend) *health.State, admin *health.Admin, steering *Steering, allDown *prometheus.CounterVec) {
	for _, svc := range s.Services() {
		if allDown != nil {
			svc.allDown = allDown.WithLabelValues(strings.TrimSuffix(svc.Name, "."), svc.WhenAllDown)
		}
		for _, b := range svc.Backends {
			b.state = state(b)
			if admin != nil {
				b.admin = admin.Slot(b.ID)
			}
			if steering != nil && svc.steered() {
				b.steer = steering.slot(b.ID, svc.SlowStart)
			}
		}
	}
	if steering != nil {
		steering.MarkRunning()
	}
}

// ScrapeSpecs returns the distinct metrics scrapes of every backend.
func (s *Snapshot) ScrapeSpecs() []health.ScrapeSpec {
	seen := map[health.ScrapeSpec]bool{}
	var out []health.ScrapeSpec
	for _, svc := range s.Services() {
		for _, b := range svc.Backends {
			if b.Metrics != nil && !seen[b.Metrics.Spec] {
				seen[b.Metrics.Spec] = true
				out = append(out, b.Metrics.Spec)
			}
		}
	}
	return out
}

// BindScrapes connects every backend with metrics to the values scraped
// for it. Call it before the snapshot serves.
func (s *Snapshot) BindScrapes(scraped map[health.ScrapeSpec]*health.Scraped) {
	for _, svc := range s.Services() {
		for _, b := range svc.Backends {
			if b.Metrics != nil {
				b.scraped = scraped[b.Metrics.Spec]
			}
		}
	}
}

// InheritHealth gives every backend still pending its first probe result
// the health of the same backend in prev, the snapshot serving before this
// one, when its check changed only in details: same backend ID, answered
// and probed at the same address. A reload that changes a check's interval
// or path thus neither empties the answers nor lets a down backend back
// in; a backend new to the configuration, or at a new address, waits for
// its first result. Call it after Bind, before the new probes start.
func (s *Snapshot) InheritHealth(prev *Snapshot) {
	if prev == nil {
		return
	}
	old := map[string]*Backend{}
	for _, svc := range prev.Services() {
		for _, b := range svc.Backends {
			old[b.ID] = b
		}
	}
	for _, svc := range s.Services() {
		for _, b := range svc.Backends {
			p := old[b.ID]
			if p == nil || b.state == nil || p.state == nil || !b.state.Pending() {
				continue
			}
			if p.Addr != b.Addr || p.Check.Addr != b.Check.Addr || p.Check.Kind != b.Check.Kind {
				continue
			}
			b.state.Inherit(p.state)
		}
	}
}

// BindAnswers makes the snapshot count answers per backend in counts (nil
// for none). Call it before the snapshot serves.
func (s *Snapshot) BindAnswers(counts *AnswerCounts) {
	if counts != nil {
		counts.bind(s)
	}
}
