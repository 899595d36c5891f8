package zones

// MembersFirst answers the first serving members of the pool in the
// order of its backends, as many as the service's answers (default 1):
// a priority list within one pool, as NS1's select_first_n. A member
// with weight 0 is a standby, as with every selection: answered only
// when no weighted member serves. The answer depends on nothing but
// which members serve, so the answer cache keeps it.
const MembersFirst = "first"

// pickFirst answers the first candidates in the pool's order.
func pickFirst(c Choice) Choice {
	var buf [maxStack]int
	idx := c.preferWeighted(c.candidates(&buf))
	idx = idx[:c.answers(len(idx))]
	prefix := true // the pool's first members: their records are shared
	for k, i := range idx {
		prefix = prefix && i == k
	}
	if prefix {
		c.rrs = c.g.rrs[:len(idx):len(idx)]
	} else {
		c.rrs = pickIdx(c.g, idx)
	}
	if c.trace != nil {
		c.trace.Add("  first: the first %d serving members in the pool's order", len(idx))
	}
	return c
}
