package zones

// Health checks as zone files write them: the check table of a service
// (defaults for its backends) and of a backend (overrides), compiled into
// a health.Spec per backend. Internally these are "probe specs", so that
// "check" keeps naming the zone-file checks of `gslb check`; the key in the
// file is still check.

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
)

// probeCommon holds the settings of every kind of check.
type probeCommon struct {
	Type     tomlString    `toml:"type"`
	Address  probeAddress  `toml:"address"`
	Port     tomlInt       `toml:"port" range:"1..65535"`
	Interval probeInterval `toml:"interval"`
	Timeout  duration      `toml:"timeout"`
	Rise     tomlInt       `toml:"rise" range:"1..100"`
	Fall     tomlInt       `toml:"fall" range:"1..100"`
	Start    startState    `toml:"start"`
	Quorum   quorumRule    `toml:"quorum"`
}

func (p *probeCommon) common() *probeCommon { return p }

// httpProbe is a check of type http or https.
type httpProbe struct {
	probeCommon
	Method          tomlString `toml:"method"`
	Path            httpPath   `toml:"path"`
	Host            tomlString `toml:"host"`
	Headers         headerMap  `toml:"headers"`
	Expect          expectList `toml:"expect"`
	Body            tomlString `toml:"body"`
	BodyRegexp      bodyRegexp `toml:"body_regexp"`
	ServerName      tomlString `toml:"server_name"`
	Insecure        tomlBool   `toml:"insecure"`
	FollowRedirects tomlBool   `toml:"follow_redirects"`
	LoadHeader      tomlString `toml:"load_header"`
	LoadJSON        tomlString `toml:"load_json"`
	Capacity        tomlNumber `toml:"capacity" range:"0.."`
}

// tcpProbe is a check of type tcp.
type tcpProbe struct {
	probeCommon
	Send  tomlString `toml:"send"`
	Reply tomlString `toml:"reply"`
}

// dnsProbe is a check of type dns.
type dnsProbe struct {
	probeCommon
	QueryName tomlString `toml:"query_name"`
	QueryType rrType     `toml:"query_type"`
	Rcode     rcodeValue `toml:"rcode"`
	Answer    tomlString `toml:"answer"`
}

// noneProbe is type = "none": no probes. It takes every key, so that a
// backend can turn off the check it inherits from its service.
type noneProbe struct{ probeCommon }

// probeSpec is the settings of one kind of check; build fills the parts
// of a health.Spec that belong to the kind.
type probeSpec interface {
	common() *probeCommon
	build(s *health.Spec)
}

// probeKinds makes the settings struct of each kind.
var probeKinds = map[string]func() probeSpec{
	health.KindHTTP:  func() probeSpec { return &httpProbe{} },
	health.KindHTTPS: func() probeSpec { return &httpProbe{} },
	health.KindTCP:   func() probeSpec { return &tcpProbe{} },
	health.KindDNS:   func() probeSpec { return &dnsProbe{} },
	health.KindNone:  func() probeSpec { return &noneProbe{} },
}

// probeKeys are the keys each kind's struct decodes, and allProbeKeys
// those of any kind: a key of the second set only is "does not apply".
var probeKeys, allProbeKeys = func() (map[string]map[string]bool, map[string]bool) {
	per, all := map[string]map[string]bool{}, map[string]bool{}
	for kind, mk := range probeKinds {
		per[kind] = map[string]bool{}
		for _, k := range tomlKeys(reflect.TypeOf(mk()).Elem()) {
			per[kind][k] = true
			all[k] = true
		}
	}
	return per, all
}()

// tomlKeys lists the keys a struct type decodes, embedded structs included.
func tomlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && name == "" {
			keys = append(keys, tomlKeys(f.Type)...)
		} else if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// probeKeyList is allProbeKeys in order, for "did you mean".
var probeKeyList = func() []string {
	out := make([]string, 0, len(allProbeKeys))
	for k := range allProbeKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}()

// probeTable is one check table as written: a service's or a backend's.
type probeTable struct {
	prim toml.Primitive
	path []string
	set  bool   // the table is written
	kind string // its type in lower case, "" if it names none
	keys []string

	// A service's table is used by each of its backends: what does not
	// depend on the backend is done once per kind.
	alone map[string]bool      // kinds it was decoded alone as
	only  map[string]probeSpec // it decoded alone, per kind, ranges applied
}

