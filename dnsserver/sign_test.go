package dnsserver

import (
	"bytes"
	"crypto"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/miekg/dns"

	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
)

// signedZone is testZone signed with a new key of alg; it returns the
// snapshot and the key's DNSKEY.
func signedZone(t testing.TB, alg uint8) (*zones.Snapshot, *dns.DNSKEY) {
	return signedZoneOf(t, alg, testConfig, testZone)
}

// signedZoneOf is zone (example.com.) signed with a new key of alg.
func signedZoneOf(t testing.TB, alg uint8, config, zone string) (*zones.Snapshot, *dns.DNSKEY) {
	t.Helper()
	return signedZoneWith(t, alg, config, zone, "")
}

// signedZoneWith is signedZoneOf with more settings in the [dnssec] table.
func signedZoneWith(t testing.TB, alg uint8, config, zone, settings string) (*zones.Snapshot, *dns.DNSKEY) {
	t.Helper()
	k, err := dnssec.Generate("example.com.", alg)
	if err != nil {
		t.Fatal(err)
	}
	fsys := keyFS(k)
	fsys["gslb.toml"] = &fstest.MapFile{Data: []byte(config)}
	fsys["example.com.toml"] = &fstest.MapFile{Data: []byte(zone + "[dnssec]\nkey = \"" + k.BaseName() + "\"\n" + settings)}
	s, err := zones.Load(zones.FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s, k.DNSKEY
}

// verifySigned checks every RRset of r's sections but a delegation's NS
// and glue has an RRSIG by key that verifies, and returns the NSEC
// records of the authority section.
func verifySigned(t *testing.T, key *dns.DNSKEY, r *dns.Msg) []*dns.NSEC {
	t.Helper()
	var nsecs []*dns.NSEC
	delegation := !r.Authoritative
	for name, section := range map[string][]dns.RR{"answer": r.Answer, "authority": r.Ns, "additional": r.Extra} {
		sets := map[string][]dns.RR{}
		sigs := map[string]*dns.RRSIG{}
		for _, rr := range section {
			h := rr.Header()
			switch x := rr.(type) {
			case *dns.OPT:
				continue
			case *dns.RRSIG:
				sigs[strings.ToLower(h.Name)+"/"+dns.TypeToString[x.TypeCovered]] = x
				continue
			case *dns.NSEC:
				nsecs = append(nsecs, x)
			}
			k := strings.ToLower(h.Name) + "/" + dns.TypeToString[h.Rrtype]
			sets[k] = append(sets[k], rr)
		}
		for k, set := range sets {
			unsigned := delegation && (strings.HasSuffix(k, "/NS") || name == "additional")
			sig := sigs[k]
			switch {
			case unsigned && sig != nil:
				t.Errorf("%s: %s is signed: a delegation's NS and glue are not", name, k)
			case unsigned:
			case sig == nil:
				t.Errorf("%s: %s has no RRSIG", name, k)
			case sig.Hdr.Ttl != set[0].Header().Ttl:
				t.Errorf("%s: RRSIG of %s has TTL %d, its RRset %d", name, k, sig.Hdr.Ttl, set[0].Header().Ttl)
			default:
				if err := sig.Verify(key, set); err != nil {
					t.Errorf("%s: RRSIG of %s does not verify: %v", name, k, err)
				}
			}
		}
	}
	if r.AuthenticatedData {
		t.Error("AD set")
	}
	return nsecs
}

// askDO asks rd for name and qtype with DO, as a UDP client would, and
// returns the reply.
func askDO(t *testing.T, rd *Reader, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, true)
	req, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(rd.Serve(req, netip.MustParseAddrPort("192.0.2.200:5353"), nil, time.Now())); err != nil {
		t.Fatalf("%s %s: the reply does not unpack: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// keyFS is the files of key k: its BIND pair, the private half its
// owner's alone.
func keyFS(k *dnssec.Key) fstest.MapFS {
	return fstest.MapFS{
		k.BaseName() + ".key":     {Data: []byte(k.DNSKEY.String() + "\n"), Mode: 0o644},
		k.BaseName() + ".private": {Data: []byte(k.DNSKEY.PrivateKeyString(k.Signer.(crypto.PrivateKey))), Mode: 0o600},
	}
}

// TestSigned: answers of a signed zone to queries with DO, each RRset
// verified with the zone's key; compact denial; no DNSSEC records without
// DO.
func TestSigned(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		t.Run(dnssec.AlgorithmName(alg), func(t *testing.T) { testSigned(t, alg) })
	}
}

func testSigned(t *testing.T, alg uint8) {
	snap, key := signedZone(t, alg)
	srv, addr := startServer(t, snap)
	cases := []struct {
		name, qname string
		qtype       uint16
		co, tcp     bool
		rcode       int
		answer      []uint16 // the types of the answer's RRsets, RRSIGs aside
		nsec        string   // "owner types" of the authority's NSEC, "" for none
	}{
		{name: "service A", qname: "www.example.com.", qtype: dns.TypeA, answer: []uint16{dns.TypeA}},
		{name: "service AAAA", qname: "www.example.com.", qtype: dns.TypeAAAA, answer: []uint16{dns.TypeAAAA}},
		{name: "apex SOA", qname: "example.com.", qtype: dns.TypeSOA, answer: []uint16{dns.TypeSOA}},
		{name: "apex DNSKEY", qname: "example.com.", qtype: dns.TypeDNSKEY, answer: []uint16{dns.TypeDNSKEY}},
		{name: "apex NS and signed additional", qname: "example.com.", qtype: dns.TypeNS, answer: []uint16{dns.TypeNS}},
		{name: "MX and signed additional", qname: "example.com.", qtype: dns.TypeMX, answer: []uint16{dns.TypeMX}},
		{name: "CNAME chased", qname: "alias.example.com.", qtype: dns.TypeA, answer: []uint16{dns.TypeCNAME, dns.TypeA}},
		{name: "wildcard", qname: "foo.wild.example.com.", qtype: dns.TypeA, answer: []uint16{dns.TypeA}},
		{name: "NXDOMAIN is compact NODATA", qname: "nope.example.com.", qtype: dns.TypeA,
			nsec: "nope.example.com. RRSIG NSEC NXNAME"},
		{name: "NXDOMAIN with CO", qname: "nope.example.com.", qtype: dns.TypeA, co: true, rcode: dns.RcodeNameError,
			nsec: "nope.example.com. RRSIG NSEC NXNAME"},
		{name: "CNAME to nothing", qname: "dangling.example.com.", qtype: dns.TypeA, answer: []uint16{dns.TypeCNAME},
			nsec: "missing.example.com. RRSIG NSEC NXNAME"},
		{name: "service NODATA lists its families", qname: "www.example.com.", qtype: dns.TypeTXT,
			nsec: "www.example.com. A AAAA RRSIG NSEC"},
		{name: "NODATA never the type asked", qname: "mail.example.com.", qtype: dns.TypeAAAA,
			nsec: "mail.example.com. A RRSIG NSEC"},
		{name: "apex NODATA", qname: "example.com.", qtype: dns.TypeSRV,
			nsec: "example.com. NS SOA MX TXT RRSIG NSEC DNSKEY"},
		{name: "empty non-terminal", qname: "b.example.com.", qtype: dns.TypeA, nsec: "b.example.com. RRSIG NSEC"},
		{name: "wildcard NODATA", qname: "foo.wild.example.com.", qtype: dns.TypeMX, nsec: "foo.wild.example.com. A RRSIG NSEC"},
		{name: "referral proves no DS", qname: "www.child.example.com.", qtype: dns.TypeA, nsec: "child.example.com. NS RRSIG NSEC"},
		{name: "DS at the cut", qname: "child.example.com.", qtype: dns.TypeDS, nsec: "child.example.com. NS RRSIG NSEC"},
		{name: "NSEC asked for", qname: "mail.example.com.", qtype: dns.TypeNSEC, answer: []uint16{dns.TypeNSEC}},
		{name: "NXNAME asked for", qname: "mail.example.com.", qtype: dns.TypeNXNAME, rcode: dns.RcodeFormatError},
		{name: "big over TCP", qname: "big.example.com.", qtype: dns.TypeTXT, tcp: true, answer: []uint16{dns.TypeTXT}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion(c.qname, c.qtype)
			q.SetEdns0(1232, true)
			if c.co {
				q.IsEdns0().SetCo()
			}
			network := "udp"
			if c.tcp {
				network = "tcp"
			}
			r := exchange(t, network, addr, q)
			if r.Rcode != c.rcode {
				t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode], r)
			}
			opt := r.IsEdns0()
			if opt == nil || !opt.Do() || opt.Co() != (c.co && c.rcode == dns.RcodeNameError) {
				t.Errorf("OPT %v: want DO, and CO only on a compact NXDOMAIN asked for with CO", opt)
			}
			if c.rcode == dns.RcodeFormatError {
				return
			}
			nsecs := verifySigned(t, key, r)
			var types []uint16
			for _, rr := range r.Answer {
				if t := rr.Header().Rrtype; t != dns.TypeRRSIG && !slices.Contains(types, t) {
					types = append(types, t)
				}
			}
			if !slices.Equal(types, c.answer) {
				t.Errorf("answer types %v, want %v\n%v", types, c.answer, r)
			}
			var got string
			for _, n := range nsecs {
				if n.NextDomain != `\000.`+n.Hdr.Name {
					t.Errorf("NSEC next name %s: want the immediate successor of %s", n.NextDomain, n.Hdr.Name)
				}
				if n.Hdr.Ttl != 60 {
					t.Errorf("NSEC TTL %d, want the negative TTL 60", n.Hdr.Ttl)
				}
				f := strings.Fields(n.String())
				got = strings.Join(append([]string{f[0]}, f[5:]...), " ")
			}
			if c.answer == nil || c.nsec != "" {
				if got != c.nsec || len(nsecs) > 1 {
					t.Errorf("NSEC %q (%d), want %q\n%v", got, len(nsecs), c.nsec, r)
				}
			}
			if c.qname == "foo.wild.example.com." && c.qtype == dns.TypeA {
				for _, rr := range r.Answer {
					if s, ok := rr.(*dns.RRSIG); ok && s.Labels != 4 {
						t.Errorf("wildcard answer signed with labels %d, want 4 (as the name it answers)", s.Labels)
					}
				}
			}
		})
	}
	// The same queries again: every signature from the cache.
	before := srv.h.SignatureCache().Stats()
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	q.SetEdns0(1232, true)
	exchange(t, "udp", addr, q)
	if after := srv.h.SignatureCache().Stats(); after.Signed != before.Signed {
		t.Errorf("a second query signed again: %+v, then %+v", before, after)
	}
	// Without DO: nothing of DNSSEC.
	q = new(dns.Msg)
	q.SetQuestion("nope.example.com.", dns.TypeA)
	q.SetEdns0(1232, false)
	r := exchange(t, "udp", addr, q)
	if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Errorf("NXDOMAIN without DO: %v", r)
	}
	q.SetQuestion("www.example.com.", dns.TypeA)
	if r := exchange(t, "udp", addr, q); len(r.Answer) != 2 {
		t.Errorf("service without DO: %v", r)
	}
}

