package zones

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Member selections within the chosen pool. Each is an entry of the table
// selections.
const (
	// MembersAll answers every serving member.
	MembersAll = "all"
	// MembersWeighted draws members at random in proportion to their
	// weights.
	MembersWeighted = "weighted"
	// MembersRoundRobin answers the members in turn.
	MembersRoundRobin = "roundrobin"
	// MembersSticky keeps a client subnet on its members (rendezvous
	// hashing).
	MembersSticky = "sticky"
	// MembersAdaptive is MembersWeighted with weights scaled by a control
	// law: least_load where the backends report load, else fastest.
	MembersAdaptive = "adaptive"
	// MembersLeastLoad, MembersFastest and MembersShed draw members by
	// weights that their control law (zones/steer) moves with live
	// signals.
	MembersLeastLoad = "least_load"
	MembersFastest   = "fastest"
	MembersShed      = "shed"
)

// Selection is a way of choosing, within the chosen pool, the members a
// service answers: an entry of the table of selections, which
// members = "name" names.
type Selection struct {
	// Pick chooses the records to answer. It gets the choice by value
	// and returns it with Answer called: the reads of the client it made
	// (Choice.ReadClient) travel with it and become part of the answer's
	// Scope. It is called only when the choice has a candidate.
	Pick func(c Choice) Choice
	// Varies tells that Pick may answer the same query differently while
	// nothing changes (at random or in turn); the answer cache keeps no
	// such answer.
	Varies bool

	// validate reports what is wrong with a service that uses the
	// selection; nil accepts every service.
	validate func(v *setup)
}

// selections is the table of member selections: a new one is a file with
// its Pick and an entry here.
var selections = table[Selection]{
	MembersAll:        {Pick: pickAll, validate: vetAll},
	MembersWeighted:   {Pick: pickWeighted, Varies: true},
	MembersRoundRobin: {Pick: pickRoundRobin, Varies: true},
	MembersSticky:     {Pick: pickSticky},
	MembersAdaptive:   {Pick: pickAdaptive, Varies: true},
	MembersLeastLoad:  {Pick: pickAdaptive, Varies: true},
	MembersFastest:    {Pick: pickAdaptive, Varies: true},
	MembersShed:       {Pick: pickAdaptive, Varies: true},
	MembersFirst:      {Pick: pickFirst},
}

// WithSelection adds sel to the table of selections as name, for tests in
// any package that need a selection of their own, such as one that reads
// the client: services loaded until restore is called may say
// members = name. It panics if the name is taken. The table is shared by
// the package: call it and restore before and after loading, not while
// another goroutine loads a snapshot.
func WithSelection(name string, sel *Selection) (restore func()) {
	if _, taken := selections[name]; taken {
		panic(fmt.Sprintf("zones: a selection %q exists", name))
	}
	if sel == nil || sel.Pick == nil {
		panic("zones: WithSelection needs a Selection with a Pick")
	}
	selections[name] = sel
	return func() { delete(selections, name) }
}

// Choice is a member selection in progress: the members of one address
// family of the chosen pool, and the query. Its candidates are the members
// that may be answered, in the order of the pool's backends: those
// serving, or with when_all_down = serve_all those no operator took out
// and not pending their first probe result.
type Choice struct {
	view
	s    *Service
	pool *Pool
	g    *group
	all  bool // serve_all: every member counts as serving, unless taken out
	rrs  []dns.RR
	// varies is set by a selection whose answer changes while nothing
	// that the answer cache watches does (a ramping sticky member).
	varies bool

	// frozen holds the candidates as read once when the choice was made
	// (bit i: member i), for groups of up to 64 members: a health change
	// while a selection runs cannot make Len and Record disagree.
	frozen   uint64
	isFrozen bool
}

// freeze fixes the candidates, for groups of up to 64 members: the
// serving ones as the pool's choice read them, or with all those it reads
// now. It reports whether there is any.
func (c *Choice) freeze(serving uint64) bool {
	if len(c.g.members) > 64 {
		return c.any()
	}
	m := serving
	if c.all {
		m = 0
		for i := range c.g.members {
			if c.candidate(i) {
				m |= 1 << i
			}
		}
	}
	c.frozen, c.isFrozen = m, true
	return m != 0
}

// maxStack is how many members selection handles without allocating.
const maxStack = 64

// candidate tells whether member i of the group may be answered.
func (c *Choice) candidate(i int) bool {
	if c.isFrozen {
		return c.frozen&(1<<i) != 0
	}
	b := c.g.members[i]
	// serve_all answers as if every backend were healthy, but an
	// operator's down or drain still holds, and a backend whose health is
	// not known yet stays out.
	return b.Serving() || c.all && b.Override() == nil && !b.Pending()
}

// any reports whether there is a candidate.
func (c *Choice) any() bool {
	for i := range c.g.members {
		if c.candidate(i) {
			return true
		}
	}
	return false
}