// probeTable reads the check table prim at path (set false if there is
// none), reporting what is wrong with the table on its own: a value that
// is not a table, unknown keys, and the problems of its values.
func (l *zoneLoader) probeTable(prim toml.Primitive, set bool, path []string) *probeTable {
	t := &probeTable{prim: prim, path: path, set: set, alone: map[string]bool{}, only: map[string]probeSpec{}}
	if !set {
		return t
	}
	// Decoded into a map, a value that is not a table gives an empty map
	// and no error: ask for its type first.
	var v any
	_ = l.md.PrimitiveDecode(prim, &v)
	var raw map[string]toml.Primitive
	if _, ok := v.(map[string]any); !ok || l.md.PrimitiveDecode(prim, &raw) != nil {
		l.e.key(path, "want a table such as { type = \"http\" }, got %s", typeName(v))
		t.set = false
		return t
	}
	t.keys = sortedKeys(l.e.pos, path, raw)
	var c struct {
		Type tomlString `toml:"type"`
	}
	_ = l.md.PrimitiveDecode(prim, &c)
	t.kind = strings.ToLower(c.Type.v)
	typePath := append(path[:len(path):len(path)], "type")
	switch {
	case c.Type.set && !c.Type.ok():
		l.e.values(path, reflect.ValueOf(&c).Elem())
		t.kind = health.KindNone // no follow-on errors
	case c.Type.set && probeKinds[t.kind] == nil:
		l.e.key(typePath, "%q: want http, https, tcp, dns or none", c.Type.v)
		t.kind = health.KindNone
	}
	for _, k := range t.keys {
		if !allProbeKeys[k] {
			kp := append(path[:len(path):len(path)], k)
			l.e.at(kp, "%s", unknownKey(kp, probeKeyList))
		}
	}
	return t
}

// decodeAlone decodes the table on its own as a check of kind and reports
// the problems of its values and the keys that do not apply to kind, once
// per kind: a service's table is used by each of its backends.
func (l *zoneLoader) decodeAlone(t *probeTable, kind, why string) {
	if t.alone[kind] {
		return
	}
	t.alone[kind] = true
	p := probeKinds[kind]()
	if err := l.md.PrimitiveDecode(t.prim, p); err != nil {
		te := tomlError(l.e.file, nil, l.e.pos, err)
		l.e.at(t.path, "%s", te.Msg)
		return
	}
	l.e.values(t.path, reflect.ValueOf(p))
	if kind == health.KindNone {
		if t.kind == health.KindNone {
			for _, k := range t.keys {
				if k != "type" && allProbeKeys[k] {
					l.e.warn(append(t.path[:len(t.path):len(t.path)], k), "does nothing: type = \"none\" runs no probe (the backend is always up)")
				}
			}
		}
		return
	}
	for _, k := range t.keys {
		if allProbeKeys[k] && !probeKeys[kind][k] {
			l.e.at(append(t.path[:len(t.path):len(t.path)], k), "%s: %s does not apply to a %s check%s", dotted(t.path), k, kind, why)
		}
	}
}

// suspectedIn tells whether key is probably written misspelled in either
// check table.
func (l *zoneLoader) suspectedIn(svc, b *probeTable, key string) bool {
	return svc.set && l.e.suspected(svc.path, key) || b.set && l.e.suspected(b.path, key)
}

// probe builds the health spec of a backend answered at addr, from its
// service's check table svc laid under its own b: the service's table is
// decoded first, then the backend's over it, into one struct. Problems of
// a value are reported where the value is written; problems of the
// combination at the backend's table if it has one, else at the service's.
func (l *zoneLoader) probe(svc, b *probeTable, addr netip.Addr) health.Spec {
	kind, where := svc.kind, svc
	if b.set {
		where = b
		if b.kind != "" {
			kind = b.kind
		}
	}
	if kind == "" {
		if (svc.set || b.set) && !l.suspectedIn(svc, b, "type") {
			l.e.key(where.path, "a check needs a type: http, https, tcp, dns or none")
		}
		return health.Spec{Kind: health.KindNone}
	}
	if svc.set {
		// The service's keys are checked against the backend's type if
		// the backend sets another: say so.
		why := ""
		if kind != svc.kind {
			why = fmt.Sprintf(" (%s sets type = %q)", dotted(b.path), b.kind)
		}
		l.decodeAlone(svc, kind, why)
	}
	if b.set {
		l.decodeAlone(b, kind, "")
	}
	if kind == health.KindNone {
		return health.Spec{Kind: health.KindNone}
	}
	p := svc.only[kind]
	if b.set || p == nil {
		p = probeKinds[kind]()
		for _, t := range []*probeTable{svc, b} {
			if t.set {
				_ = l.md.PrimitiveDecode(t.prim, p)
			}
		}
		// Apply the range tags to the combined values, reporting
		// nothing: the values were reported where they are written.
		(&errs{pos: l.e.pos, list: &ErrorList{}}).values(nil, reflect.ValueOf(p))
		if !b.set {
			svc.only[kind] = p
		}
	}

	fail := func(format string, args ...any) { l.e.key(where.path, format, args...) }
	c := p.common()
	s := health.Spec{
		Kind:     kind,
		Interval: health.DefaultInterval,
		Timeout:  health.DefaultTimeout,
		Rise:     health.DefaultRise,
		Fall:     health.DefaultFall,
	}
	port := map[string]uint16{health.KindHTTP: 80, health.KindHTTPS: 443, health.KindDNS: 53}[kind]
	toInt(&c.Port, &port)
	s.Addr = netip.AddrPortFrom(addr, port)
	if a := c.Address; a.ok() {
		s.Addr = netip.AddrPortFrom(a.ip, port)
		if a.port != 0 {
			s.Addr = netip.AddrPortFrom(a.ip, a.port)
			if c.Port.set {
				fail("port is given twice: in address %q and as port", a.text)
			}
		}
	}
	if s.Addr.Port() == 0 {
		if !l.suspectedIn(svc, b, "address") && !l.suspectedIn(svc, b, "port") {
			fail("a %s check needs a port", kind)
		}
		return s
	}
	c.Interval.to(&s.Interval)
	c.Timeout.to(&s.Timeout)
	toInt(&c.Rise, &s.Rise)
	toInt(&c.Fall, &s.Fall)
	if c.Start.ok() {
		s.Start = c.Start.v
	}
	c.Quorum.to(&s.Quorum)
	p.build(&s)
	if kind == health.KindHTTP || kind == health.KindHTTPS {
		if s.HTTP.LoadHeader != "" && s.HTTP.LoadJSON != "" {
			fail("load_header and load_json: give one of them")
		}
	}
	if err := s.Check(); err != nil {
		fail("%v", err)
	}
	return s
}

