package zones

import (
	"time"

	"github.com/miekg/dns"
)

// adaptTTL gives the answer rrs of group g the TTL until it could next
// change, as gdnsd does: the least, over the group's members, of the time
// their health could flip (the probes still needed at their interval: a
// healthy member that has begun to fail could be down after fall − f more
// failures, a down one that has begun to pass up after rise − s), the
// time until an admin override expires, and MinTTL while a member ramps
// up or its control law still moves it; clamped to [MinTTL, TTL]. A
// member in a steady state adds no limit. A lowered TTL copies the
// records (the answer is then not cached: it varies with time).
func (s *Service) adaptTTL(g *group, rrs []dns.RR, varies bool, tr *Trace) ([]dns.RR, bool) {
	ttl := time.Duration(s.TTL) * time.Second
	floor := time.Duration(s.MinTTL) * time.Second
	why := ""
	limit := func(d time.Duration, reason string) {
		if d < ttl {
			ttl, why = d, reason
		}
	}
	now := time.Time{}
	for _, b := range g.members {
		if o := b.Override(); o != nil && !o.Expires.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			limit(o.Expires.Sub(now), "an admin override of "+b.Name+" expires")
		}
		st := b.state
		if st == nil {
			continue
		}
		if st.Pending() {
			limit(floor, b.Name+" waits for its first probe result")
			continue
		}
		sp := st.Spec()
		succ, fail := st.Consecutive()
		if st.Up() && fail > 0 && fail < sp.Fall {
			limit(time.Duration(sp.Fall-fail)*sp.Interval, b.Name+" has begun to fail")
		}
		if !st.Up() && succ > 0 && succ < sp.Rise {
			limit(time.Duration(sp.Rise-succ)*sp.Interval, b.Name+" has begun to pass")
		}
		if sl := b.steer; sl != nil && sl.unsettled.Load() {
			limit(floor, b.Name+" ramps up or its law still moves it")
		}
	}
	if ttl >= time.Duration(s.TTL)*time.Second {
		return rrs, varies
	}
	ttl = max(ttl, floor)
	secs := uint32(ttl / time.Second)
	if tr != nil {
		tr.Add("adaptive TTL %d (ttl %d, min_ttl %d): %s", secs, s.TTL, s.MinTTL, why)
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Ttl = secs
		out[i] = c
	}
	return out, true
}
