// Package zonestest holds the DNS test cases that the packages of gslb
// share, in the manner of CoreDNS's test.Case: a query (name, type,
// client, client subnet) and the reply it must get, with its records
// written as zone text and compared after sorting.
//
// It is imported by _test files only. It imports no package of gslb, so
// that the internal tests of zones can use it as well as those of
// dnsserver; a test runs its cases through whatever answers them, a
// handler on a socket or in process (an [Exchanger]), or checks a lookup's
// sections with [Case.CheckSections].
package zonestest

import (
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// NoECS, as a Case's Scope, says that the reply must carry no client
// subnet option although the query had one.
const NoECS = -1

// Case is one query and the reply it must get.
type Case struct {
	Name   string // subtest name; qname/qtype when empty
	Qname  string
	Qtype  uint16
	Qclass uint16 // IN when zero

	TCP bool // ask over TCP, for an exchanger that has a transport
	// Client is the query's source address; zero leaves it to the
	// exchanger (a socket's is its own).
	Client netip.Addr
	EDNS   bool // send an OPT record; implied by ECS
	// ECS, when valid, is sent as an EDNS client subnet option; the
	// reply must echo it with scope Scope (or carry none: NoECS).
	ECS   netip.Prefix
	Scope int

	Rcode  int
	AA, TC bool
	Answer []string
	Ns     []string
	Extra  []string // without the OPT record
}

// String names the case for t.Run.
func (c Case) String() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Qname + "/" + dns.TypeToString[c.Qtype]
}

// Msg returns the query of the case: RD set as stub resolvers send it,
// an OPT record with a 4096-byte buffer if EDNS or ECS is asked for.
func (c Case) Msg() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(c.Qname, c.Qtype)
	if c.Qclass != 0 {
		m.Question[0].Qclass = c.Qclass
	}
	if c.EDNS || c.ECS.IsValid() {
		m.SetEdns0(4096, false)
	}
	if c.ECS.IsValid() {
		p := c.ECS.Masked()
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
		if p.Addr().Is6() {
			e.Family = 2
		}
		o := m.IsEdns0()
		o.Option = append(o.Option, e)
	}
	return m
}

// Source returns the client address a lookup sees and how many of its
// leading bits are known: the ECS prefix when the case has one, else
// the whole client address.
func (c Case) Source() (netip.Addr, int) {
	if c.ECS.IsValid() {
		p := c.ECS.Masked()
		return p.Addr(), p.Bits()
	}
	return c.Client, c.Client.BitLen()
}

// Check compares the reply r to the query q with the case: the header
// rules of an authoritative reply (ID, QR, opcode and RD echoed, RA, AD
// and Z clear, question copied), then rcode, AA, TC, the three sections,
// the OPT record's presence and the client subnet echo.
func (c Case) Check(t testing.TB, q, r *dns.Msg) {
	t.Helper()
	if r == nil {
		t.Fatal("no reply")
	}
	if r.Id != q.Id || !r.Response || r.Opcode != q.Opcode {
		t.Errorf("header: id %d qr %v opcode %d", r.Id, r.Response, r.Opcode)
	}
	if r.Rcode != c.Rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.Rcode])
	}
	if r.Authoritative != c.AA {
		t.Errorf("AA %v, want %v", r.Authoritative, c.AA)
	}
	if r.Truncated != c.TC {
		t.Errorf("TC %v, want %v", r.Truncated, c.TC)
	}
	if r.RecursionAvailable || r.AuthenticatedData || r.Zero {
		t.Errorf("flags: RA %v AD %v Z %v, want all clear", r.RecursionAvailable, r.AuthenticatedData, r.Zero)
	}
	if r.RecursionDesired != q.RecursionDesired {
		t.Errorf("RD %v not copied", r.RecursionDesired)
	}
	if len(r.Question) != 1 || len(q.Question) != 1 || r.Question[0] != q.Question[0] {
		t.Errorf("question %v, want %v", r.Question, q.Question)
	}
	var extra []dns.RR
	for _, rr := range r.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	c.CheckSections(t, r.Answer, r.Ns, extra)
	opt := r.IsEdns0()
	switch {
	case q.IsEdns0() == nil && opt != nil:
		t.Errorf("OPT in the reply to a query without EDNS")
	case q.IsEdns0() != nil && opt == nil:
		t.Errorf("no OPT in the reply to an EDNS query")
	}
	if c.ECS.IsValid() {
		c.checkECS(t, opt)
	}
}

// checkECS checks the client subnet echo in the reply's OPT record.
func (c Case) checkECS(t testing.TB, opt *dns.OPT) {
	t.Helper()
	var got *dns.EDNS0_SUBNET
	if opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				got = e
			}
		}
	}
	if c.Scope == NoECS {
		if got != nil {
			t.Errorf("ECS %v in the reply, want none", got)
		}
		return
	}
	if got == nil {
		t.Errorf("no ECS in the reply, want scope %d", c.Scope)
		return
	}
	p := c.ECS.Masked()
	addr, ok := netip.AddrFromSlice(got.Address)
	if ok && got.Family == 1 {
		addr = addr.Unmap()
	}
	if int(got.SourceNetmask) != p.Bits() || !ok || addr != p.Addr() || int(got.SourceScope) != c.Scope {
		t.Errorf("ECS %v, want %s scope %d", got, p, c.Scope)
	}
}

// CheckSections compares the three sections of a reply or a lookup with
// the case's.
func (c Case) CheckSections(t testing.TB, answer, ns, extra []dns.RR) {
	t.Helper()
	SameRRs(t, "answer", answer, c.Answer)
	SameRRs(t, "authority", ns, c.Ns)
	SameRRs(t, "additional", extra, c.Extra)
}

// An Exchanger sends the query q of case c and returns the reply, or
// fails the test.
type Exchanger func(t testing.TB, c Case, q *dns.Msg) *dns.Msg

// Run runs each case as a subtest: it builds the query, exchanges it
// and checks the reply. after, if not nil, checks more in each reply.
func Run(t *testing.T, cases []Case, ex Exchanger, after func(t *testing.T, c Case, r *dns.Msg)) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			q := c.Msg()
			r := ex(t, c, q)
			c.Check(t, q, r)
			if after != nil && r != nil {
				after(t, c, r)
			}
		})
	}
}

// SameRRs compares records with want, written in zone-file syntax,
// after sorting both. SOA serials, which gslb derives from the file
// content, are not compared.
func SameRRs(t testing.TB, section string, got []dns.RR, want []string) {
	t.Helper()
	g := make([]string, 0, len(got))
	for _, rr := range got {
		if soa, ok := rr.(*dns.SOA); ok {
			c := *soa
			c.Serial = 0
			rr = &c
		}
		g = append(g, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	w := make([]string, 0, len(want))
	for _, s := range want {
		rr, err := dns.NewRR(s)
		if err != nil || rr == nil {
			t.Fatalf("bad test record %q: %v", s, err)
		}
		if soa, ok := rr.(*dns.SOA); ok {
			soa.Serial = 0
		}
		w = append(w, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", section, g, w)
	}
}