// TestSignedAnswerCache: a reader keeps a signed reply and gives it again,
// byte for byte with the new ID, until its signatures' window moves on;
// then it signs again (here, from the signature cache).
func TestSignedAnswerCache(t *testing.T) {
	snap, key := signedZone(t, dns.ECDSAP256SHA256)
	h := NewHandler(snap, Identity{}, nil, discard())
	h.SetMetrics(NewMetrics())
	rd := h.NewReader()
	src := netip.MustParseAddrPort("192.0.2.200:5353")
	q := new(dns.Msg)
	q.SetQuestion("mail.example.com.", dns.TypeA)
	q.SetEdns0(1232, true)
	q.Id = 1
	req, _ := q.Pack()
	first := slices.Clone(rd.Serve(req, src, nil, time.Now()))
	q.Id = 2
	req2, _ := q.Pack()
	second := rd.Serve(req2, src, nil, time.Now())
	if h.metrics.cacheHits.Load() != 1 {
		t.Fatalf("the signed reply was not kept: %d hits", h.metrics.cacheHits.Load())
	}
	if !bytes.Equal(first[2:], second[2:]) || second[1] != 2 {
		t.Errorf("the kept reply differs from the first:\n%x\n%x", first, second)
	}
	r := new(dns.Msg)
	if err := r.Unpack(second); err != nil {
		t.Fatal(err)
	}
	verifySigned(t, key, r)
	// The window moves on: the entry is stale.
	e := &rd.cache.entries[rd.cache.hashKey(req2, src.Addr())&(cacheEntries-1)]
	if e.until == 0 || e.until > time.Now().Add(dnssec.DefaultValidity).Unix() {
		t.Fatalf("entry kept until %d", e.until)
	}
	e.until = time.Now().Unix()
	rd.Serve(req2, src, nil, time.Now())
	if h.metrics.cacheHits.Load() != 1 {
		t.Error("a reply past its signatures' window was given from the cache")
	}
}

