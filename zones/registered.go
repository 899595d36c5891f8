package zones

import (
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones/scale"
)

// Backends an agent registered through the API (health.Registry) join a
// service that opts in (registration = true) when a snapshot is compiled:
// they are compiled with the configured backends, by the same code, into
// the pools the configuration has, so that registration can never change
// a routing rule. A registration that cannot be compiled (its pool is
// gone, its name is now a configured backend's) is left out and said so
// in Snapshot.Dropped; it never fails a load.

// Backend sources.
const (
	SourceConfig     = "config"
	SourceRegistered = "registered"
)

// RegisteredBackend is a registered backend as the compiler needs it.
type RegisteredBackend struct {
	Name    string
	Address netip.Addr
	// Pool is the pool it joins; "" for a service with one pool.
	Pool   string
	Weight float64
	// Capacity, above 0, is what its metrics' connections or requests
	// are at full load.
	Capacity float64
	// CheckPort and CheckPath, when set, replace the port and (http,
	// https) the path of the service's check for this backend.
	CheckPort uint16
	CheckPath string
	// Renewed: its lease has been renewed since it registered. A
	// backend without a check, whose lease is its health, is in no
	// answer until then (starting).
	Renewed bool
}

// Registrations returns the registered backends of a service (by its
// name, lower case, without the final dot); nil: none.
type Registrations func(service string) []RegisteredBackend

// LoadOptions are what LoadWith adds to the files.
type LoadOptions struct {
	// Registered gives the registered backends of the services that take
	// them.
	Registered Registrations
}

// DroppedRegistration is a registered backend left out of a snapshot.
type DroppedRegistration struct {
	ID     string
	Reason string
}

// maxRegisteredDefault is a service's default bound on registered
// backends.
const maxRegisteredDefault = 100

// CheckRegistration reports why r cannot join service svc, by the rules
// the configuration's backends follow, naming the field at fault (as the
// registration API takes it); nil when it can. The compiler checks again,
// against the configuration it compiles.
func CheckRegistration(svc *Service, r RegisteredBackend) error {
	switch {
	case !svc.Registration:
		return fmt.Errorf("service %s does not take registrations (registration = true)", strings.TrimSuffix(svc.Name, "."))
	case !backendName.MatchString(r.Name):
		return fmt.Errorf("name %q: use 1 to 64 letters, digits, '.', '_' or '-'", r.Name)
	case !r.Address.IsValid() || r.Address.Zone() != "":
		return fmt.Errorf("address: want an IP address")
	case r.Address.IsUnspecified() || r.Address.IsMulticast() || r.Address.IsLinkLocalUnicast():
		return fmt.Errorf("address %v: an unspecified, multicast or link-local address cannot be answered", r.Address)
	case r.Weight < 0 || r.Weight > 1000000 || r.Weight != r.Weight:
		return fmt.Errorf("weight %v: want 0..1000000 (0: standby)", r.Weight)
	case r.Capacity < 0 || r.Capacity > 1e9 || r.Capacity != r.Capacity:
		return fmt.Errorf("capacity %v: want 0..1000000000", r.Capacity)
	case r.CheckPath != "" && !strings.HasPrefix(r.CheckPath, "/"):
		return fmt.Errorf("check.path %q must start with /", r.CheckPath)
	case len(r.CheckPath) > 1024:
		return fmt.Errorf("check.path: at most 1024 bytes")
	}
	for _, b := range svc.Backends {
		if b.Name == r.Name && b.Source != SourceRegistered {
			return fmt.Errorf("name %q is a configured backend of the service", r.Name)
		}
	}
	if _, err := svc.registeredPool(r.Pool); err != nil {
		return err
	}
	return nil
}

