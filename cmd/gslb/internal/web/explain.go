package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
)

// explain serves GET /api/v1/explain?name=N&type=T&client=IP&ecs=SUBNET:
// the text of Explain, with the live health of the backends. Without
// client, the address the request comes from is the client.
func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client := q.Get("client")
	if client == "" {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			client = ap.Addr().String()
		}
	}
	req, err := ParseQuestion(q.Get("name"), q.Get("type"), client, q.Get("ecs"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := Explain(w, s.deps.Handler, req); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if s.deps.Cluster != nil {
		s.explainVotes(w, req.name)
	}
}

// explainVotes lists, for each probed backend of the service at name,
// every member's latest vote on its check: what the fleet verdicts in the
// trace were made of.
func (s *Server) explainVotes(w io.Writer, name string) {
	name = strings.TrimSuffix(name, ".")
	for _, svc := range s.deps.Handler.Snapshot().Services() {
		if !strings.EqualFold(strings.TrimSuffix(svc.Name, "."), name) {
			continue
		}
		header := false
		for _, b := range svc.Backends {
			st := b.State()
			if st == nil || st.Spec().Kind == health.KindNone || st.Spec().Kind == "" {
				continue
			}
			if !header {
				fmt.Fprintln(w, "fleet votes (this instance first):")
				header = true
			}
			var parts []string
			for _, v := range s.deps.Cluster.VotesOf(st.Spec()) {
				x := v.Member + " fail"
				if v.Pass {
					x = v.Member + " pass"
				}
				if !v.Fresh {
					x += " (stale: not counted)"
				}
				parts = append(parts, x)
			}
			if len(parts) == 0 {
				parts = append(parts, "none yet")
			}
			fmt.Fprintf(w, "  %s: %s\n", b.Name, strings.Join(parts, ", "))
		}
	}
}

// Question is one question to explain: a name and type asked by a client,
// with or without an EDNS Client Subnet option.
type Question struct {
	name   string
	qtype  uint16
	client netip.Addr
	ecs    netip.Prefix // invalid: no client subnet option
}

// ParseQuestion reads a question as `gslb explain` and the explain
// endpoint take it: a domain name, a record type ("" for A), the client's
// address and an optional client subnet ("" for none).
func ParseQuestion(name, qtype, client, ecs string) (Question, error) {
	var r Question
	if name == "" {
		return r, errors.New("a name to explain is needed")
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return r, fmt.Errorf("%q is not a domain name", name)
	}
	r.name = dns.Fqdn(name)
	if qtype == "" {
		qtype = "A"
	}
	t, ok := dns.StringToType[strings.ToUpper(qtype)]
	if !ok {
		return r, fmt.Errorf("%q is not a record type", qtype)
	}
	r.qtype = t
	var err error
	if r.client, err = netip.ParseAddr(client); err != nil {
		return r, fmt.Errorf("-client %q: want an IP address", client)
	}
	if ecs != "" {
		p, err := netip.ParsePrefix(ecs)
		if err != nil {
			return r, fmt.Errorf("-ecs %q: want a subnet such as 192.0.2.0/24", ecs)
		}
		r.ecs = p.Masked()
	}
	return r, nil
}

// Explain runs the question through the handler, as serving does, and
// writes the decision in plain words: the query, each step of the
// decision, then the answer with its records.
func Explain(w io.Writer, h *dnsserver.Handler, r Question) error {
	m := new(dns.Msg)
	m.SetQuestion(r.name, r.qtype)
	m.RecursionDesired = false
	desc := fmt.Sprintf("%s %s from %s", r.name, dns.TypeToString[r.qtype], r.client)
	if r.ecs.IsValid() {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(r.ecs.Bits()), Address: r.ecs.Addr().AsSlice()}
		if r.ecs.Addr().Is6() {
			e.Family = 2
		}
		o.Option = append(o.Option, e)
		m.Extra = append(m.Extra, o)
		desc += " with client subnet " + r.ecs.String()
	}
	if z := h.Snapshot().Zone(strings.ToLower(r.name)); z != nil && z.Signing() != nil {
		// A signed zone is explained as a validating resolver asks it:
		// DO, and CO so that a name that does not exist reads as such.
		o := m.IsEdns0()
		if o == nil {
			o = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			o.SetUDPSize(1232)
			m.Extra = append(m.Extra, o)
		}
		o.SetDo()
		o.SetCo()
		desc += " with DO (the zone is signed)"
	}
	reply, lines, err := h.Explain(m, r.client)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "query: %s\n", desc)
	for _, l := range lines {
		fmt.Fprintf(w, "%s\n", l)
	}
	ttl := ""
	if len(reply.Answer) > 0 {
		ttl = fmt.Sprintf(", TTL %d", reply.Answer[0].Header().Ttl)
	}
	fmt.Fprintf(w, "answer: %s%s%s\n", outcome(reply, r.qtype), aaText(reply), ttl)
	for _, sec := range [][]dns.RR{reply.Answer, reply.Ns} {
		for _, rr := range sec {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(rr.String(), "\t", " "))
		}
	}
	return nil
}

// outcome names what the reply says: the rcode, and for NOERROR without
// records of the type asked NODATA or a referral (RFC 2308 section 2.2).
func outcome(m *dns.Msg, qtype uint16) string {
	rc := dns.RcodeToString[m.Rcode]
	switch m.Rcode {
	case dns.RcodeNameError:
		return rc + ": the name does not exist"
	case dns.RcodeSuccess:
	default:
		return rc
	}
	for _, rr := range m.Answer {
		if t := rr.Header().Rrtype; t == qtype || qtype == dns.TypeANY {
			return rc
		}
	}
	if !m.Authoritative && len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeNS {
		return rc + ", referral to " + m.Ns[0].Header().Name
	}
	return rc + ", NODATA: no " + dns.TypeToString[qtype] + " records at the name"
}

// aaText marks an authoritative answer.
func aaText(m *dns.Msg) string {
	if m.Authoritative {
		return " (authoritative)"
	}
	return ""
}