// signedCases are whole queries with DO of the signed benchmark zone:
// allocs is the budget of a query after the first (the signature cache
// warm), through the handler; cached tells the reader's answer cache
// keeps the reply.
var signedCases = []struct {
	name   string
	qname  string
	qtype  uint16
	ecs    []byte
	allocs float64
	cached bool
}{
	{"static A, signed", "static.example.com.", dns.TypeA, nil, 6, true},
	{"geo service (members weighted) with ECS, signed, never cached", "geo.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), 8, false},
	{"geo service (members all) with ECS, signed", "geoall.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), 7, true},
	{"NXDOMAIN, compact denial, signed", "nope.example.com.", dns.TypeA, nil, 22, true},
}

func signedWire(qname string, qtype uint16, ecs []byte) []byte {
	return rawQuery(1, 0x0100, 1, qname, qtype, rawOPT(1232, 0, 0x8000, ecs), 1)
}

// signedBenchHandler is benchHandler's zone, signed.
func signedBenchHandler(tb testing.TB) *Handler {
	snap, _ := signedZoneOf(tb, dns.ECDSAP256SHA256, "zones = [\"example.com.toml\"]\n[geo]\ndatabase = \"../testdata/geoip/GeoIP2-City-Test.mmdb\"\n", benchZone)
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(loc.Close)
	return NewHandler(snap, Identity{}, loc, discard())
}

// BenchmarkServeSigned runs whole signed queries through the handler (no
// answer cache), the signature cache warm; BenchmarkReaderSigned through
// a UDP reader, whose answer cache keeps signed replies.
func BenchmarkServeSigned(b *testing.B) {
	h := signedBenchHandler(b)
	for _, c := range signedCases {
		b.Run(c.name, func(b *testing.B) {
			req, buf := signedWire(c.qname, c.qtype, c.ecs), make([]byte, 0, 65535)
			b.ReportAllocs()
			for b.Loop() {
				h.Serve(req, benchSrc, UDP, buf)
			}
		})
	}
}

func BenchmarkReaderSigned(b *testing.B) {
	h := signedBenchHandler(b)
	for _, c := range signedCases {
		b.Run(c.name, func(b *testing.B) {
			r := h.NewReader()
			now := time.Now()
			req, buf := signedWire(c.qname, c.qtype, c.ecs), make([]byte, 0, 65535)
			b.ReportAllocs()
			for b.Loop() {
				r.Serve(req, benchSrc, buf, now)
			}
		})
	}
}

// TestSignedAllocations holds signed queries to their allocation budgets,
// with a warm signature cache, and checks that the reader's answer cache
// answers them (no allocation at all).
func TestSignedAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	h := signedBenchHandler(t)
	h.SetMetrics(NewMetrics())
	for _, c := range signedCases {
		req, buf := signedWire(c.qname, c.qtype, c.ecs), make([]byte, 0, 65535)
		h.Serve(req, benchSrc, UDP, buf)
		allocs := testing.AllocsPerRun(200, func() { h.Serve(req, benchSrc, UDP, buf) })
		t.Logf("%s: %.0f allocs per query (budget %.0f)", c.name, allocs, c.allocs)
		if allocs > c.allocs {
			t.Errorf("%s: %.0f allocs per query, budget %.0f", c.name, allocs, c.allocs)
		}
		r := h.NewReader()
		now := time.Now()
		r.Serve(req, benchSrc, buf, now)
		hits := h.metrics.cacheHits.Load()
		cached := testing.AllocsPerRun(200, func() { r.Serve(req, benchSrc, buf, now) })
		if got := h.metrics.cacheHits.Load() - hits; (got > 0) != c.cached || c.cached && cached > 0 {
			t.Errorf("%s: %d answer cache hits, %.0f allocs per cached query", c.name, got, cached)
		}
	}
}

// TestSignedRRSIGQuery: a query of type RRSIG gets the signatures of each
// RRset at the name (a service's as this client would get them) and of
// its NSEC; at a name that does not exist, compact denial.
func TestSignedRRSIGQuery(t *testing.T) {
	snap, _ := signedZone(t, dns.ECDSAP256SHA256)
	_, addr := startServer(t, snap)
	for _, c := range []struct {
		qname   string
		covered string
	}{
		{"mail.example.com.", "A NSEC"},
		{"www.example.com.", "A AAAA NSEC"},
		{"example.com.", "NS SOA MX TXT DNSKEY NSEC"},
		{"foo.wild.example.com.", "A NSEC"},
		{"nope.example.com.", ""},
	} {
		q := new(dns.Msg)
		q.SetQuestion(c.qname, dns.TypeRRSIG)
		q.SetEdns0(1232, true)
		r := exchange(t, "udp", addr, q)
		var covered []string
		for _, rr := range r.Answer {
			s, ok := rr.(*dns.RRSIG)
			if !ok || !strings.EqualFold(s.Hdr.Name, c.qname) {
				t.Errorf("%s RRSIG: answer %v", c.qname, rr)
				continue
			}
			covered = append(covered, dns.TypeToString[s.TypeCovered])
		}
		if got := strings.Join(covered, " "); got != c.covered || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
			t.Errorf("%s RRSIG: %s signatures of %q, want %q\n%v", c.qname, dns.RcodeToString[r.Rcode], got, c.covered, r)
		}
		if c.covered == "" && len(r.Ns) != 4 {
			t.Errorf("%s RRSIG: want compact denial (SOA, NSEC and their RRSIGs)\n%v", c.qname, r)
		}
	}
}

