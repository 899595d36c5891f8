package zones

import (
	"net/netip"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"time"

	"github.com/BurntSushi/toml"
	"github.com/gslb/gslb/zones/steer"
	"github.com/miekg/dns"
)

// serviceDoc is a service as written. Range tags are checked by
// errs.values; the check tables are decoded per backend (probespec.go).
type serviceDoc struct {
	TTL            seconds        `toml:"ttl"`
	AdaptiveTTL    tomlBool       `toml:"adaptive_ttl"`
	MinTTL         seconds        `toml:"min_ttl"`
	Policy         tomlString     `toml:"policy"`
	Members        tomlString     `toml:"members"`
	Answers        tomlInt        `toml:"answers" range:"1..64"`
	MinHealthy     tomlInt        `toml:"min_healthy" range:"1..1000"`
	StickyPrefixV4 tomlInt        `toml:"sticky_prefix_v4" range:"0..32"`
	StickyPrefixV6 tomlInt        `toml:"sticky_prefix_v6" range:"0..128"`
	Draw           tomlString     `toml:"draw"`
	Check          toml.Primitive `toml:"check"`
	WhenAllDown    tomlString     `toml:"when_all_down"`
	Fallback       []tomlString   `toml:"fallback"`
	FallbackCNAME  tomlString     `toml:"fallback_cname"`
	Backends       []backendDoc   `toml:"backends"`
	Pools          []poolDoc      `toml:"pools"`
	Geo            *geoDoc        `toml:"geo"`
	Metrics        *metricsDoc    `toml:"metrics"`
	Steering       *steeringDoc   `toml:"steering"`
	SlowStart      *slowStartDoc  `toml:"slow_start"`
	Registration   tomlBool       `toml:"registration"`
	MaxRegistered  tomlInt        `toml:"max_registered" range:"1..10000"`
	Scale          *scaleDoc      `toml:"scale"`
}

// steeringDoc holds the parameters of a service's control law; every key
// is optional (steer.Params gives the defaults).
type steeringDoc struct {
	Smoothing    duration   `toml:"smoothing"`
	MaxChange    tomlNumber `toml:"max_change" range:"0.01..1"`
	Floor        tomlNumber `toml:"floor" range:"0..1"`
	RTTTolerance tolerance  `toml:"rtt_tolerance"`
	Low          tomlNumber `toml:"low" range:"0..10"`
	High         tomlNumber `toml:"high" range:"0..10"`
	Idle         tomlNumber `toml:"idle" range:"0..1"`
	LoadTol      tomlNumber `toml:"load_tolerance" range:"0.001..0.5"`
}

// slowStartDoc holds a service's slow start.
type slowStartDoc struct {
	Window           duration   `toml:"window"`
	MinWeightPercent tomlNumber `toml:"min_weight_percent" range:"0..100"`
	Aggression       tomlNumber `toml:"aggression" range:"0.1..10"`
}

type backendDoc struct {
	Name    tomlString     `toml:"name"`
	Address tomlString     `toml:"address"`
	Weight  tomlNumber     `toml:"weight" range:"0..1000000" hint:"0: standby"`
	Check   toml.Primitive `toml:"check"`
	Metrics *metricsDoc    `toml:"metrics"`
}

type poolDoc struct {
	Name        tomlString  `toml:"name"`
	Backends    stringArray `toml:"backends"`
	Coordinates coordinates `toml:"coordinates"`
	Bias        tomlNumber  `toml:"bias" range:"-99..99"`
}

type geoDoc struct {
	Default     stringArray                           `toml:"default"`
	Continent   valueTable[stringArray, *stringArray] `toml:"continent"`
	Country     valueTable[stringArray, *stringArray] `toml:"country"`
	Subdivision valueTable[stringArray, *stringArray] `toml:"subdivision"`
	ASN         valueTable[stringArray, *stringArray] `toml:"asn"`
	CIDR        valueTable[stringArray, *stringArray] `toml:"cidr"`
}

// backendName is what a backend name may hold: it is part of the
// backend's ID in the admin API and state file.
var backendName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// defaultMinTTL is the shortest TTL adaptive_ttl gives by default.
const defaultMinTTL = 5