func (p *httpProbe) build(s *health.Spec) {
	h := &s.HTTP
	h.Method = strings.ToUpper(p.Method.v)
	h.Path = "/"
	p.Path.to(&h.Path)
	p.Host.to(&h.Host)
	if p.Headers.m != nil {
		h.Headers = health.Headers(p.Headers.m)
	}
	if p.Expect.ok() {
		h.Expect = p.Expect.v
	}
	p.Body.to(&h.Body)
	if p.BodyRegexp.ok() {
		h.BodyRegexp = p.BodyRegexp.v
	}
	p.ServerName.to(&h.ServerName)
	p.Insecure.to(&h.Insecure)
	p.FollowRedirects.to(&h.FollowRedirects)
	p.LoadHeader.to(&h.LoadHeader)
	p.LoadJSON.to(&h.LoadJSON)
	p.Capacity.to(&h.Capacity)
}

func (p *tcpProbe) build(s *health.Spec) {
	p.Send.to(&s.TCP.Send)
	p.Reply.to(&s.TCP.Expect)
}

func (p *dnsProbe) build(s *health.Spec) {
	p.QueryName.to(&s.DNS.Name)
	s.DNS.Type = dns.TypeA
	if p.QueryType.ok() {
		s.DNS.Type = p.QueryType.v
	}
	if p.Rcode.ok() {
		s.DNS.Rcode = p.Rcode.v
	}
	p.Answer.to(&s.DNS.Answer)
}

func (p *noneProbe) build(*health.Spec) {}

// headerMap is the headers table of an HTTP check. Decoded twice into one
// struct, the service's and then the backend's, the second adds to the
// first, a header of the backend replacing the service's of that name.
type headerMap struct {
	written
	m map[string]string
}

// UnmarshalTOML implements toml.Unmarshaler.
func (h *headerMap) UnmarshalTOML(v any) error {
	h.written = written{set: true}
	x, ok := v.(map[string]any)
	if !ok {
		h.bad("want a table such as { X-Probe = \"gslb\" }, got %s", typeName(v))
		return nil
	}
	if h.m == nil {
		h.m = map[string]string{}
	}
	for _, k := range slices.Sorted(maps.Keys(x)) {
		s, ok := x[k].(string)
		if !ok {
			h.bad("%s: want a string, got %s", k, typeName(x[k]))
			continue
		}
		h.m[k] = s
	}
	return nil
}

// probeAddress is the address a check probes instead of the backend's:
// an IP, or IP:port (port is then not 0).
type probeAddress struct {
	written
	text string
	ip   netip.Addr
	port uint16
}

// UnmarshalTOML implements toml.Unmarshaler.
func (a *probeAddress) UnmarshalTOML(v any) error {
	a.written = written{set: true}
	a.text, _ = v.(string)
	if ap, err := netip.ParseAddrPort(a.text); err == nil && ap.Port() != 0 {
		a.ip, a.port = ap.Addr().Unmap(), ap.Port()
	} else if ip, err := netip.ParseAddr(a.text); err == nil && ip.Zone() == "" {
		a.ip = ip.Unmap()
	} else {
		a.bad("%s: want an IP or IP:port", quoted(v))
	}
	return nil
}