// TestSigningClock: a handler whose signing clock is held signs for the
// held time's window, whatever the system clock says: signatures a
// validator rejects once that window has passed (what the held-clock
// build of .ci/dnssec.sh shows end to end).
func TestSigningClock(t *testing.T) {
	snap, key := signedZone(t, dns.ECDSAP256SHA256)
	held := time.Now().Add(-30 * 24 * time.Hour)
	tests := []struct {
		name  string
		clock func() time.Time
		at    time.Time // the window's time
		valid bool      // the signatures valid now
	}{
		{"system clock", nil, time.Now(), true},
		{"held 30 days back", func() time.Time { return held }, held, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHandler(snap, Identity{}, nil, discard())
			h.SetSigningClock(tt.clock)
			r := askDO(t, h.NewReader(), "mail.example.com.", dns.TypeA)
			verifySigned(t, key, r)
			w := dnssec.WindowAt(tt.at, dnssec.DefaultValidity)
			var sig *dns.RRSIG
			for _, rr := range r.Answer {
				if s, ok := rr.(*dns.RRSIG); ok {
					sig = s
				}
			}
			if sig == nil {
				t.Fatal("no RRSIG in the answer")
			}
			if got, want := int64(sig.Expiration), w.Expires().Unix(); got != want {
				t.Errorf("expiration %d, want %d (the window of %s)", got, want, tt.at.Format(time.RFC3339))
			}
			if got := sig.ValidityPeriod(time.Now()); got != tt.valid {
				t.Errorf("valid now: %v, want %v", got, tt.valid)
			}
		})
	}
}

