package zones

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/gslb/gslb/zones/dnssec"
)

// dnssecDoc is a zone file's [dnssec] table.
type dnssecDoc struct {
	Enabled   tomlBool    `toml:"enabled"`
	Key       tomlString  `toml:"key"`
	Keys      stringArray `toml:"keys"`
	Algorithm tomlString  `toml:"algorithm"`
	Validity  duration    `toml:"signature_validity"`
	NSEC      tomlString  `toml:"nsec"`
	DNSKEYTTL seconds     `toml:"dnskey_ttl"`
	CDS       tomlString  `toml:"cds"`
}

// DefaultDNSKEYTTL is the TTL of the DNSKEY RRset unless dnskey_ttl sets
// it.
const DefaultDNSKEYTTL = 3600

// Signing is how a signed zone is signed: its keys (each signs every
// RRset; two during a rollover), the validity of its signatures, and the
// TTLs signing needs.
type Signing struct {
	Keys     []*dnssec.Key
	Validity time.Duration
	// DNSKEY is the apex's DNSKEY RRset (also in the zone's records).
	DNSKEY []dns.RR
	// OrigTTL is the original TTL of every signature: the longest TTL any
	// record of the zone is answered with, so that a TTL an answer
	// shortens (adaptive TTLs) does not make another signature.
	OrigTTL uint32
	// NegTTL is the TTL of denial NSEC records: the negative SOA's.
	NegTTL uint32
	// DNSKEYTTL is the TTL of the DNSKEY, CDS and CDNSKEY RRsets.
	DNSKEYTTL uint32
	// CDS is what the apex's CDS and CDNSKEY ask the parent for: "none",
	// "keys" or "delete".
	CDS string
}

// Signing returns how the zone is signed, nil when it is not.
func (z *Zone) Signing() *Signing { return z.signing }

// fileMode tells the permission bits of a file, when files can tell
// (0 otherwise).
func fileMode(files Files, name string) fs.FileMode {
	if m, ok := files.(interface {
		Mode(string) (fs.FileMode, error)
	}); ok {
		if mode, err := m.Mode(name); err == nil {
			return mode
		}
	}
	return 0
}