// Default sticky prefixes: a client's /24 or /56 keeps its backend.
const (
	defaultStickyV4 = 24
	defaultStickyV6 = 56
)

var continents = map[string]bool{"AF": true, "AN": true, "AS": true, "EU": true, "NA": true, "OC": true, "SA": true}

// coordinates is [latitude, longitude] in degrees.
type coordinates struct {
	written
	lat, lon float64
}

// UnmarshalTOML implements toml.Unmarshaler.
func (c *coordinates) UnmarshalTOML(v any) error {
	c.written = written{set: true}
	a, _ := v.([]any)
	var ll [2]tomlNumber
	for i := range min(len(a), 2) {
		_ = ll[i].UnmarshalTOML(a[i])
	}
	c.lat, c.lon = ll[0].v, ll[1].v
	if len(a) != 2 || !ll[0].ok() || !ll[1].ok() || c.lat < -90 || c.lat > 90 || c.lon < -180 || c.lon > 180 {
		c.bad("want [latitude, longitude] in degrees")
	}
	return nil
}

// services decodes each service on its own, so that a table or an array
// written as something else (the one mistake the TOML library stops at)
// costs that service only, and compiles them.
func (l *zoneLoader) services(svcs map[string]toml.Primitive) {
	for _, key := range sortedKeys(l.e.pos, []string{"services"}, svcs) {
		path := []string{"services", key}
		doc := &serviceDoc{}
		if err := l.md.PrimitiveDecode(svcs[key], doc); err != nil {
			if l.undecodable == nil {
				l.undecodable = map[string]bool{}
			}
			l.undecodable[key] = true
			*l.e.list = append(*l.e.list, tomlError(l.e.file, nil, l.e.pos, err))
			continue
		}
		l.e.values(path, reflect.ValueOf(doc))
		name, err := l.ownerName(key, path)
		if err != nil {
			l.e.key(path, "%v", err)
			continue
		}
		if !dns.IsSubDomain(l.z.Origin, name) {
			l.e.key(path, "%q is outside the zone %s", name, l.z.Origin)
			continue
		}
		if first, dup := l.owners[strings.ToLower(name)]; dup {
			p := l.e.pos.of(first)
			what := "is already defined"
			if first[0] == "records" {
				what = "shares its name with static records"
			}
			l.e.key(path, "service %s %s at line %d (%s); a name is either a service or static records", name, what, p.Line, dotted(first))
			continue
		}
		l.owners[strings.ToLower(name)] = path
		s := l.service(name, doc, path)
		n := l.z.ensure(name)
		n.service = s
		l.z.Services = append(l.z.Services, s)
	}
	sort.Slice(l.z.Services, func(i, j int) bool { return l.z.Services[i].Name < l.z.Services[j].Name })
}

