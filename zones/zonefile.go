package zones

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"
	"golang.org/x/net/idna"
)

// zoneDoc is a zone file as written. A record table maps record types (and
// "ttl") to values of any type, read by zoneLoader.records.
type zoneDoc struct {
	Origin   tomlString                            `toml:"origin"`
	TTL      seconds                               `toml:"ttl"`
	SOA      *soaDoc                               `toml:"soa"`
	NS       stringList                            `toml:"ns"`
	Records  valueTable[recordTable, *recordTable] `toml:"records"`
	Services map[string]toml.Primitive             `toml:"services"`
	DNSSEC   *dnssecDoc                            `toml:"dnssec"`
}

// recordTable is the table of one name under [records]: record types
// (and ttl) to values of any type, read by zoneLoader.records.
type recordTable struct{ value[map[string]any] }

// UnmarshalTOML implements toml.Unmarshaler.
func (r *recordTable) UnmarshalTOML(v any) error {
	r.decodeAs(v, `a table of records such as { A = "192.0.2.1" }`)
	return nil
}

type soaDoc struct {
	Serial      serial     `toml:"serial"`
	Mname       tomlString `toml:"mname"`
	Rname       tomlString `toml:"rname"`
	Refresh     seconds    `toml:"refresh"`
	Retry       seconds    `toml:"retry"`
	Expire      seconds    `toml:"expire"`
	NegativeTTL seconds    `toml:"negative_ttl"`
	TTL         seconds    `toml:"ttl"`
}

// SOA timer defaults, for a zone whose [soa] leaves them out.
const (
	defaultRefresh     = 3600
	defaultRetry       = 600
	defaultExpire      = 604800
	defaultNegativeTTL = 60
)

// recordTypes are the static record types a zone file may hold.
var recordTypes = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX,
	"TXT": dns.TypeTXT, "SRV": dns.TypeSRV, "CAA": dns.TypeCAA, "PTR": dns.TypePTR,
	"NS": dns.TypeNS, "DS": dns.TypeDS, "NAPTR": dns.TypeNAPTR, "SSHFP": dns.TypeSSHFP,
	"TLSA": dns.TypeTLSA, "SVCB": dns.TypeSVCB, "HTTPS": dns.TypeHTTPS, "HINFO": dns.TypeHINFO,
}

// zoneLoader holds the state of loading one zone file.
type zoneLoader struct {
	e  *errs
	md toml.MetaData // for services and their check tables, decoded later

	undecodable map[string]bool // services whose table the library could not decode
	cfg         *Config
	z           *Zone
	ttl         uint32
	owners      map[string][]string // lower-case owner -> key path of its first definition
	reg         Registrations
	dropped     *[]DroppedRegistration
}

// parseZone decodes, checks and compiles one zone file. Problems are
// appended to list; the zone is usable only when none were added.
func parseZone(cfg *Config, files Files, file string, src []byte, list, warnings *ErrorList, opts LoadOptions, dropped *[]DroppedRegistration) *Zone {
	before := len(*list)
	var doc zoneDoc
	e, md, ok := decodeFile(file, src, &doc, list)
	if !ok {
		return nil
	}
	e.warnings = warnings
	markSuspects(e, md, zoneSchema)
	l := &zoneLoader{e: e, md: md, cfg: cfg, owners: map[string][]string{}, reg: opts.Registered, dropped: dropped}

	if !doc.Origin.ok() || doc.Origin.v == "" {
		if doc.Origin.ok() || !doc.Origin.set {
			l.e.key([]string{"origin"}, "missing; every zone file names its zone, e.g. origin = \"gslb.example.com.\"")
		}
		return nil
	}
	origin := dns.Fqdn(doc.Origin.v)
	if _, ok := dns.IsDomainName(origin); !ok || origin == "." {
		l.e.key([]string{"origin"}, "%q is not a valid zone name", doc.Origin.v)
		return nil
	}
	l.z = newZone(origin, file)
	l.z.maxChain = cfg.MaxCNAMEChain
	l.ttl = l.ttlOf([]string{"ttl"}, &doc.TTL, cfg.DefaultTTL)

	// Decoded into a map, a value that is not a table gives no error.
	if t := md.Type("services"); t != "" && t != "Hash" {
		l.e.key([]string{"services"}, "want a table, got %s", tomlTypeName(t))
	}
	l.records(doc.Records.m)
	l.services(doc.Services)
	unknownKeys(l.e, md, zoneSchema, func(k toml.Key) bool {
		// Check tables are read by probeTable; a service that could not
		// be decoded was reported as a whole.
		return isProbeKey(k) || len(k) > 1 && k[0] == "services" && l.undecodable[k[1]]
	})
	l.apex(doc.SOA, &doc.NS, src)
	l.signing(doc.DNSSEC, files)
	l.checkCuts()
	l.checkNSTargets()
	l.checkCNAMEs(cfg.MaxCNAMEChain)
	l.finishSigning(doc.DNSSEC != nil && doc.DNSSEC.Validity.set)

	if len(*list) > before {
		return nil
	}
	for _, s := range l.z.Services {
		s.compile()
	}
	return l.z
}