// signing reads the zone's [dnssec] table and its keys: the zone is then
// signed when it is answered to a query with DO. The keys are read
// relative to the zone file.
func (l *zoneLoader) signing(d *dnssecDoc, files Files) {
	if d == nil || d.Enabled.ok() && !d.Enabled.v {
		return
	}
	path := []string{"dnssec"}
	at := func(k string) []string { return append(path[:1:1], k) }
	var names []string
	var paths [][]string
	switch {
	case d.Key.ok() && d.Keys.set:
		l.e.key(at("keys"), "set key or keys, not both")
		return
	case d.Key.ok() && d.Key.v != "":
		names, paths = []string{d.Key.v}, [][]string{at("key")}
	case d.Keys.ok() && len(d.Keys.v) > 0:
		names = d.Keys.v
		for i := range names {
			paths = append(paths, d.Keys.path(at("keys"), i))
		}
	case !d.Key.set && !d.Keys.set:
		l.e.key(path, "a signed zone needs its key: key = \"Kexample.com.+013+12345\" (made by gslb dnssec keygen)")
		return
	default:
		if d.Key.ok() || d.Keys.ok() {
			l.e.key(at("key"), "empty: name the key's file")
		}
		return
	}
	if len(names) > 2 {
		l.e.key(at("keys"), "%d keys: at most two (the old and the new one, during a rollover)", len(names))
		return
	}
	alg := uint8(0)
	if d.Algorithm.ok() {
		var ok bool
		if alg, ok = dnssec.Algorithms[strings.ToLower(d.Algorithm.v)]; !ok {
			l.e.key(at("algorithm"), "%q: want ecdsap256sha256 or ed25519", d.Algorithm.v)
			return
		}
	}
	cds := "none"
	if d.CDS.ok() {
		switch cds = d.CDS.v; cds {
		case "none", "keys", "delete":
		default:
			l.e.key(at("cds"), "%q: want \"none\", \"keys\" (CDS and CDNSKEY of the zone's keys, RFC 7344) or \"delete\" (ask the parent to remove the DS, RFC 8078 4)", cds)
			return
		}
	}
	if d.NSEC.ok() && d.NSEC.v != "compact" {
		l.e.key(at("nsec"), "%q: gslb denies with compact NSEC (RFC 9824): write nsec = \"compact\" or leave it out", d.NSEC.v)
	}
	sg := &Signing{Validity: dnssec.DefaultValidity, OrigTTL: l.cfg.MaxTTL, CDS: cds}
	if d.Validity.ok() {
		if v := d.Validity.v; v < dnssec.MinValidity || v > dnssec.MaxValidity {
			l.e.key(at("signature_validity"), "%v: want %v..%v", v, dnssec.MinValidity, time.Duration(dnssec.MaxValidity))
		} else {
			sg.Validity = v
		}
	}
	ttl := l.ttlOf(at("dnskey_ttl"), &d.DNSKEYTTL, min(DefaultDNSKEYTTL, l.cfg.MaxTTL))
	sg.DNSKEYTTL = ttl
	read := func(name string) ([]byte, fs.FileMode, error) {
		b, err := files.ReadFile(name, 64<<10)
		if err != nil {
			return nil, 0, err
		}
		return b, fileMode(files, name), nil
	}
	for i, n := range names {
		file := n
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(l.z.File), n)
		}
		k, err := dnssec.ReadKey(read, l.z.Origin, file)
		if err != nil {
			l.e.key(paths[i], "%v", err)
			continue
		}
		if alg != 0 && k.DNSKEY.Algorithm != alg {
			l.e.key(paths[i], "%s is an %s key, but algorithm = %q", n, dnssec.AlgorithmName(k.DNSKEY.Algorithm), d.Algorithm.v)
			continue
		}
		for _, o := range sg.Keys {
			if o.Tag == k.Tag && o.DNSKEY.PublicKey == k.DNSKEY.PublicKey {
				l.e.key(paths[i], "%s is listed twice", n)
			}
		}
		k.DNSKEY.Hdr.Ttl = ttl
		sg.Keys = append(sg.Keys, k)
		sg.DNSKEY = append(sg.DNSKEY, k.DNSKEY)
	}
	if len(sg.Keys) != len(names) {
		return
	}
	apex := l.z.nodes[l.z.origin]
	for _, rr := range sg.DNSKEY {
		apex.add(rr)
	}
	for _, rr := range childSync(l.z.Origin, cds, sg.Keys, ttl) {
		apex.add(rr)
	}
	l.z.signing = sg
}

// childSync is the apex's CDS and CDNSKEY RRsets for cds (RFC 7344, RFC
// 8078): "keys" asks the parent for a DS (SHA-256) of each key, "delete"
// to remove the DS, "none" nothing.
func childSync(origin, cds string, keys []*dnssec.Key, ttl uint32) []dns.RR {
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: origin, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	var out []dns.RR
	switch cds {
	case "keys":
		for _, k := range keys {
			ds := k.DNSKEY.ToDS(dns.SHA256)
			c := &dns.CDS{DS: *ds}
			c.Hdr = hdr(dns.TypeCDS)
			ck := &dns.CDNSKEY{DNSKEY: *k.DNSKEY}
			ck.Hdr = hdr(dns.TypeCDNSKEY)
			out = append(out, c, ck)
		}
	case "delete":
		// RFC 8078 4: the one CDS and the one CDNSKEY that mean "delete".
		c := &dns.CDS{DS: dns.DS{Digest: "00"}}
		c.Hdr = hdr(dns.TypeCDS)
		ck := &dns.CDNSKEY{DNSKEY: dns.DNSKEY{Protocol: 3, PublicKey: "AA=="}}
		ck.Hdr = hdr(dns.TypeCDNSKEY)
		out = append(out, c, ck)
	}
	return out
}