func (l *zoneLoader) service(name string, doc *serviceDoc, path []string) *Service {
	at := func(k ...string) []string { return append(path[:len(path):len(path)], k...) }
	s := &Service{Name: name, TTL: l.cfg.ServiceTTL, WhenAllDown: AllDownServeAll, MinHealthy: 1,
		StickyV4: defaultStickyV4, StickyV6: defaultStickyV6}
	s.TTL = l.ttlOf(at("ttl"), &doc.TTL, s.TTL)
	doc.AdaptiveTTL.to(&s.AdaptiveTTL)
	s.MinTTL = min(defaultMinTTL, s.TTL)
	if doc.MinTTL.ok() {
		s.MinTTL = l.ttlOf(at("min_ttl"), &doc.MinTTL, s.MinTTL)
		if s.MinTTL > s.TTL {
			l.e.key(at("min_ttl"), "%d is above the service's ttl %d", s.MinTTL, s.TTL)
		}
		if !s.AdaptiveTTL {
			l.e.key(at("min_ttl"), "min_ttl applies with adaptive_ttl = true only")
		}
	}
	l.allDown(s, doc, path)

	s.Members = MembersAll
	if doc.Members.v != "" {
		s.Members = doc.Members.v
		if s.Members != MembersAll {
			s.Answers = 1
		}
	}
	toInt(&doc.Answers, &s.Answers)
	if s.sel = selections[s.Members]; s.sel == nil {
		l.e.key(at("members"), "%q: want %s", doc.Members.v, selections.names())
	} else if s.sel.validate != nil {
		s.sel.validate(l.setup(s, doc, path))
	}
	toInt(&doc.MinHealthy, &s.MinHealthy)
	toInt(&doc.StickyPrefixV4, &s.StickyV4)
	toInt(&doc.StickyPrefixV6, &s.StickyV6)

	if len(doc.Backends) == 0 {
		l.e.key(path, "a service needs at least one backend")
	}
	svcProbe := l.probeTable(doc.Check, isWritten(doc.Check), at("check"))
	byName := map[string]*Backend{}
	names := map[string]int{}
	for i, b := range doc.Backends {
		bpath := at("backends", indexName(i))
		// A backend rejected below is still known by name, so that pools
		// naming it add no second error for the same mistake.
		if _, known := byName[b.Name.v]; b.Name.v != "" && !known {
			byName[b.Name.v] = nil
		}
		if !b.Address.ok() || b.Address.v == "" {
			if !b.Address.set && !l.e.suspected(bpath, "address") {
				l.e.key(bpath, "address missing")
			}
			continue
		}
		if !b.Name.ok() && b.Name.set {
			continue
		}
		ip, err := netip.ParseAddr(b.Address.v)
		if err != nil || ip.Zone() != "" {
			l.e.key(append(bpath, "address"), "%q is not an IP address", b.Address.v)
			continue
		}
		ip = ip.Unmap()
		bn := b.Name.v
		if bn == "" {
			bn = strings.ReplaceAll(ip.String(), ":", "-")
		}
		if !backendName.MatchString(bn) {
			l.e.key(append(bpath, "name"), "%q: use 1 to 64 letters, digits, '.', '_' or '-'", bn)
			continue
		}
		if j, dup := names[bn]; dup {
			l.e.at(append(bpath, "name"), "%s: backend name %q is already used by backends[%d]", dotted(bpath), bn, j)
			continue
		}
		names[bn] = i
		weight := 1.0
		b.Weight.to(&weight)
		id := strings.ToLower(strings.TrimSuffix(name, ".")) + "/" + bn
		probe := l.probe(svcProbe, l.probeTable(b.Check, isWritten(b.Check), append(bpath, "check")), ip)
		be := &Backend{ID: id, Name: bn, Addr: ip, Weight: weight, seed: hashString(id), Check: probe, Source: SourceConfig}
		if m, ok := l.metrics(doc.Metrics, b.Metrics, ip, at("metrics"), append(bpath, "metrics")); ok {
			be.Metrics = &m
		}
		s.Backends = append(s.Backends, be)
		byName[bn] = be
	}

	l.pools(s, doc, path, byName)
	doc.Registration.to(&s.Registration)
	s.MaxRegistered = maxRegisteredDefault
	toInt(&doc.MaxRegistered, &s.MaxRegistered)
	if doc.MaxRegistered.set && !s.Registration {
		l.e.key(at("max_registered"), "max_registered applies with registration = true only")
	}
	l.registered(s, doc, svcProbe, byName, names)
	for _, p := range s.Pools {
		p.drawSeed = hashString(strings.ToLower(name) + "/" + p.Name)
	}
	l.draw(s, doc, path)
	l.policy(s, doc, path)
	l.steering(s, doc, path)
	l.scaling(s, doc, path)
	l.inert(s, doc, path)
	return s
}