// registeredPool is the pool a registration joins.
func (s *Service) registeredPool(name string) (*Pool, error) {
	if name == "" {
		if len(s.Pools) == 1 {
			return s.Pools[0], nil
		}
		names := make([]string, len(s.Pools))
		for i, p := range s.Pools {
			names[i] = p.Name
		}
		return nil, fmt.Errorf("pool: the service has %d pools, name one: %s", len(s.Pools), strings.Join(names, ", "))
	}
	for _, p := range s.Pools {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("pool %q: the service has no such pool", name)
}

// registered compiles the service's registered backends after its
// configured ones: each gets the service's check (with its port and path
// override) and metrics, and joins its pool. byName and names are the
// configured backends'.
func (l *zoneLoader) registered(s *Service, doc *serviceDoc, svcProbe *probeTable, byName map[string]*Backend, names map[string]int) {
	if !s.Registration || l.reg == nil {
		return
	}
	svcName := strings.ToLower(strings.TrimSuffix(s.Name, "."))
	regs := l.reg(svcName)
	count := 0
	for _, r := range regs {
		id := svcName + "/" + r.Name
		drop := func(format string, args ...any) {
			*l.dropped = append(*l.dropped, DroppedRegistration{ID: id, Reason: fmt.Sprintf(format, args...)})
		}
		if _, dup := names[r.Name]; dup {
			drop("name %q is a configured backend of the service", r.Name)
			continue
		}
		if count >= s.MaxRegistered {
			drop("the service takes at most %d registered backends (max_registered)", s.MaxRegistered)
			continue
		}
		if !backendName.MatchString(r.Name) || !r.Address.IsValid() {
			drop("bad name or address")
			continue
		}
		ip := r.Address.Unmap()
		// The service's check, compiled for this address, silently: it
		// compiled for the configured backends already.
		saved := l.e.list
		var ignore ErrorList
		l.e.list = &ignore
		probe := l.probe(svcProbe, l.probeTable(toml.Primitive{}, false, []string{"registered", r.Name, "check"}), ip)
		m, hasMetrics := Metrics{}, false
		if doc.Metrics != nil {
			md := metricsDoc{}
			if r.Capacity > 0 {
				md.Capacity.v, md.Capacity.set = r.Capacity, true
			}
			m, hasMetrics = l.metrics(doc.Metrics, &md, ip, []string{"registered", r.Name, "metrics"}, []string{"registered", r.Name, "metrics"})
		}
		l.e.list = saved
		if len(ignore) > 0 {
			drop("its check or metrics do not compile: %s", ignore[0].Msg)
			continue
		}
		if probe.Kind != health.KindNone {
			if r.CheckPort != 0 {
				probe.Addr = netip.AddrPortFrom(probe.Addr.Addr(), r.CheckPort)
			}
			if r.CheckPath != "" && (probe.Kind == health.KindHTTP || probe.Kind == health.KindHTTPS) {
				probe.HTTP.Path = r.CheckPath
			}
			if err := probe.Check(); err != nil {
				drop("check: %v", err)
				continue
			}
		}
		be := &Backend{ID: id, Name: r.Name, Addr: ip, Weight: r.Weight, seed: hashString(id), Check: probe, Source: SourceRegistered, held: probe.Kind == health.KindNone && !r.Renewed}
		if hasMetrics {
			be.Metrics = &m
		}
		p, err := s.registeredPool(r.Pool)
		if err != nil {
			drop("%v", err)
			continue
		}
		clash := false
		for _, o := range p.Members {
			if o.Addr == ip {
				drop("address %s is that of backend %s in pool %s: an answer would hold the same record twice (RFC 2181 section 5.2)", ip, o.Name, p.Name)
				clash = true
				break
			}
		}
		if clash {
			continue
		}
		names[r.Name] = -1
		byName[r.Name] = be
		s.Backends = append(s.Backends, be)
		p.Members = append(p.Members, be)
		count++
	}
}

// recordedFiles serves what a load read, so that a snapshot can be
// compiled again with other registrations from the same configuration,
// whatever the files hold by then.
type recordedFiles struct {
	modes map[string]fs.FileMode
	files map[string][]byte
	dirs  map[string][]fs.DirEntry
	globs map[string][]string
}

// recorder is a Files that records what it serves.
type recorder struct {
	Files
	rec *recordedFiles
}

func (r recorder) ReadFile(name string, limit int64) ([]byte, error) {
	b, err := r.Files.ReadFile(name, limit)
	if err == nil {
		r.rec.files[name] = b
	}
	return b, err
}

func (r recorder) Mode(name string) (fs.FileMode, error) {
	m := fileMode(r.Files, name)
	r.rec.modes[name] = m
	return m, nil
}

func (r recorder) ReadDir(name string) ([]fs.DirEntry, error) {
	d, err := r.Files.ReadDir(name)
	if err == nil {
		r.rec.dirs[name] = d
	}
	return d, err
}

func (r recorder) Glob(pattern string) ([]string, error) {
	g, err := r.Files.Glob(pattern)
	if err == nil {
		r.rec.globs[pattern] = g
	}
	return g, err
}

func (f *recordedFiles) ReadFile(name string, limit int64) ([]byte, error) {
	if b, ok := f.files[name]; ok {
		return b, nil
	}
	return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
}

func (f *recordedFiles) ReadDir(name string) ([]fs.DirEntry, error) {
	if d, ok := f.dirs[name]; ok {
		return d, nil
	}
	return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
}

func (f *recordedFiles) Glob(pattern string) ([]string, error) { return f.globs[pattern], nil }

func (f *recordedFiles) Mode(name string) (fs.FileMode, error) { return f.modes[name], nil }

// WithRegistered compiles the snapshot's configuration again, from the
// files as they were read, with reg's registered backends: what a change
// of registrations swaps in.
func (s *Snapshot) WithRegistered(reg Registrations) (*Snapshot, error) {
	return LoadWith(s.sources, s.Files[0], LoadOptions{Registered: reg})
}

// scaleDoc is a service's [scale] table: the scaling rule of its pools.
type scaleDoc struct {
	Low           tomlNumber  `toml:"low" range:"0.01..10"`
	High          tomlNumber  `toml:"high" range:"0.01..10"`
	Min           tomlInt     `toml:"min" range:"1..10000"`
	Max           tomlInt     `toml:"max" range:"1..10000"`
	Cooldown      duration    `toml:"cooldown"`
	Stabilization duration    `toml:"stabilization"`
	Warmup        duration    `toml:"warmup"`
	Webhooks      stringArray `toml:"webhooks"`
}

// scaling reads the service's scale table.
func (l *zoneLoader) scaling(s *Service, doc *serviceDoc, path []string) {
	d := doc.Scale
	if d == nil {
		return
	}
	at := append(path[:len(path):len(path)], "scale")
	var sp scale.Spec
	d.Low.to(&sp.Low)
	d.High.to(&sp.High)
	toInt(&d.Min, &sp.Min)
	toInt(&d.Max, &sp.Max)
	if d.Cooldown.ok() {
		sp.Cooldown = d.Cooldown.v
	}
	if d.Stabilization.ok() {
		sp.Stabilization = d.Stabilization.v
	}
	if d.Warmup.ok() {
		sp.Warmup = d.Warmup.v
	}
	sp = sp.WithDefaults()
	if err := sp.Check(); err != nil {
		l.e.key(at, "%v", err)
		return
	}
	for _, u := range d.Webhooks.v {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			l.e.key(append(at, "webhooks"), "%q: want an http or https URL", u)
			return
		}
	}
	if len(d.Webhooks.v) > 0 && l.cfg.WebhookSecretFile == "" {
		l.e.key(append(at, "webhooks"), "webhooks are signed: set [webhooks] secret_file in the main file")
		return
	}
	s.Scale = &sp
	s.Webhooks = d.Webhooks.v
}
