package cluster

import (
	"encoding/json"

	"github.com/hashicorp/memberlist"

	"github.com/gslb/gslb/health"
)

// delegate is what memberlist calls: messages in, broadcasts out, and the
// full state of the push/pull exchange.
type delegate struct{ c *Cluster }

// NodeMeta: nothing; what the others need travels in the vote frames.
func (delegate) NodeMeta(int) []byte { return nil }

// NotifyMsg handles one message from another member. b is memberlist's
// buffer: nothing keeps it after return.
func (d delegate) NotifyMsg(b []byte) {
	c := d.c
	if len(b) == 0 {
		c.metrics.dropped("empty")
		return
	}
	switch b[0] {
	case kindVotes:
		f, err := parseFrame(b)
		if err != nil {
			c.metrics.dropped("malformed")
			c.log.Debug("vote frame dropped", "err", err)
			return
		}
		c.metrics.received("votes", len(b))
		c.receiveFrame(f)
	case kindWantVotes:
		name := string(b[1:])
		if name == "" || len(name) > maxName {
			c.metrics.dropped("malformed")
			return
		}
		c.metrics.received("want votes", len(b))
		go c.sendFull(name) // not on memberlist's receive path
	case kindAdmin:
		changes, err := parseAdmin(b)
		if err != nil {
			c.metrics.dropped("malformed")
			c.log.Debug("admin message dropped", "err", err)
			return
		}
		c.metrics.received("admin", len(b))
		if n := c.admin.Merge(changes, "cluster"); n > 0 {
			c.notifyAdmin()
		}
	case kindReports:
		changes, err := parseReports(b)
		if err != nil {
			c.metrics.dropped("malformed")
			c.log.Debug("report message dropped", "err", err)
			return
		}
		c.metrics.received("reports", len(b))
		c.mergeReports(changes)
	case kindRegistrations:
		changes, err := parseRegistrations(b)
		if err != nil {
			c.metrics.dropped("malformed")
			c.log.Debug("registration message dropped", "err", err)
			return
		}
		c.metrics.received("registrations", len(b))
		c.mergeRegistrations(changes)
	case kindSteer:
		f, err := parseSteerFrame(b)
		if err != nil {
			c.metrics.dropped("malformed")
			c.log.Debug("steering frame dropped", "err", err)
			return
		}
		c.metrics.received("steering", len(b))
		c.receiveSteer(f)
	default:
		c.metrics.dropped("unknown kind")
	}
}

// GetBroadcasts hands memberlist the queued admin changes to piggyback.
func (d delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.c.queue.GetBroadcasts(overhead, limit)
}

// LocalState is every admin write this member has, for push/pull.
func (d delegate) LocalState(bool) []byte {
	s := pushState{Admin: d.c.admin.Changes(), Node: d.c.cfg.Name}
	if r := d.c.registry.Load(); r != nil {
		s.Registrations = r.All()
	}
	b, _ := json.Marshal(s)
	d.c.metrics.sent("push", len(b))
	return b
}

// MergeRemoteState merges another member's admin writes.
func (d delegate) MergeRemoteState(buf []byte, _ bool) {
	c := d.c
	var s pushState
	if err := json.Unmarshal(buf, &s); err != nil {
		c.metrics.dropped("malformed")
		c.log.Debug("push/pull state dropped", "err", err)
		return
	}
	c.metrics.received("push", len(buf))
	if n := c.admin.Merge(s.Admin, "cluster"); n > 0 {
		c.notifyAdmin()
	}
	var regs []health.RegistrationChange
	for i := range s.Registrations {
		r := s.Registrations[i]
		if err := checkRegistration(r.ID, &r); err != nil {
			c.metrics.dropped("malformed")
			continue
		}
		regs = append(regs, health.RegistrationChange{ID: r.ID, Registration: &r, At: r.Renewed, Node: s.Node})
	}
	c.mergeRegistrations(regs)
}

// events follows members coming and going.
type events struct{ c *Cluster }

// NotifyJoin: a new member gets this one's full votes at once.
func (e events) NotifyJoin(n *memberlist.Node) {
	if n.Name == e.c.cfg.Name {
		return
	}
	e.c.log.Info("cluster member joined", "member", n.Name, "addr", n.Address())
	go e.c.sendFull(n.Name)
}

// NotifyLeave logs a member's leaving or death; its votes go stale.
func (e events) NotifyLeave(n *memberlist.Node) {
	if n.Name == e.c.cfg.Name {
		return
	}
	e.c.log.Warn("cluster member left or failed", "member", n.Name, "addr", n.Address())
}

// NotifyUpdate: nothing to do.
func (events) NotifyUpdate(*memberlist.Node) {}

// adminBroadcast is one queued admin message.
type adminBroadcast []byte

func (b adminBroadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b adminBroadcast) Message() []byte                       { return b }
func (b adminBroadcast) Finished()                             {}

// maxAdminChanges is how many changes go in one admin message, so that
// it fits a packet with room to spare (a change is 150-400 bytes).
const maxAdminChanges = 2

// adminChanged sends admin changes made here to every member at once, and
// queues them for gossip too (which reaches members this one cannot).
func (c *Cluster) adminChanged(changes []health.Change) {
	for len(changes) > 0 {
		n := min(len(changes), maxAdminChanges)
		c.broadcast(adminMessage(changes[:n]), "admin")
		changes = changes[n:]
	}
}

// broadcast sends a change made here to every member at once, and queues
// it for gossip too (which reaches members this one cannot).
func (c *Cluster) broadcast(msg []byte, kind string) {
	if c.ml != nil {
		for _, m := range c.ml.Members() {
			if m.Name != c.cfg.Name {
				c.send(m, msg, kind)
			}
		}
	}
	c.queue.QueueBroadcast(adminBroadcast(msg))
}

// notifyAdmin calls the OnAdminMerged function.
func (c *Cluster) notifyAdmin() {
	if f := c.onAdmin.Load(); f != nil {
		(*f)()
	}
}