// inert warns of settings that are valid but do nothing with the rest of
// the service: an operator who wrote them expects an effect.
func (l *zoneLoader) inert(s *Service, doc *serviceDoc, path []string) {
	at := func(k ...string) []string { return append(path[:len(path):len(path)], k...) }
	switch s.Members {
	case MembersAll, MembersRoundRobin:
		for i, b := range doc.Backends {
			if b.Weight.set && b.Weight.ok() && b.Weight.v != 0 && b.Weight.v != 1 {
				l.e.warn(at("backends", indexName(i), "weight"), "weight %g does nothing with members = %q, which answers every serving member alike; only weight 0 (a standby) counts; choose members = \"weighted\" to share by weight", b.Weight.v, s.Members)
			}
		}
	}
	if s.Members != MembersSticky && !s.SharedDraw {
		for _, k := range []struct {
			key string
			set bool
		}{{"sticky_prefix_v4", doc.StickyPrefixV4.set}, {"sticky_prefix_v6", doc.StickyPrefixV6.set}} {
			if k.set {
				l.e.warn(at(k.key), "does nothing with members = %q: it applies to members = \"sticky\" and to draw = \"shared\"", s.Members)
			}
		}
	}
	if s.Policy != PolicyNearest {
		for i, p := range doc.Pools {
			if p.Coordinates.set {
				l.e.warn(at("pools", indexName(i), "coordinates"), "does nothing with policy = %q: it applies to policy = \"nearest\"", s.Policy)
			}
			if p.Bias.set {
				l.e.warn(at("pools", indexName(i), "bias"), "does nothing with policy = %q: it applies to policy = \"nearest\"", s.Policy)
			}
		}
	}
	if doc.MinHealthy.set && len(s.Pools) == 1 && s.Policy == PolicySingle {
		l.e.warn(at("min_healthy"), "does nothing with a single pool: there is no other pool to fail over to (when_all_down decides what is answered when none serves)")
	}
}

// steering sets the service's control law and slow start from its
// members and its steering and slow_start tables.
func (l *zoneLoader) steering(s *Service, doc *serviceDoc, path []string) {
	at := func(k ...string) []string { return append(path[:len(path):len(path)], k...) }
	law := lawOf(s)
	ttl := time.Duration(s.TTL) * time.Second
	if d := doc.Steering; d != nil {
		if law == "" {
			l.e.key(at("steering"), "members = %q has no control law: steering applies to least_load, fastest, shed and adaptive", s.Members)
		}
	}
	if law != "" {
		interval := time.Duration(0)
		for _, b := range s.Backends {
			interval = max(interval, b.Check.Interval)
			if b.Metrics != nil {
				interval = max(interval, b.Metrics.Spec.Interval)
			}
		}
		p := steer.Params{Law: law}.WithDefaults(ttl, interval)
		if d := doc.Steering; d != nil {
			d.Smoothing.to(&p.Smoothing)
			d.MaxChange.to(&p.MaxChange)
			d.Floor.to(&p.Floor)
			if d.RTTTolerance.ok() {
				p.Tolerance, p.ToleranceRatio = d.RTTTolerance.abs, d.RTTTolerance.ratio
			}
			d.Low.to(&p.Low)
			d.High.to(&p.High)
			d.Idle.to(&p.Idle)
			d.LoadTol.to(&p.LoadTolerance)
		}
		if err := p.Check(); err != nil {
			l.e.key(at("steering"), "%v", err)
		}
		s.Law = p
	}
	switch s.Members {
	case MembersWeighted, MembersSticky, MembersAdaptive, MembersLeastLoad, MembersFastest, MembersShed:
		ss := steer.SlowStart{}.WithDefaults(ttl)
		if d := doc.SlowStart; d != nil {
			if d.Window.ok() {
				ss.Window = d.Window.v
			}
			d.MinWeightPercent.to(&ss.MinWeightPercent)
			d.Aggression.to(&ss.Aggression)
		}
		if err := ss.Check(); err != nil {
			l.e.key(at("slow_start"), "%v", err)
		}
		s.SlowStart = ss
	default:
		if doc.SlowStart != nil {
			l.e.key(at("slow_start"), "members = %q has no weights to ramp: slow_start applies to weighted, sticky and the control laws", s.Members)
		}
	}
}

// lawOf is the control law of the service's selection, "" for none.
// adaptive is least_load where a backend's check reports load or its
// metrics give one, fastest where none does.
func lawOf(s *Service) string {
	switch s.Members {
	case MembersLeastLoad:
		return steer.LeastLoad
	case MembersFastest:
		return steer.Fastest
	case MembersShed:
		return steer.Shed
	case MembersAdaptive:
		for _, b := range s.Backends {
			if b.Check.HTTP.LoadHeader != "" || b.Check.HTTP.LoadJSON != "" {
				return steer.LeastLoad
			}
			if m := b.Metrics; m != nil && (!m.Spec.Utilization.IsZero() || m.Capacity > 0) {
				return steer.LeastLoad
			}
		}
		return steer.Fastest
	}
	return ""
}

