package zones

import (
	"math/rand/v2"
	"net/netip"

	"github.com/gslb/gslb/geo"
)

// Client is where a query comes from, for the policies: the EDNS Client
// Subnet address when one is used, else the source address of the query,
// and how many of its leading bits are known (the ECS source prefix, else
// the full length).
//
// Its address is not a field: policies and selections reach it only
// through a ClientRead, which records how many bits of it the answer
// depends on. That is the answer's Scope, which the answer cache keys on;
// an answer cannot depend on the client without saying so. Only this file
// touches the fields.
type Client struct {
	addr netip.Addr
	bits int
}

// NewClient returns the client at addr of which bits leading bits are
// known; bits is kept within 0 and the address's length.
func NewClient(addr netip.Addr, bits int) Client {
	return Client{addr: addr, bits: max(0, min(bits, addr.BitLen()))}
}

// Locator finds where an address is; *geo.Locator is one.
type Locator interface {
	// Lookup finds the location and the AS number.
	Lookup(netip.Addr) geo.Location
	// LookupLocation finds the location only.
	LookupLocation(netip.Addr) geo.Location
}

// Query is a question and its context, as a lookup needs it.
type Query struct {
	// Name is the query name as received, Lower the same in lower case.
	Name, Lower string
	Type        uint16
	// Client is where the query comes from.
	Client Client
	// Geo locates the client; nil when no database is configured.
	Geo Locator
	// Rand returns random numbers for weighted choices; nil uses
	// math/rand/v2.
	Rand func() uint64
	// Trace, when not nil, collects the decision in words (explain).
	Trace *Trace

	scope int // the longest prefix of the client any decision read
}

// view is what a policy or a selection sees of the query. It is passed
// by value through the tables of policies and selections, and comes back
// with the reads made: a call through a function value would move a
// pointed-to Query to the heap.
type view struct {
	reads
	geo   Locator
	trace *Trace
	rand  func() uint64
}

func (q *Query) view() view {
	return view{reads: reads{client: q.Client}, geo: q.Geo, trace: q.Trace, rand: q.Rand}
}

// random returns a random number from the query's source.
func (v *view) random() uint64 {
	if v.rand != nil {
		return v.rand()
	}
	return rand.Uint64()
}

// done adds the reads of a policy or selection to the query's scope.
func (q *Query) done(r *reads) { q.scope = max(q.scope, r.scope()) }

// maxReads is how many reads of the client one policy or selection call
// records one by one; further reads count every known bit.
const maxReads = 8

// reads records the reads of the client made by one policy or selection
// call, each with the prefix length the answer depends on.
type reads struct {
	client Client
	bits   [maxReads]uint8
	n      uint8
	spill  bool // a read beyond maxReads: every known bit, not narrowable
}

// read returns the client's address as a read that depends on every
// known bit until it is narrowed.
func (r *reads) read() ClientRead {
	if int(r.n) == maxReads {
		r.spill = true
		return ClientRead{r: r, i: -1}
	}
	r.bits[r.n] = uint8(r.client.bits)
	r.n++
	return ClientRead{r: r, i: int(r.n) - 1}
}

// locate looks the client up in the GeoIP database. The read depends on
// the database network that holds the address (the longer of the location
// and AS networks, with the AS number), or on every known bit when the
// database gives no network.
func (r *reads) locate(g Locator, withASN bool) (geo.Location, ClientRead) {
	cr := r.read()
	var loc geo.Location
	if withASN {
		loc = g.Lookup(r.client.addr)
	} else {
		loc = g.LookupLocation(r.client.addr)
	}
	bits := -1
	if loc.Network.IsValid() {
		bits = loc.Network.Bits()
	}
	if withASN && loc.ASNetwork.IsValid() {
		bits = max(bits, loc.ASNetwork.Bits())
	}
	if bits >= 0 {
		cr.DependsOn(bits)
	}
	return loc, cr
}

// scope is the longest prefix any read depends on.
func (r *reads) scope() int {
	s := 0
	if r.spill {
		s = r.client.bits
	}
	for _, b := range r.bits[:r.n] {
		s = max(s, int(b))
	}
	return s
}

// ClientRead is one use of the client's address by a policy or a
// selection. The answer depends on the address's leading bits as the read
// says: every known bit, unless DependsOn says how many. The longest of
// a query's reads is its answer's Scope.
type ClientRead struct {
	// The address is read through r, not kept here: a copy of it could
	// take the reads to the heap with it, wherever it goes.
	r *reads
	i int // where the read's length is kept in r.bits; -1: every known bit
}

// Addr is the client's address.
func (c ClientRead) Addr() netip.Addr { return c.r.client.addr }

// Known is how many leading bits of the address are known.
func (c ClientRead) Known() int { return c.r.client.bits }

// DependsOn says that the answer depends on the first bits bits of the
// address only (0: not at all); bits may exceed Known, as ECS allows.
func (c ClientRead) DependsOn(bits int) {
	if c.i >= 0 {
		c.r.bits[c.i] = uint8(max(0, min(bits, c.r.client.addr.BitLen())))
	}
}
