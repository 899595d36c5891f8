package dnssec

import (
	"slices"

	"github.com/miekg/dns"
)

// NSEC is the one NSEC record of compact denial of existence (RFC 9824)
// at owner: its next name is owner's immediate successor in canonical
// order ("\000." and owner), so that it denies nothing but owner itself
// and no zone can be walked with it. types are the types that exist at
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
		NextDomain: `\000.` + owner,
		TypeBitMap: bitmap,
	}
}