// pools reads the service's pools; without any, every backend forms the
// pool "default".
func (l *zoneLoader) pools(s *Service, doc *serviceDoc, path []string, byName map[string]*Backend) {
	if len(doc.Pools) == 0 {
		s.Pools = []*Pool{{Name: "default", Members: s.Backends}}
		// One address once in an answer (RFC 2181 section 5.2).
		at := map[netip.Addr]string{}
		for i, bd := range doc.Backends {
			for _, b := range s.Backends {
				if b.Name != bd.Name.v {
					continue
				}
				if other, dup := at[b.Addr]; dup {
					l.e.key(append(path[:len(path):len(path)], "backends", indexName(i), "address"), "%s is also the address of backend %s: an answer would hold the same record twice (RFC 2181 section 5.2)", b.Addr, other)
				}
				at[b.Addr] = b.Name
			}
		}
		return
	}
	used := map[string]bool{}
	seen := map[string]bool{}
	for i, pd := range doc.Pools {
		ppath := append(path[:len(path):len(path)], "pools", indexName(i))
		if !pd.Name.ok() && pd.Name.set {
			continue
		}
		if !backendName.MatchString(pd.Name.v) {
			l.e.at(ppath, "%s.name: %q: a pool needs a name of letters, digits, '.', '_' or '-'", dotted(ppath), pd.Name.v)
			continue
		}
		if seen[pd.Name.v] {
			l.e.key(ppath, "pool name %q is already used", pd.Name.v)
			continue
		}
		seen[pd.Name.v] = true
		p := &Pool{Name: pd.Name.v}
		if len(pd.Backends.v) == 0 && len(pd.Backends.problems) == 0 {
			l.e.key(ppath, "pool %s has no backends", pd.Name.v)
		}
		inPool := map[string]bool{}
		addrs := map[netip.Addr]string{}
		for j, bn := range pd.Backends.v {
			b, known := byName[bn]
			if !known {
				l.e.key(append(ppath, "backends"), "no backend named %q in this service", bn)
				continue
			}
			if b == nil {
				continue // rejected where it is declared
			}
			where := append(ppath[:len(ppath):len(ppath)], "backends", indexName(j))
			if inPool[bn] {
				l.e.key(where, "backend %s is listed twice in pool %s", bn, pd.Name.v)
				continue
			}
			inPool[bn] = true
			if other, dup := addrs[b.Addr]; dup {
				used[bn] = true // in a pool, wrongly: no second error
				l.e.key(where, "backend %s has the address %s of backend %s, also in pool %s: an answer would hold the same record twice (RFC 2181 section 5.2)", bn, b.Addr, other, pd.Name.v)
				continue
			}
			addrs[b.Addr] = bn
			used[bn] = true
			p.Members = append(p.Members, b)
		}
		if c := pd.Coordinates; c.set {
			p.Lat, p.Lon, p.HasCoords = c.lat, c.lon, true
		}
		pd.Bias.to(&p.Bias)
		s.Pools = append(s.Pools, p)
	}
	for _, b := range s.Backends {
		if !used[b.Name] {
			l.e.at(append(path[:len(path):len(path)], "pools"), "%s: backend %s is in no pool", dotted(path), b.Name)
		}
	}
}

