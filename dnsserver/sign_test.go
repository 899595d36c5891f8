package dnsserver

import (
	"crypto"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/miekg/dns"

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
	k, err := dnssec.Generate("example.com.", alg)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"gslb.toml":               {Data: []byte(config)},
		"example.com.toml":        {Data: []byte(zone + "[dnssec]\nkey = \"" + k.BaseName() + "\"\n")},
		k.BaseName() + ".key":     {Data: []byte(k.DNSKEY.String() + "\n"), Mode: 0o644},
		k.BaseName() + ".private": {Data: []byte(k.DNSKEY.PrivateKeyString(k.Signer.(crypto.PrivateKey))), Mode: 0o600},
	}
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
	if after := srv.h.SignatureCache().Stats(); after.Signed != before.Signed || after.Hits == before.Hits {
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