// probeInterval is the interval of a check: a duration of at least 10ms.
type probeInterval struct{ duration }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *probeInterval) UnmarshalTOML(v any) error {
	_ = d.duration.UnmarshalTOML(v)
	if d.ok() && d.v < 10*time.Millisecond {
		d.bad("%v is too short (at least 10ms)", d.v)
	}
	return nil
}

// startState is start = "pending", "up" or "down": the state before the
// first probe result.
type startState struct {
	written
	v health.Start
}

// UnmarshalTOML implements toml.Unmarshaler.
func (s *startState) UnmarshalTOML(v any) error {
	s.written = written{set: true}
	switch v {
	case "pending":
		s.v = health.StartPending
	case "up":
		s.v = health.StartUp
	case "down":
		s.v = health.StartDown
	default:
		s.bad("%s: want \"pending\", \"up\" or \"down\"", quoted(v))
	}
	return nil
}

// quorumRule is quorum = "local", "majority", "any", "all" or "P%": how a
// fleet's votes on the check combine.
type quorumRule struct{ tomlString }

// UnmarshalTOML implements toml.Unmarshaler.
func (q *quorumRule) UnmarshalTOML(v any) error {
	_ = q.tomlString.UnmarshalTOML(v)
	if q.ok() {
		if err := health.ParseQuorum(q.v); err != nil {
			q.bad("%v", err)
		}
	}
	return nil
}

// httpPath is the path an HTTP check asks for.
type httpPath struct{ tomlString }

// UnmarshalTOML implements toml.Unmarshaler.
func (p *httpPath) UnmarshalTOML(v any) error {
	_ = p.tomlString.UnmarshalTOML(v)
	if p.ok() && !strings.HasPrefix(p.v, "/") {
		p.bad("%q must start with /", p.v)
	}
	return nil
}

// expectList is the statuses an HTTP check accepts: a status, a range such
// as "200-399", or an array of them; kept as health.HTTPSpec.Expect reads
// it ("200,301-399").
type expectList struct{ value[string] }

// UnmarshalTOML implements toml.Unmarshaler.
func (e *expectList) UnmarshalTOML(v any) error {
	e.written = written{set: true}
	var parts []string
	switch x := v.(type) {
	case int64, string:
		parts = []string{fmt.Sprint(x)}
	case []any:
		for _, p := range x {
			switch p.(type) {
			case int64, string:
				parts = append(parts, fmt.Sprint(p))
			default:
				e.bad("want a status, a range such as \"200-399\", or a list of them")
				return nil
			}
		}
	default:
		e.bad("want a status, a range such as \"200-399\", or a list of them")
		return nil
	}
	e.v = strings.Join(parts, ",")
	// health parses the list; a spec that only differs from a valid one
	// in its expect tells whether it can.
	probe := health.Spec{Kind: health.KindHTTP, Addr: netip.MustParseAddrPort("192.0.2.1:80"),
		Interval: time.Second, Timeout: time.Second / 2, Rise: 1, Fall: 1,
		HTTP: health.HTTPSpec{Path: "/", Expect: e.v}}
	if err := probe.Check(); err != nil {
		e.bad("%v", err)
	}
	return nil
}

// bodyRegexp is a regular expression the body of an HTTP reply must match.
type bodyRegexp struct{ tomlString }

// UnmarshalTOML implements toml.Unmarshaler.
func (r *bodyRegexp) UnmarshalTOML(v any) error {
	_ = r.tomlString.UnmarshalTOML(v)
	if r.ok() {
		if _, err := regexp.Compile(r.v); err != nil {
			r.bad("bad regular expression: %v", err)
		}
	}
	return nil
}

// rrType is a record type name such as "AAAA".
type rrType struct{ value[uint16] }

// UnmarshalTOML implements toml.Unmarshaler.
func (t *rrType) UnmarshalTOML(v any) error {
	t.decodeName(v, dns.StringToType, "a record type")
	return nil
}

// rcodeValue is a DNS rcode name such as "NXDOMAIN".
type rcodeValue struct{ value[int] }

// UnmarshalTOML implements toml.Unmarshaler.
func (r *rcodeValue) UnmarshalTOML(v any) error {
	r.decodeName(v, dns.StringToRcode, "a DNS rcode")
	return nil
}

// isWritten tells whether a Primitive was decoded from a key of the file.
func isWritten(p toml.Primitive) bool { return !reflect.ValueOf(p).IsZero() }

// isProbeKey tells whether an undecoded key of the document lies in a
// check table, whose keys probeTable reports.
func isProbeKey(k toml.Key) bool {
	return len(k) > 3 && k[0] == "services" && (k[2] == "check" || len(k) > 4 && k[2] == "backends" && k[3] == "check")
}