// policy reads how the service chooses its pool.
func (l *zoneLoader) policy(s *Service, doc *serviceDoc, path []string) {
	at := func(k ...string) []string { return append(path[:len(path):len(path)], k...) }
	s.Policy = doc.Policy.v
	if s.Policy == "" {
		s.Policy = PolicySingle
		if len(doc.Pools) > 0 {
			s.Policy = PolicyFailover
		}
	}
	if s.pol = policies[s.Policy]; s.pol == nil {
		l.e.key(at("policy"), "%q: want %s", doc.Policy.v, policies.names())
	} else if s.pol.validate != nil {
		s.pol.validate(l.setup(s, doc, path))
	}
	if doc.Geo != nil && s.Policy != PolicyGeo {
		l.e.key(at("geo"), "rules are used only with policy = \"geo\"")
		return
	}
	if doc.Geo == nil {
		return
	}
	byName := map[string]*Pool{}
	for _, p := range s.Pools {
		byName[p.Name] = p
	}
	gpath := at("geo")
	list := func(names stringArray, where []string) []*Pool {
		var out []*Pool
		if len(names.v) == 0 && len(names.problems) == 0 {
			l.e.key(where, "empty list of pools")
		}
		for _, n := range names.v {
			p := byName[n]
			if p == nil {
				l.e.key(where, "no pool named %q in this service", n)
				continue
			}
			out = append(out, p)
		}
		return out
	}
	g := &GeoRules{
		ASN: map[uint32][]*Pool{}, Subdivision: map[string][]*Pool{},
		Country: map[string][]*Pool{}, Continent: map[string][]*Pool{},
	}
	gd := doc.Geo
	if !gd.Default.set {
		l.e.key(gpath, "a default = [pools] rule is needed for clients no other rule matches")
	} else {
		g.Default = list(gd.Default, append(gpath, "default"))
	}
	for k, v := range gd.Continent.m {
		where := append(gpath, "continent", k)
		if !continents[k] {
			l.e.key(where, "%q is not a continent code (AF AN AS EU NA OC SA)", k)
		}
		g.Continent[k] = list(v, where)
	}
	for k, v := range gd.Country.m {
		where := append(gpath, "country", k)
		if len(k) != 2 || strings.ToUpper(k) != k {
			l.e.key(where, "%q is not an ISO 3166-1 country code such as \"US\"", k)
		}
		g.Country[k] = list(v, where)
	}
	for k, v := range gd.Subdivision.m {
		where := append(gpath, "subdivision", k)
		if c, sub, ok := strings.Cut(k, "-"); !ok || len(c) != 2 || sub == "" || strings.ToUpper(k) != k {
			l.e.key(where, "%q is not an ISO 3166-2 code such as \"US-CA\"", k)
		}
		g.Subdivision[k] = list(v, where)
	}
	for k, v := range gd.ASN.m {
		where := append(gpath, "asn", k)
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(k), "AS"), 10, 32)
		if err != nil || n == 0 {
			l.e.key(where, "%q is not an AS number", k)
		}
		g.ASN[uint32(n)] = list(v, where)
	}
	for k, v := range gd.CIDR.m {
		where := append(gpath, "cidr", k)
		p, err := netip.ParsePrefix(k)
		if err != nil || p.Masked() != p {
			l.e.key(where, "%q is not a network such as \"192.0.2.0/24\" (host bits must be zero)", k)
			continue
		}
		g.CIDR = append(g.CIDR, CIDRRule{Prefix: netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)), Pools: list(v, where)})
	}
	sort.Slice(g.CIDR, func(i, j int) bool { return g.CIDR[i].Prefix.Bits() > g.CIDR[j].Prefix.Bits() })
	if (g.needsLocation() || len(g.ASN) > 0) && !l.cfg.HasGeo() {
		l.e.key(gpath, "continent, country, subdivision and asn rules need a GeoIP database ([geo] in the main configuration)")
	}
	if len(g.ASN) > 0 && l.cfg.GeoASNDatabase == "" && l.cfg.HasGeo() {
		l.e.key(append(gpath, "asn"), "asn rules need [geo] asn_database in the main configuration")
	}
	s.Geo = g
}

// setup is the service as the validate functions of its policy and
// selection see it.
func (l *zoneLoader) setup(s *Service, doc *serviceDoc, path []string) *setup {
	return &setup{s: s, cfg: l.cfg, path: dotted(path),
		pools: len(doc.Pools) > 0, geo: doc.Geo != nil,
		answers: doc.Answers.ok(),
		at: func(key, format string, args ...any) {
			l.e.at(append(path[:len(path):len(path)], key), format, args...)
		},
		suspected: func(key string) bool { return l.e.suspected(path, key) }}
}

// unmapBits is 96 for an IPv4-mapped prefix, whose bits count from the
// start of the IPv6 address.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