// candidates returns the indexes in the group of the candidates, in buf
// when they fit.
func (c *Choice) candidates(buf *[maxStack]int) []int {
	idx := buf[:0]
	for i := range c.g.members {
		if c.candidate(i) {
			idx = append(idx, i)
		}
	}
	return idx
}

// preferWeighted drops the standbys (weight 0) from idx unless only
// standbys are there: a standby is answered only when no weighted member
// is a candidate.
func (c *Choice) preferWeighted(idx []int) []int {
	k := 0
	for _, i := range idx {
		if c.g.members[i].Weight > 0 {
			idx[k] = i
			k++
		}
	}
	if k > 0 {
		return idx[:k]
	}
	return idx
}

// answers is how many of k candidates the service answers.
func (c *Choice) answers(k int) int {
	if n := c.s.Answers; n > 0 && n < k {
		return n
	}
	return k
}

// Len is the number of candidates.
func (c *Choice) Len() int {
	n := 0
	for i := range c.g.members {
		if c.candidate(i) {
			n++
		}
	}
	return n
}

// nth returns the group index of candidate k, -1 if there is none.
func (c *Choice) nth(k int) int {
	for i := range c.g.members {
		if c.candidate(i) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

// Record returns the address record that answers candidate i.
func (c *Choice) Record(i int) dns.RR { return c.g.rrs[c.nth(i)] }

// ReadClient returns the client's address, as a read that the answer
// depends on every known bit of unless DependsOn narrows it.
func (c *Choice) ReadClient() ClientRead { return c.read() }

// Answer sets the records to answer.
func (c *Choice) Answer(rrs []dns.RR) { c.rrs = rrs }

func pickIdx(g *group, idx []int) []dns.RR {
	out := make([]dns.RR, len(idx))
	for k, i := range idx {
		out[k] = g.rrs[i]
	}
	return out
}

// pickAll answers every candidate, standbys only when no weighted member
// is one.
func pickAll(c Choice) Choice {
	var buf [maxStack]int
	idx := c.preferWeighted(c.candidates(&buf))
	if len(idx) == len(c.g.members) {
		c.rrs = c.g.rrs // shared, not copied
	} else {
		c.rrs = pickIdx(c.g, idx)
	}
	return c
}

func vetAll(v *setup) {
	if v.answers && !v.suspected("members") {
		v.at("answers", "%s.answers: members = \"all\" answers every serving member; choose a selection with members = ...", v.path)
	}
}

// pickRoundRobin answers the candidates in the pool's order, starting one
// further on at each query (one counter per pool).
func pickRoundRobin(c Choice) Choice {
	var buf [maxStack]int
	idx := c.preferWeighted(c.candidates(&buf))
	if len(idx) == 0 {
		return c // a pool of more than 64 members, all gone meanwhile
	}
	n := c.answers(len(idx))
	// explain (a trace) shows the next turn without taking it.
	next := c.pool.next.Load() + 1
	if c.trace == nil {
		next = c.pool.next.Add(1)
	}
	start := int(next % uint64(len(idx)))
	out := make([]dns.RR, 0, n)
	for k := 0; k < n; k++ {
		out = append(out, c.g.rrs[idx[(start+k)%len(idx)]])
	}
	c.rrs = out
	return c
}

func pickWeighted(c Choice) Choice { return pickByWeight(c, false) }

func pickAdaptive(c Choice) Choice { return pickByWeight(c, true) }

// pickByWeight draws candidates at random without replacement, each with
// a chance in proportion to its effective weight (the configured weight
// scaled by slow start and, with adaptive, the control law); a weight of
// 0 is a standby, drawn only when no weighted member is a candidate.
func pickByWeight(c Choice, adaptive bool) Choice {
	var buf [maxStack]int
	idx := c.candidates(&buf)
	n := c.answers(len(idx))
	g := c.g
	var wBuf [maxStack]float64
	w := wBuf[:0]
	total := 0.0
	for _, i := range idx {
		x := g.members[i].EffectiveWeight()
		w = append(w, x)
		total += x
	}
	if total == 0 && adaptive {
		// Every member at capacity or slow: fall back to the weights as
		// configured rather than answer nothing.
		for k, i := range idx {
			w[k] = g.members[i].Weight
			total += w[k]
		}
	}
	if total == 0 {
		for k := range w {
			w[k] = 1
		}
		total = float64(len(w))
		if c.trace != nil {
			c.trace.Add("  only standby (weight 0) members serve: choosing among them")
		}
	}
	// A shared draw takes its numbers from the client's subnet and the
	// TTL window, so that every instance answers the client alike.
	var base uint64
	var prefix netip.Prefix
	if c.s.SharedDraw {
		base, prefix = c.drawBase()
	}
	if c.trace != nil {
		traceDraw(c, idx, w, total, n, prefix)
	}
	left := 0 // members with a weight still to pick
	for _, x := range w {
		if x > 0 {
			left++
		}
	}
	out := make([]dns.RR, 0, n)
	for len(out) < n && left > 0 {
		var u uint64
		if c.s.SharedDraw {
			u = Mix64(base + uint64(len(out)+1)*0x9e3779b97f4a7c15)
		} else {
			u = c.random()
		}
		r := float64(u>>11) / (1 << 53) * total
		k := -1
		for i, x := range w {
			if x <= 0 {
				continue
			}
			k = i // the last positive one, should rounding leave r over
			if r < x {
				break
			}
			r -= x
		}
		out = append(out, g.rrs[idx[k]])
		total -= w[k]
		w[k] = 0
		left--
	}
	c.rrs = out
	return c
}

// traceDraw explains a weighted draw before it is made: each candidate's
// chance of being the first answer, and that the answer is random, or
// for a shared draw (prefix valid) what it is drawn from.
func traceDraw(c Choice, idx []int, w []float64, total float64, n int, prefix netip.Prefix) {
	parts := make([]string, 0, len(idx))
	for k, i := range idx {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", c.g.members[i].Name, 100*w[k]/total))
	}
	if prefix.IsValid() {
		c.trace.Add("  shared draw of %d of %d by effective weight, chance of being first: %s (drawn from the client's %s and the %d s TTL window: every instance of the fleet draws the same for it until the window ends)", n, len(idx), strings.Join(parts, ", "), prefix, c.s.TTL)
		return
	}
	c.trace.Add("  random draw of %d of %d by effective weight, chance of being first: %s (each query draws anew: this answer is one draw)", n, len(idx), strings.Join(parts, ", "))
}

// drawBase is the seed of a shared draw: the pool's, mixed with the
// client's subnet (cut to the sticky prefix, or its known bits if fewer,
// which the answer then depends on) and the current TTL window.
func (c *Choice) drawBase() (uint64, netip.Prefix) {
	r := c.ReadClient()
	bits := c.s.StickyV4
	if r.Addr().Is6() {
		bits = c.s.StickyV6
	}
	bits = min(bits, r.Known())
	r.DependsOn(bits)
	p := netip.PrefixFrom(r.Addr(), bits).Masked()
	a := p.Addr().As16()
	window := uint64(time.Now().Unix()) / uint64(max(c.s.TTL, 1))
	return Mix64(c.pool.drawSeed ^ fnv64a(a[:]) ^ Mix64(window^uint64(bits)<<56)), p
}

// drawsByWeight tells whether a selection draws members by weight (and
// so whether draw applies to it).
func drawsByWeight(members string) bool {
	switch members {
	case MembersWeighted, MembersAdaptive, MembersLeastLoad, MembersFastest, MembersShed:
		return true
	}
	return false
}

// pickSticky answers the candidates that rank highest for the client's
// subnet: its address cut to the service's sticky prefix, or to the
// known bits if fewer, which is the scope.
func pickSticky(c Choice) Choice {
	var buf [maxStack]int
	idx := c.candidates(&buf)
	n := c.answers(len(idx))
	r := c.ReadClient()
	bits := c.s.StickyV4
	if r.Addr().Is6() {
		bits = c.s.StickyV6
	}
	bits = min(bits, r.Known())
	r.DependsOn(bits)
	var ramping bool
	c.rrs, ramping = stickyPick(c.g, idx, n, netip.PrefixFrom(r.Addr(), bits).Masked().Addr(), c.trace)
	// While a member ramps up (slow start) its weight grows without a
	// change of which members serve: the answer is not kept.
	c.varies = ramping
	return c
}

// stickyPick chooses n members by weighted rendezvous hashing of the
// client's subnet: each member scores w / -ln(u), u a hash of subnet and
// member, and the highest scores win. A client keeps its member while it
// serves; when one goes, only its clients move.
func stickyPick(g *group, idx []int, n int, subnet netip.Addr, tr *Trace) (rrs []dns.RR, ramping bool) {
	a := subnet.As16()
	h := fnv64a(a[:])
	var scoreBuf [maxStack]float64
	scores := scoreBuf[:0]
	anyWeight := false
	for _, i := range idx {
		if g.members[i].Weight > 0 {
			anyWeight = true
		}
	}
	for _, i := range idx {
		b := g.members[i]
		w := b.EffectiveWeight()
		if w != b.Weight {
			ramping = true
		}
		if !anyWeight {
			w = 1
		}
		if w <= 0 {
			scores = append(scores, -1)
			continue
		}
		u := (float64(Mix64(h^b.seed)>>11) + 0.5) / (1 << 53)
		scores = append(scores, w/-math.Log(u))
	}
	out := make([]dns.RR, 0, n)
	for len(out) < n {
		best := -1
		for k := range scores {
			if scores[k] >= 0 && (best < 0 || scores[k] > scores[best]) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		out = append(out, g.rrs[idx[best]])
		scores[best] = -1
	}
	if tr != nil {
		tr.Add("  sticky: client subnet %s hashed to the members above", subnet)
	}
	return out, ramping
}