// ttlOf returns the TTL s at path, or def if it is not written, after
// checking it against the configured bounds. Problems of s itself are
// reported by the walk of the document.
func (l *zoneLoader) ttlOf(path []string, s *seconds, def uint32) uint32 {
	if !s.ok() {
		return def
	}
	if s.v < l.cfg.MinTTL || s.v > l.cfg.MaxTTL {
		l.e.key(path, "TTL %d is outside the allowed range %d..%d (limits.min_ttl, limits.max_ttl)", s.v, l.cfg.MinTTL, l.cfg.MaxTTL)
	}
	return s.v
}

// ttlValue reads a TTL from a value decoded as any, reporting its problems.
func (l *zoneLoader) ttlValue(v any, path []string) uint32 {
	var s seconds
	_ = s.UnmarshalTOML(v)
	l.e.values(path, reflect.ValueOf(&s).Elem())
	return l.ttlOf(path, &s, 0)
}

// dotted prints a key path as the operator wrote it.
func dotted(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if strings.HasPrefix(p, "[") {
			b.WriteString(p)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if strings.ContainsAny(p, ".@* ") || p == "" {
			b.WriteString(`"` + p + `"`)
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}

// name resolves a name written in the zone file: "@" is the origin, a name
// ending in a dot is absolute, anything else is relative to the origin.
func (l *zoneLoader) name(s string) (string, error) {
	var n string
	switch {
	case s == "@":
		n = l.z.Origin
	case s == "":
		return "", fmt.Errorf("empty name")
	case strings.HasSuffix(s, "."):
		n = s
	default:
		n = s + "." + l.z.Origin
	}
	if _, ok := dns.IsDomainName(n); !ok || strings.Contains(n, "..") {
		return "", fmt.Errorf("%q is not a valid domain name", s)
	}
	if strings.Contains(strings.TrimPrefix(n, "*."), "*") {
		return "", fmt.Errorf("%q: a wildcard \"*\" may only be the first label", s)
	}
	return n, nil
}

// ownerName resolves an owner name (of static records or a service) as
// name does, and holds it to what a query can ask for: labels of letters,
// digits, '-' and '_', a leading "*" label; a label with other letters
// is an internationalised name, written in its A-label form (RFC 5891)
// with a warning that says so.
func (l *zoneLoader) ownerName(s string, path []string) (string, error) {
	n, err := l.name(s)
	if err != nil {
		return "", err
	}
	labels := dns.SplitDomainName(n)
	changed := false
	for i, lb := range labels {
		if lb == "*" && i == 0 || ldh(lb) {
			continue
		}
		a, err := idnaProfile.ToASCII(lb)
		if err != nil || !ldh(a) || strings.ContainsAny(lb, "\\ ") {
			return "", fmt.Errorf("%q: the label %q cannot be asked for: use letters, digits, '-' and '_' (or an internationalised name such as \"bücher\")", s, lb)
		}
		labels[i], changed = a, true
	}
	if !changed {
		return n, nil
	}
	a := dns.Fqdn(strings.Join(labels, "."))
	l.e.warn(path, "%q is an internationalised name: served as %s (its A-label form, which resolvers ask for)", s, a)
	return a, nil
}

// idnaProfile converts internationalised labels as resolvers and
// browsers look them up (UTS 46 mapping, the bidi rule).
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false))