// allDown reads what a service answers when none of its backends of a
// family is serving.
func (l *zoneLoader) allDown(s *Service, doc *serviceDoc, path []string) {
	switch doc.WhenAllDown.v {
	case "", AllDownServeAll:
	case AllDownNoData:
		s.WhenAllDown = AllDownNoData
	case AllDownFallback:
		s.WhenAllDown = AllDownFallback
		if len(doc.Fallback) == 0 && doc.FallbackCNAME.v == "" {
			l.e.at(append(path, "when_all_down"), "%s.when_all_down = \"fallback\" needs fallback = [addresses] or fallback_cname", dotted(path))
		}
	default:
		l.e.key(append(path, "when_all_down"), "%q: want \"serve_all\", \"fallback\" or \"nodata\"", doc.WhenAllDown.v)
	}
	if (len(doc.Fallback) > 0 || doc.FallbackCNAME.v != "") && s.WhenAllDown != AllDownFallback {
		l.e.at(append(path, "fallback"), "%s: fallback is set but when_all_down is not \"fallback\"", dotted(path))
	}
	if len(doc.Fallback) > 0 && doc.FallbackCNAME.v != "" {
		l.e.at(append(path, "fallback_cname"), "%s: give fallback addresses or fallback_cname, not both", dotted(path))
	}
	for i, f := range doc.Fallback {
		if !f.ok() {
			continue
		}
		a := f.v
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			l.e.key(append(path[:len(path):len(path)], "fallback", indexName(i)), "%q is not an IP address", a)
			continue
		}
		s.Fallback = append(s.Fallback, ip.Unmap())
	}
	if doc.FallbackCNAME.v != "" {
		n, err := l.name(doc.FallbackCNAME.v)
		if err != nil {
			l.e.key(append(path, "fallback_cname"), "%v", err)
		}
		s.FallbackCNAME = n
	}
}

// compile builds the records every pool answers, per family.
func (s *Service) compile() {
	rr := func(ip netip.Addr) dns.RR {
		if ip.Is4() {
			return &dns.A{Hdr: dns.RR_Header{Name: s.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: s.TTL}, A: ip.AsSlice()}
		}
		return &dns.AAAA{Hdr: dns.RR_Header{Name: s.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: s.TTL}, AAAA: ip.AsSlice()}
	}
	for _, b := range s.Backends {
		s.has4 = s.has4 || b.Addr.Is4()
		s.has6 = s.has6 || b.Addr.Is6()
	}
	for _, p := range s.Pools {
		for _, b := range p.Members {
			g := &p.v4
			if b.Addr.Is6() {
				g = &p.v6
			}
			g.members = append(g.members, b)
			g.rrs = append(g.rrs, rr(b.Addr))
		}
	}
	for _, ip := range s.Fallback {
		if ip.Is4() {
			s.fb4 = append(s.fb4, rr(ip))
		} else {
			s.fb6 = append(s.fb6, rr(ip))
		}
	}
	if s.FallbackCNAME != "" {
		c := &dns.CNAME{Hdr: dns.RR_Header{Name: s.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: s.TTL}, Target: s.FallbackCNAME}
		s.fb4 = []dns.RR{c}
		s.fb6 = []dns.RR{c}
	}
}

// hasFamily reports whether any backend has an address of the family.
func (s *Service) hasFamily(v6 bool) bool {
	if v6 {
		return s.has6
	}
	return s.has4
}

// Draw values.
const (
	DrawRandom = "random"
	DrawShared = "shared"
)

// draw reads how a service draws weighted members: "shared" by default
// in a cluster (every instance answers a client alike), else "random".
func (l *zoneLoader) draw(s *Service, doc *serviceDoc, path []string) {
	s.SharedDraw = l.cfg.Cluster != nil
	if !doc.Draw.ok() {
		return
	}
	at := append(path[:len(path):len(path)], "draw")
	switch doc.Draw.v {
	case DrawShared:
		s.SharedDraw = true
	case DrawRandom:
		s.SharedDraw = false
	default:
		l.e.key(at, "%q: want %q or %q", doc.Draw.v, DrawRandom, DrawShared)
		return
	}
	if !drawsByWeight(s.Members) {
		l.e.warn(at, "does nothing with members = %q: it applies to the members that draw by weight (weighted and the control laws)", s.Members)
	}
}
