package dnssec

import (
	"slices"

	"github.com/miekg/dns"
)

// NSEC is the one NSEC record of compact denial of existence (RFC 9824)
// at owner: its next name is owner's successor in canonical order
// (Successor), so that it denies nothing but owner itself and no zone can
// be walked with it. types are the types that exist at
// owner (for a name that does not exist, NXNAME alone); RRSIG and NSEC
// are added.
func NSEC(owner string, ttl uint32, types []uint16) *dns.NSEC {
	bitmap := make([]uint16, 0, len(types)+2)
	bitmap = append(bitmap, types...)
	bitmap = append(bitmap, dns.TypeRRSIG, dns.TypeNSEC)
	slices.Sort(bitmap)
	bitmap = slices.Compact(bitmap)
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: Successor(owner),
		TypeBitMap: bitmap,
	}
}

// Successor is the first name after owner in canonical order (RFC 4034
// 6.1) that a name can have, as RFC 4471 3.1.2 makes it: "\000." and
// owner; when that is longer than 255 octets, owner with a 0 octet added
// to its first label; when that does not fit either (a first label of 63
// octets, or owner 255 octets long), owner's first label with its last
// octet that can be raised raised, in the order of lower-case octets, and
// the octets after it dropped (no name in between can exist: none longer
// fits).
func Successor(owner string) string {
	var buf [256]byte
	n, err := dns.PackDomainName(owner, buf[:], 0, nil, false)
	if err != nil || n+2 <= 255 {
		return `\000.` + owner
	}
	first := int(buf[0])
	if first == 0 {
		return owner // the root: never the owner of compact denial
	}
	label, rest := buf[1:1+first], buf[1+first:n]
	var w []byte
	if first < 63 && n+1 <= 255 {
		w = append(append(append(append(w, byte(first+1)), label...), 0), rest...)
	} else {
		i := len(label) - 1
		for i >= 0 && label[i] == 0xff {
			i--
		}
		if i < 0 {
			return owner // 63 octets 0xff: no successor this side of the parent
		}
		c := label[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		c++
		if c >= 'A' && c <= 'Z' {
			c = 'Z' + 1 // after '@' comes '[' in lower-case order
		}
		w = append(append(append(append(w, byte(i+1)), label[:i]...), c), rest...)
	}
	name, _, err := dns.UnpackDomainName(w, 0)
	if err != nil {
		return owner
	}
	return name
}