// ldh tells whether a label is letters, digits, hyphens and underscores
// (RFC 952 host names, and the underscore of service labels, RFC 8552).
func ldh(label string) bool {
	if label == "" {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// owner resolves an owner name that must lie inside the zone.
func (l *zoneLoader) owner(s string, path []string) (string, bool) {
	n, err := l.ownerName(s, path)
	if err != nil {
		l.e.key(path, "%v", err)
		return "", false
	}
	if !dns.IsSubDomain(l.z.Origin, n) {
		l.e.key(path, "%q is outside the zone %s", n, l.z.Origin)
		return "", false
	}
	lower := strings.ToLower(n)
	if first, dup := l.owners[lower]; dup {
		p := l.e.pos.of(first)
		l.e.key(path, "%s is already defined at line %d (%s)", n, p.Line, dotted(first))
		return "", false
	}
	l.owners[lower] = path
	return n, true
}

// sortedKeys returns the keys of the table at path in the order they were
// written, so that checks run, and "already defined" points back, in
// reading order.
func sortedKeys[V any](p *positions, path []string, m map[string]V) []string {
	type keyAt struct {
		k string
		p pos
	}
	keys := make([]keyAt, 0, len(m))
	full := append(path[:len(path):len(path)], "")
	for k := range m {
		full[len(path)] = k
		keys = append(keys, keyAt{k, p.of(full)})
	}
	// Each position is looked up once, not at every comparison.
	slices.SortFunc(keys, func(a, b keyAt) int {
		if c := cmp.Compare(a.p.Line, b.p.Line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.p.Col, b.p.Col); c != 0 {
			return c
		}
		return strings.Compare(a.k, b.k)
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.k
	}
	return out
}

func (l *zoneLoader) records(recs map[string]recordTable) {
	for _, key := range sortedKeys(l.e.pos, []string{"records"}, recs) {
		path := []string{"records", key}
		rt := recs[key]
		if !rt.ok() {
			continue
		}
		owner, ok := l.owner(key, path)
		if !ok {
			continue
		}
		table := rt.v
		ttl := l.ttl
		if v, ok := table["ttl"]; ok {
			ttl = l.ttlValue(v, append(path, "ttl"))
		}
		n := l.z.ensure(owner)
		apex := strings.EqualFold(owner, l.z.Origin)
		for _, tkey := range sortedKeys(l.e.pos, path, table) {
			if tkey == "ttl" {
				continue
			}
			tpath := append(path[:2:2], tkey)
			if _, isTable := table[tkey].(map[string]any); isTable {
				l.e.key(tpath, "a dotted name must be quoted: write \"%s.%s\" = { ... }", key, tkey)
				continue
			}
			typ, ok := recordTypes[strings.ToUpper(tkey)]
			if !ok {
				hint := ""
				if strings.EqualFold(tkey, "SOA") {
					hint = "; the SOA is set in the [soa] table"
				} else if _, known := dns.StringToType[strings.ToUpper(tkey)]; !known {
					hint = "; a typo?"
				}
				l.e.key(tpath, "unknown or unsupported record type %q (supported: %s)%s", tkey, supportedTypes(), hint)
				continue
			}
			switch {
			case typ == dns.TypeNS && apex:
				l.e.key(tpath, "the apex NS records are set with ns = [...] at the top of the file")
				continue
			case typ == dns.TypeCNAME && apex:
				l.e.key(tpath, "a CNAME is not allowed at the zone apex (it would hide the SOA and NS)")
				continue
			case typ == dns.TypeNS && n.wild:
				l.e.key(tpath, "NS records are not allowed at a wildcard name (RFC 4592 section 4.2)")
				continue
			}
			var list stringList
			_ = list.UnmarshalTOML(table[tkey])
			if !list.ok() {
				l.e.values(tpath, reflect.ValueOf(&list).Elem())
				continue
			}
			values := list.v
			if len(values) == 0 {
				l.e.key(tpath, "no records given")
				continue
			}
			if typ == dns.TypeCNAME && len(values) > 1 {
				l.e.key(tpath, "a name has at most one CNAME, got %d", len(values))
				continue
			}
			// Records by their data in lower case: a duplicate is looked
			// for among those only, so that many records at one name load
			// in linear time.
			byData := map[string][]dns.RR{}
			for _, rr := range n.get(typ) {
				k := dataKey(rr)
				byData[k] = append(byData[k], rr)
			}
			size := 12 + len(owner) + 1 + 4 // header and question of an answer
			for i, v := range values {
				vpath := list.path(tpath, i)
				rr, err := l.record(owner, ttl, typ, v)
				if err != nil {
					l.e.key(vpath, "%v", err)
					continue
				}
				k := dataKey(rr)
				if containsRR(byData[k], rr) {
					l.e.key(vpath, "duplicate record %q", v)
					continue
				}
				wire, ok := wireLen(rr)
				if !ok {
					l.e.key(vpath, "%s data of more than 65,535 bytes: more than a record can hold", tkey)
					continue
				}
				// The owner of each record after the first is compressed
				// to a pointer.
				size += wire - (len(owner) + 1) + 2
				byData[k] = append(byData[k], rr)
				n.add(rr)
				if typ == dns.TypeNS {
					n.cut = true
				}
			}
			if size > dns.MaxMsgSize {
				l.e.key(tpath, "the %s records at %s take %d bytes: more than a DNS message holds (65,535); no query could get them", tkey, owner, size)
			}
		}
		if n.get(dns.TypeCNAME) != nil && len(n.rrsets) > 1 {
			var others []string
			for _, s := range n.rrsets {
				if s.typ != dns.TypeCNAME {
					others = append(others, dns.TypeToString[s.typ])
				}
			}
			l.e.at(append(path[:2:2], cnameKey(table)), "%s: a CNAME cannot stand beside other data (%s) at %s (RFC 1034 section 3.6.2)", dotted(path), strings.Join(others, ", "), owner)
		}
	}
}

func cnameKey(table map[string]any) string {
	for k := range table {
		if strings.EqualFold(k, "CNAME") {
			return k
		}
	}
	return "CNAME"
}

func supportedTypes() string {
	names := make([]string, 0, len(recordTypes))
	for k := range recordTypes {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// dataKey is a record's data in lower case, for finding duplicates.
func dataKey(rr dns.RR) string {
	return strings.ToLower(strings.TrimPrefix(rr.String(), rr.Header().String()))
}

// wireLen is the length of rr in the wire format, uncompressed; false when
// it cannot be packed (its data is over 65,535 bytes).
func wireLen(rr dns.RR) (int, bool) {
	buf := make([]byte, dns.Len(rr)+64)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil || off > dns.MaxMsgSize {
		return 0, false
	}
	return off, true
}

func containsRR(rrs []dns.RR, rr dns.RR) bool {
	for _, r := range rrs {
		if dns.IsDuplicate(r, rr) {
			return true
		}
	}
	return false
}

// record builds one record from the text written for it.
func (l *zoneLoader) record(owner string, ttl uint32, typ uint16, v string) (dns.RR, error) {
	hdr := dns.RR_Header{Name: owner, Rrtype: typ, Class: dns.ClassINET, Ttl: ttl}
	switch typ {
	case dns.TypeA, dns.TypeAAAA:
		ip, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IP address", v)
		}
		if typ == dns.TypeA {
			if !ip.Is4() {
				return nil, fmt.Errorf("%q is not an IPv4 address (IPv6 goes in AAAA)", v)
			}
			return &dns.A{Hdr: hdr, A: ip.AsSlice()}, nil
		}
		if !ip.Is6() {
			return nil, fmt.Errorf("%q is not an IPv6 address (IPv4 goes in A)", v)
		}
		return &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()}, nil
	case dns.TypeTXT:
		// The value is the text itself; split it into 255-octet strings.
		var parts []string
		for len(v) > 255 {
			parts = append(parts, escapeTXT(v[:255]))
			v = v[255:]
		}
		parts = append(parts, escapeTXT(v))
		return &dns.TXT{Hdr: hdr, Txt: parts}, nil
	}
	if strings.ContainsAny(v, "\n\r") {
		return nil, fmt.Errorf("a record value must be on one line")
	}
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("empty %s record", dns.TypeToString[typ])
	}
	text := fmt.Sprintf("%s %d IN %s %s", owner, ttl, dns.TypeToString[typ], v)
	zp := dns.NewZoneParser(strings.NewReader(text), l.z.Origin, "")
	rr, ok := zp.Next()
	if !ok {
		msg := fmt.Sprintf("bad %s record %q", dns.TypeToString[typ], v)
		if err := zp.Err(); err != nil {
			if pe, ok := err.(*dns.ParseError); ok {
				msg += ": " + parseErrorText(pe)
			}
		}
		return nil, fmt.Errorf("%s", msg)
	}
	if _, more := zp.Next(); more || rr.Header().Rrtype != typ {
		return nil, fmt.Errorf("bad %s record %q", dns.TypeToString[typ], v)
	}
	// Some fields (hex, base64) are only checked when the record is put
	// on the wire: do it now rather than fail a query later.
	buf := make([]byte, dns.Len(rr)+64)
	if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
		return nil, fmt.Errorf("bad %s record %q: %v", dns.TypeToString[typ], v, err)
	}
	return rr, nil
}

// parseErrorText keeps the part of a miekg/dns parse error that describes
// the problem, without its position inside our synthetic one-line record.
func parseErrorText(pe *dns.ParseError) string {
	s := strings.TrimPrefix(pe.Error(), "dns: ")
	if i := strings.LastIndex(s, " at line: "); i >= 0 {
		s = s[:i]
	}
	return s
}

// escapeTXT escapes the characters miekg/dns treats specially in TXT
// strings, so that the text is served exactly as written.
func escapeTXT(s string) string {
	if !strings.ContainsAny(s, "\\\"") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return r.Replace(s)
}

// apex builds the SOA and the apex NS records.
func (l *zoneLoader) apex(soa *soaDoc, ns *stringList, src []byte) {
	z := l.z
	apex := z.nodes[z.origin]
	var nsNames []string
	switch {
	case !ns.set:
		l.e.at(nil, "ns: missing; list the zone's name servers, e.g. ns = [\"ns1\", \"ns2\"]")
	case len(ns.problems) > 0:
	case len(ns.v) == 0:
		l.e.key([]string{"ns"}, "at least one name server is needed")
	}
	for i, s := range ns.v {
		path := ns.path([]string{"ns"}, i)
		n, err := l.name(s)
		if err != nil {
			l.e.at(path, "ns: %v", err)
			continue
		}
		rr := &dns.NS{Hdr: dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: l.ttl}, Ns: n}
		if containsRR(apex.get(dns.TypeNS), rr) {
			l.e.at(path, "ns: %s is listed twice", n)
			continue
		}
		apex.add(rr)
		nsNames = append(nsNames, n)
	}

	if soa == nil {
		l.e.at(nil, "[soa]: missing; every zone needs an SOA, e.g. [soa] rname = \"hostmaster.example.com.\"")
		return
	}
	rr := &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: l.ttlOf([]string{"soa", "ttl"}, &soa.TTL, l.ttl)},
		Refresh: defaultRefresh, Retry: defaultRetry, Expire: defaultExpire, Minttl: defaultNegativeTTL,
	}
	switch {
	case soa.Mname.ok() && soa.Mname.v != "":
		n, err := l.name(soa.Mname.v)
		if err != nil {
			l.e.key([]string{"soa", "mname"}, "%v", err)
		}
		rr.Ns = n
	case len(nsNames) > 0:
		rr.Ns = nsNames[0]
	}
	rname := "hostmaster"
	if soa.Rname.ok() && soa.Rname.v != "" {
		rname = soa.Rname.v
	}
	if at := strings.IndexByte(rname, '@'); at >= 0 {
		// Accept the e-mail form: the local part becomes the first label.
		rname = strings.ReplaceAll(rname[:at], ".", `\.`) + "." + dns.Fqdn(rname[at+1:])
	}
	n, err := l.name(rname)
	if err != nil {
		l.e.key([]string{"soa", "rname"}, "%v", err)
	}
	rr.Mbox = n
	soa.Refresh.to(&rr.Refresh)
	soa.Retry.to(&rr.Retry)
	soa.Expire.to(&rr.Expire)
	soa.NegativeTTL.to(&rr.Minttl)
	rr.Serial = autoSerial(src)
	if soa.Serial.ok() && !soa.Serial.auto {
		rr.Serial = soa.Serial.v
	}
	z.SOA = rr
	apex.add(rr)
	neg := *rr
	neg.Hdr.Ttl = min(rr.Hdr.Ttl, rr.Minttl)
	z.negSOA = []dns.RR{&neg}
	z.negWire = soaWire(&neg)
}

