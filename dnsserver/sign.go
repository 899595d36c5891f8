package dnsserver

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
)

// Online signing (RFC 4033-4035) of the answers of a signed zone, for a
// query with DO: decide calls sign once the lookup has filled the reply.
//
//   - Every RRset of the answer, authority and additional sections gets
//     an RRSIG by each of the zone's keys, from the signature cache, but
//     the NS records of a delegation and glue, which the parent does not
//     sign. The original TTL is the zone's longest TTL, so that TTLs an
//     answer shortens (adaptive TTLs) make no new signature; each RRSIG
//     carries its RRset's TTL.
//   - Denial is compact (RFC 9824): a name that does not exist is NODATA
//     with one NSEC at the name whose bitmap has NXNAME (NXDOMAIN again
//     when the client sets CO); NODATA has one NSEC at the name listing
//     the types that exist there, never the one asked for; its next name
//     is the name's immediate successor, so nothing can be walked.
//   - A delegation carries the child's DS RRset, signed, or an NSEC at
//     the cut that proves there is none.
//   - Wildcard answers are signed as records of the query name (an
//     online signer knows the name): no proof of the wildcard is needed.
//
// AD is never set (we are not a validator) and CD is only copied.

// sign adds the DNSSEC records to r, the reply to q from the signed zone z;
// lookup answers the query name for another type (for queries of type
// RRSIG).
func (h *Handler) sign(q *request, r *response, z *zones.Zone, sg *zones.Signing, lookup func(uint16) zones.Answer) {
	w := dnssec.WindowAt(h.signingTime(), sg.Validity)
	r.until = w.Renewed(sg.Validity).Unix()
	if q.qtype == dns.TypeRRSIG && r.a.Result == zones.NoData && len(r.answer) == 0 {
		if sigs, ok := h.signaturesAt(q, z, sg, w, lookup); !ok {
			h.signFailed(r)
			return
		} else if len(sigs) > 0 {
			// Not kept by the answer cache: made of several lookups.
			r.answer, r.ns, r.until = sigs, nil, 0
			return
		}
	}
	switch r.a.Result {
	case zones.NXDomain:
		owner := chainEnd(q.name, r.answer)
		r.ns = append(r.ns[:len(r.ns):len(r.ns)], dnssec.NSEC(owner, sg.NegTTL, []uint16{dns.TypeNXNAME}))
		if q.co {
			r.co = true // the client reads the rcode: NXDOMAIN stays
		} else {
			r.rcode = dns.RcodeSuccess
		}
	case zones.NoData:
		owner := chainEnd(q.name, r.answer)
		types := withoutType(z.TypesAt(strings.ToLower(owner)), q.qtype)
		nsec := dnssec.NSEC(owner, sg.NegTTL, types)
		if q.qtype == dns.TypeNSEC && len(r.answer) == 0 {
			// Asked for it, the NSEC of an existing name is the answer.
			r.answer, r.ns = []dns.RR{dnssec.NSEC(owner, sg.NegTTL, z.TypesAt(strings.ToLower(owner)))}, nil
			break
		}
		r.ns = append(r.ns[:len(r.ns):len(r.ns)], nsec)
	case zones.Delegation:
		if len(r.ns) == 0 {
			break
		}
		cut := r.ns[0].Header().Name
		lower := strings.ToLower(cut)
		if ds := z.RRset(lower, dns.TypeDS); ds != nil {
			r.ns = append(r.ns[:len(r.ns):len(r.ns)], ds...)
		} else {
			r.ns = append(r.ns[:len(r.ns):len(r.ns)], dnssec.NSEC(cut, sg.NegTTL, z.TypesAt(lower)))
		}
	}
	var ok bool
	if r.answer, ok = h.signSection(r.answer, z, sg, w, false, &r.sigWire); !ok {
		h.signFailed(r)
		return
	}
	delegation := r.a.Result == zones.Delegation
	if r.ns, ok = h.signSection(r.ns, z, sg, w, delegation, nil); !ok {
		h.signFailed(r)
		return
	}
	if !delegation {
		// The additional records of an answer (the addresses of NS, MX
		// and SRV targets in the zone) are the zone's own data, signed;
		// a delegation's are glue.
		if r.extra, ok = h.signSection(r.extra, z, sg, w, false, nil); !ok {
			h.signFailed(r)
		}
	}
}