// TestSignedEdges: the DS of a zone served beside its parent comes from
// the parent (RFC 4035 3.1.4.1); the NSEC at a delegation lists NS (and
// DS), never glue at the cut (RFC 4035 2.3); a missing name too long for
// a "\000." in front still gets an NSEC whose next name fits (RFC 4471
// 3.1.2), in a reply that unpacks and verifies.
func TestSignedEdges(t *testing.T) {
	k, err := dnssec.Generate("example.com.", dns.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	const ds = "12345 13 2 " + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	parent := `origin = "example.com."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "192.0.2.53" }
sub = { NS = ["ns.sub"], DS = "` + ds + `" }
"ns.sub" = { A = "192.0.2.54" }
glued = { NS = "glued", A = "192.0.2.78" }
[dnssec]
key = "` + k.BaseName() + `"
`
	child := `origin = "sub.example.com."
ns = ["ns"]
[soa]
rname = "hostmaster"
[records]
ns = { A = "192.0.2.54" }
`
	fsys := keyFS(k)
	fsys["gslb.toml"] = &fstest.MapFile{Data: []byte(`zones = ["example.com.toml", "sub.example.com.toml"]` + "\n")}
	fsys["example.com.toml"] = &fstest.MapFile{Data: []byte(parent)}
	fsys["sub.example.com.toml"] = &fstest.MapFile{Data: []byte(child)}
	snap, err := zones.Load(zones.FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	rd := NewHandler(snap, Identity{}, nil, discard()).NewReader()
	nsecOf := func(r *dns.Msg) string {
		for _, rr := range r.Ns {
			if n, ok := rr.(*dns.NSEC); ok {
				var b strings.Builder
				b.WriteString(n.Hdr.Name)
				for _, ty := range n.TypeBitMap {
					b.WriteString(" " + dns.TypeToString[ty])
				}
				return b.String()
			}
		}
		return ""
	}

	t.Run("DS of a served child from the parent", func(t *testing.T) {
		r := askDO(t, rd, "sub.example.com.", dns.TypeDS)
		if !r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
			t.Fatalf("want the parent's DS, signed:\n%v", r)
		}
		if d, ok := r.Answer[0].(*dns.DS); !ok || d.KeyTag != 12345 {
			t.Errorf("answer %v", r.Answer[0])
		}
		verifySigned(t, k.DNSKEY, r)
		// The child's own data stays the child's.
		if r := askDO(t, rd, "sub.example.com.", dns.TypeSOA); len(r.Answer) == 0 || r.Answer[0].Header().Name != "sub.example.com." {
			t.Errorf("SOA of the child:\n%v", r)
		}
	})
	for _, c := range []struct {
		name, qname string
		qtype       uint16
	}{
		{"no DS at a cut with glue", "glued.example.com.", dns.TypeDS},
		{"a referral to a cut with glue", "x.glued.example.com.", dns.TypeA},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := askDO(t, rd, c.qname, c.qtype)
			if got, want := nsecOf(r), "glued.example.com. NS RRSIG NSEC"; got != want {
				t.Errorf("NSEC %q, want %q:\n%v", got, want, r)
			}
			verifySigned(t, k.DNSKEY, r)
		})
	}
	t.Run("a missing name of 254 octets", func(t *testing.T) {
		name := "example.com."
		for len(name) < 254-64 {
			name = strings.Repeat("a", 63) + "." + name
		}
		name = strings.Repeat("b", 254-2-len(name)) + "." + name
		r := askDO(t, rd, name, dns.TypeA)
		nsecs := verifySigned(t, k.DNSKEY, r)
		if len(nsecs) != 1 || nsecs[0].NextDomain != dnssec.Successor(name) || strings.HasPrefix(nsecs[0].NextDomain, `\000.`) {
			t.Errorf("NSEC %v", nsecs)
		}
	})
}