// autoSerial derives the serial from the zone file's content, so that it
// changes when the file does and is the same on every instance that serves
// the same file.
func autoSerial(src []byte) uint32 {
	h := fnv.New32a()
	h.Write(src)
	return h.Sum32()
}

// checkCuts rejects data that a delegation would hide: below a zone cut only
// glue (A and AAAA) may exist, and at the cut only NS, DS and glue.
func (l *zoneLoader) checkCuts() {
	for lower, n := range l.z.nodes {
		if n.empty() {
			continue
		}
		if n.cut {
			for _, s := range n.rrsets {
				switch s.typ {
				case dns.TypeNS, dns.TypeDS, dns.TypeA, dns.TypeAAAA:
				default:
					l.e.at(l.owners[lower], "%s: %s records cannot stand at the delegation point %s (only NS, DS and glue)", n.name, dns.TypeToString[s.typ], n.name)
				}
			}
		} else if n.get(dns.TypeDS) != nil {
			l.e.at(l.owners[lower], "%s: DS records belong only at a delegation point (a name with NS records)", n.name)
		}
		for off, end := dns.NextLabel(lower, 0); !end; off, end = dns.NextLabel(lower, off) {
			parent := lower[off:]
			if parent == l.z.origin {
				break
			}
			if p := l.z.nodes[parent]; p != nil && p.cut {
				if n.service != nil {
					l.e.at(l.owners[lower], "%s: service %s is below the delegation of %s and would never be answered", dotted(l.owners[lower]), n.name, p.name)
					break
				}
				for _, s := range n.rrsets {
					if s.typ != dns.TypeA && s.typ != dns.TypeAAAA {
						l.e.at(l.owners[lower], "%s: %s records at %s are below the delegation of %s; only glue (A, AAAA) may be there", dotted(l.owners[lower]), dns.TypeToString[s.typ], n.name, p.name)
					}
				}
				break
			}
		}
	}
}

// checkNSTargets asks for address records of every NS target inside the
// zone: without them nobody can reach the name server (missing glue).
func (l *zoneLoader) checkNSTargets() {
	for lower, n := range l.z.nodes {
		for _, rr := range n.get(dns.TypeNS) {
			target := rr.(*dns.NS).Ns
			tl := strings.ToLower(target)
			if !dns.IsSubDomain(l.z.origin, tl) {
				continue
			}
			t := l.z.nodes[tl]
			if t != nil && (t.get(dns.TypeA) != nil || t.get(dns.TypeAAAA) != nil) {
				continue
			}
			path := l.owners[lower]
			if lower == l.z.origin {
				path = []string{"ns"}
			}
			l.e.at(path, "%s: name server %s is inside the zone but has no A or AAAA records (glue missing)", n.name, target)
		}
	}
}