// finishSigning sets what signing needs of the zone: the negative TTL,
// and the original TTL of signatures, the longest TTL of the zone's
// records and services. Signatures always have two thirds of their
// validity left (WindowAt): that must cover the longest TTL, or a cache
// could keep a record past its signature's expiry.
func (l *zoneLoader) finishSigning(validityGiven bool) {
	z := l.z
	sg := z.signing
	if sg == nil || len(z.negSOA) == 0 {
		return
	}
	sg.NegTTL = z.negSOA[0].Header().Ttl
	// The longest TTL, and what has it (of equals, the first name in
	// order, so that the message is the same at every load).
	longest, what, at := sg.NegTTL, "the negative TTL", ""
	for _, n := range z.nodes {
		for _, s := range n.rrsets {
			for _, rr := range s.rrs {
				if t := rr.Header().Ttl; t > longest || t == longest && (at == "" || n.name < at) {
					longest, what, at = t, "the "+dns.TypeToString[s.typ]+" records of "+n.name, n.name
				}
			}
		}
		if s := n.service; s != nil && (s.TTL > longest || s.TTL == longest && (at == "" || n.name < at)) {
			longest, what, at = s.TTL, "service "+n.name, n.name
		}
	}
	sg.OrigTTL = longest
	if left := sg.Validity * 2 / 3; left < time.Duration(longest)*time.Second {
		path := []string{"dnssec"}
		if validityGiven {
			path = append(path, "signature_validity")
		}
		l.e.key(path, "signatures valid %v have at least %v left, less than the zone's longest TTL (%d s, %s): a cache could keep a record past its signature; raise signature_validity to %v or more, or lower that TTL",
			sg.Validity, left.Round(time.Second), longest, what, (time.Duration(longest) * time.Second * 3 / 2).Round(time.Second))
	}
}

// TypesAt returns the types that exist at the name lower (lower case,
// within the zone) as a lookup answers it, sorted: those of its node, or
// of the wildcard that stands for it, a service's families among them;
// none for an empty non-terminal or a name that does not exist; at a
// delegation only NS and DS, the types the parent is authoritative for.
// For compact denial's NSEC bitmaps.
func (z *Zone) TypesAt(lower string) []uint16 {
	n, encloser, cut := z.find(lower)
	if n == nil && cut == nil {
		n = z.nodes["*."+encloser]
	}
	if n == nil {
		return nil
	}
	types := make([]uint16, 0, len(n.rrsets)+2)
	for _, s := range n.rrsets {
		types = append(types, s.typ)
	}
	if s := n.service; s != nil {
		if s.hasFamily(false) {
			types = append(types, dns.TypeA)
		}
		if s.hasFamily(true) {
			types = append(types, dns.TypeAAAA)
		}
	}
	slices.Sort(types)
	types = slices.Compact(types)
	if lower != z.origin && slices.Contains(types, dns.TypeNS) {
		// A delegation: the parent's NSEC lists only what the parent is
		// authoritative for there, never glue (RFC 4035 2.3).
		types = slices.DeleteFunc(types, func(t uint16) bool { return t != dns.TypeNS && t != dns.TypeDS })
	}
	return types
}

// Occluded tells whether the name lower is at or below a delegation
// point: its addresses are glue, the child's data, which the parent does
// not sign (RFC 4035 2.2). The DS RRset at a cut is the parent's.
func (z *Zone) Occluded(lower string) bool {
	_, _, cut := z.find(lower)
	return cut != nil
}

// RRset returns the records of type t at the name lower, nil if none.
func (z *Zone) RRset(lower string, t uint16) []dns.RR {
	if n := z.nodes[lower]; n != nil {
		return n.get(t)
	}
	return nil
}

// SigningSummary describes a signed zone's keys for the status and logs:
// "13 (ecdsap256sha256) tag 12345".
func (sg *Signing) SigningSummary() string {
	var parts []string
	for _, k := range sg.Keys {
		parts = append(parts, fmt.Sprintf("%s tag %d", dnssec.AlgorithmName(k.DNSKEY.Algorithm), k.Tag))
	}
	return strings.Join(parts, ", ")
}