// signaturesAt answers a query of type RRSIG at a name that exists: the
// signatures of each RRset there (those this client would get, for a
// service), and of its NSEC.
func (h *Handler) signaturesAt(q *request, z *zones.Zone, sg *zones.Signing, w dnssec.Window, lookup func(uint16) zones.Answer) ([]dns.RR, bool) {
	types := z.TypesAt(q.lower)
	if len(types) == 0 {
		return nil, true
	}
	var sets []dns.RR
	for _, t := range types {
		if t == dns.TypeRRSIG || t == dns.TypeNSEC {
			continue
		}
		for _, rr := range lookup(t).Answer {
			if h := rr.Header(); h.Rrtype == t && strings.EqualFold(h.Name, q.name) {
				sets = append(sets, rr)
			}
		}
	}
	sets = append(sets, dnssec.NSEC(q.name, sg.NegTTL, types))
	signed, ok := h.signSection(sets, z, sg, w, false, nil)
	if !ok {
		return nil, false
	}
	var out []dns.RR
	for _, rr := range signed {
		if rr.Header().Rrtype == dns.TypeRRSIG {
			out = append(out, rr)
		}
	}
	return out, true
}

// signSection returns rrs with the RRSIGs of each of its RRsets after it.
// With delegation, NS RRsets are left unsigned (they are the child's).
// wires, if not nil, gets the RDATA of each RRSIG, in order, for the fast
// encoder.
func (h *Handler) signSection(rrs []dns.RR, z *zones.Zone, sg *zones.Signing, w dnssec.Window, delegation bool, wires *[][]byte) ([]dns.RR, bool) {
	if len(rrs) == 0 {
		return rrs, true
	}
	out := make([]dns.RR, 0, len(rrs)+len(rrs)*len(sg.Keys))
	for i := 0; i < len(rrs); {
		h0 := rrs[i].Header()
		j := i + 1
		for j < len(rrs) && sameRRset(h0, rrs[j].Header()) {
			j++
		}
		set := rrs[i:j]
		out = append(out, set...)
		i = j
		switch {
		case h0.Rrtype == dns.TypeRRSIG, delegation && h0.Rrtype == dns.TypeNS:
			continue
		case h0.Rrtype != dns.TypeDS && h0.Rrtype != dns.TypeNSEC && z.Occluded(strings.ToLower(h0.Name)):
			continue // glue
		}
		for _, k := range sg.Keys {
			sig, err := h.sigs.SignWire(k, z.Origin, set, sg.OrigTTL, w)
			if err != nil {
				h.log.Error("cannot sign an answer", "err", err)
				return nil, false
			}
			if wires != nil {
				*wires = append(*wires, sig.Rdata)
			}
			c := *sig.RRSIG
			c.Hdr.Name, c.Hdr.Ttl = h0.Name, h0.Ttl
			out = append(out, &c)
		}
	}
	return out, true
}

// signFailed turns a reply that could not be signed into SERVFAIL: a
// validating resolver would reject it unsigned.
func (h *Handler) signFailed(r *response) {
	r.rcode, r.until = dns.RcodeServerFailure, 0
	r.answer, r.ns, r.extra = nil, nil, nil
	r.aa = false
}

// sameRRset tells whether two records belong to one RRset.
func sameRRset(a, b *dns.RR_Header) bool {
	return a.Rrtype == b.Rrtype && a.Class == b.Class && strings.EqualFold(a.Name, b.Name)
}

// chainEnd is the name a denial is about: the last CNAME's target in the
// answer, else the query name.
func chainEnd(qname string, answer []dns.RR) string {
	name := qname
	for _, rr := range answer {
		if c, ok := rr.(*dns.CNAME); ok {
			name = c.Target
		}
	}
	return name
}

// withoutType returns types without t (a new slice).
func withoutType(types []uint16, t uint16) []uint16 {
	out := make([]uint16, 0, len(types))
	for _, x := range types {
		if x != t {
			out = append(out, x)
		}
	}
	return out
}