// TestSignedCDS: with cds = "keys" the apex answers CDS and CDNSKEY
// (RFC 7344) for the zone's key, signed, and its NSEC lists them; with
// "delete", the RFC 8078 records that ask the parent to remove the DS.
func TestSignedCDS(t *testing.T) {
	for _, c := range []struct {
		cds         string
		wantCDS     func(k *dns.DNSKEY) string
		wantCDNSKEY func(k *dns.DNSKEY) string
	}{
		{"keys",
			func(k *dns.DNSKEY) string {
				ds := k.ToDS(dns.SHA256)
				return fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
			},
			func(k *dns.DNSKEY) string {
				return fmt.Sprintf("%d %d %d %s", k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
			}},
		{"delete",
			func(*dns.DNSKEY) string { return "0 0 0 00" },
			func(*dns.DNSKEY) string { return "0 3 0 AA==" }},
	} {
		t.Run(c.cds, func(t *testing.T) {
			snap, key := signedZoneWith(t, dns.ECDSAP256SHA256, testConfig, testZone, "cds = \""+c.cds+"\"\n")
			rd := NewHandler(snap, Identity{}, nil, discard()).NewReader()
			ask := func(qtype uint16) *dns.Msg {
				r := askDO(t, rd, "example.com.", qtype)
				verifySigned(t, key, r)
				return r
			}
			for qtype, want := range map[uint16]string{dns.TypeCDS: c.wantCDS(key), dns.TypeCDNSKEY: c.wantCDNSKEY(key)} {
				r := ask(qtype)
				var got []string
				for _, rr := range r.Answer {
					if rr.Header().Rrtype == qtype {
						got = append(got, strings.ToUpper(strings.TrimPrefix(rr.String(), rr.Header().String())))
					}
				}
				if len(got) != 1 || got[0] != strings.ToUpper(want) {
					t.Errorf("%s: %q, want %q", dns.TypeToString[qtype], got, want)
				}
			}
			r := ask(dns.TypeSRV)
			var bitmap []uint16
			for _, rr := range r.Ns {
				if n, ok := rr.(*dns.NSEC); ok {
					bitmap = n.TypeBitMap
				}
			}
			if !slices.Contains(bitmap, dns.TypeCDS) || !slices.Contains(bitmap, dns.TypeCDNSKEY) {
				t.Errorf("the apex NSEC does not list CDS and CDNSKEY:\n%v", r)
			}
		})
	}
}
