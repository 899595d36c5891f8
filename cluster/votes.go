package cluster

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gslb/gslb/health"
)

// freshFor is how long a member's votes count after its last frame:
// three heartbeats, so that one or two lost frames change nothing.
func (c *Cluster) freshFor() time.Duration { return 3 * c.cfg.Heartbeat }

// Vote records this instance's result of a check, sends it with the next
// frame if it changed, and returns the aggregate of the fresh votes.
func (c *Cluster) Vote(spec health.Spec, ok bool, at time.Time) health.Verdict {
	key := spec.Key()
	now := time.Now()
	c.mu.Lock()
	lv := c.local[key]
	changed := lv == nil || lv.ok != ok
	if lv == nil {
		lv = &localVote{}
		c.local[key] = lv
	}
	lv.ok, lv.at, lv.interval = ok, at, spec.Interval
	if changed {
		c.changed[key] = voteState(ok)
	}
	v := health.Verdict{Votes: 1, Voters: 1}
	if ok {
		v.Passing = 1
	}
	for _, t := range c.remote {
		age := now.Sub(t.seen)
		if age > voterMemory {
			continue
		}
		v.Voters++
		if !t.synced || age > c.freshFor() {
			continue
		}
		if pass, has := t.votes[key]; has {
			v.Votes++
			if pass {
				v.Passing++
			}
		}
	}
	if v.Votes < v.Voters/2+1 {
		v.Fallback, v.OK = true, ok
	} else {
		rule := spec.Quorum
		if rule == "" {
			rule = c.cfg.Quorum
		}
		v.OK = health.Decide(rule, v.Passing, v.Votes)
		if rule == health.QuorumLocal {
			v.OK = ok // [cluster] quorum = "local": shared, not combined
		}
	}
	lv.disagree, lv.fallback = v.OK != ok, v.Fallback
	c.mu.Unlock()
	if changed {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return v
}

// Forget withdraws this instance's vote on a check it no longer probes.
func (c *Cluster) Forget(spec health.Spec) {
	key := spec.Key()
	c.mu.Lock()
	if _, ok := c.local[key]; ok {
		delete(c.local, key)
		c.changed[key] = voteWithdraw
	}
	c.mu.Unlock()
}

func voteState(ok bool) byte {
	if ok {
		return votePass
	}
	return voteFail
}

// sendLoop sends a frame every heartbeat, and at once (after a few
// milliseconds that gather a burst) when a vote changes.
func (c *Cluster) sendLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.housekeep(time.Now())
		case <-c.kick:
			time.Sleep(5 * time.Millisecond)
		}
		c.sendFrame()
	}
}

// housekeep withdraws the votes of checks not probed for three intervals
// (a probe that hangs votes nothing) and forgets members silent for
// voterMemory.
func (c *Cluster) housekeep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, lv := range c.local {
		if now.Sub(lv.at) > 3*max(lv.interval, time.Second)+lv.interval {
			delete(c.local, key)
			c.changed[key] = voteWithdraw
		}
	}
	for name, t := range c.remote {
		if now.Sub(t.seen) > voterMemory {
			delete(c.remote, name) // its per-member series go with it (Collect)
		}
	}
	c.pruneSteering(now)
}

// sendFrame sends the changes since the last frame to every member.
func (c *Cluster) sendFrame() {
	c.mu.Lock()
	c.seq++
	f := &frame{Origin: c.cfg.Name, Incarnation: c.incarnation, Seq: c.seq, SentAt: time.Now().UnixMilli(), ConfigHash: *c.configHash.Load()}
	f.Entries = make([]entry, 0, len(c.changed))
	for k, s := range c.changed {
		f.Entries = append(f.Entries, entry{Key: k, State: s})
	}
	clear(c.changed)
	c.mu.Unlock()
	msg := appendFrame(nil, f)
	for _, n := range c.ml.Members() {
		if n.Name != c.cfg.Name {
			c.send(n, msg, "votes")
		}
	}
}

// fullFrame is every vote of this instance, as of its last frame.
func (c *Cluster) fullFrame() []byte {
	c.mu.Lock()
	f := &frame{Origin: c.cfg.Name, Incarnation: c.incarnation, Seq: c.seq, SentAt: time.Now().UnixMilli(), Full: true, ConfigHash: *c.configHash.Load()}
	f.Entries = make([]entry, 0, len(c.local))
	for k, lv := range c.local {
		// A change not sent yet is in the full table already; the next
		// frame repeats it, which changes nothing.
		f.Entries = append(f.Entries, entry{Key: k, State: voteState(lv.ok)})
	}
	c.mu.Unlock()
	return appendFrame(nil, f)
}

// maxPacket is the largest message sent as one UDP packet; larger ones go
// over memberlist's TCP stream. memberlist's UDP buffer is 1400 bytes,
// less its headers, the label and the encryption overhead.
const maxPacket = 1200

// send sends a message to one member, by UDP when it fits in a packet.
func (c *Cluster) send(n *memberlist.Node, msg []byte, kind string) {
	var err error
	if len(msg) <= maxPacket {
		err = c.ml.SendBestEffort(n, msg)
	} else {
		err = c.ml.SendReliable(n, msg)
	}
	if err != nil {
		c.log.Debug("cannot send to a member", "member", n.Name, "kind", kind, "err", err)
		return
	}
	c.metrics.sent(kind, len(msg))
}

// receiveFrame applies a member's vote frame. A frame that does not
// follow the last one applied (a lost packet, a restart) makes the
// member's table unsynced until its full table, asked for at once (once
// a second at most), arrives.
func (c *Cluster) receiveFrame(f *frame) {
	if f.Origin == c.cfg.Name {
		return
	}
	now := time.Now()
	c.mu.Lock()
	t := c.remote[f.Origin]
	if t == nil {
		t = &table{votes: map[uint64]bool{}}
		c.remote[f.Origin] = t
	}
	if f.Incarnation < t.incarnation {
		c.mu.Unlock()
		c.metrics.dropped("old incarnation")
		return // a frame of the member's previous process, late
	}
	t.seen = now
	t.skew = now.Sub(time.UnixMilli(f.SentAt))
	t.configHash = f.ConfigHash
	ask := false
	switch {
	case f.Full:
		if f.Incarnation == t.incarnation && t.synced && f.Seq < t.seq {
			break // older than what we have
		}
		t.incarnation, t.seq, t.synced = f.Incarnation, f.Seq, true
		t.votes = make(map[uint64]bool, len(f.Entries))
		for _, e := range f.Entries {
			t.votes[e.Key] = e.State == votePass
		}
	case f.Incarnation == t.incarnation && t.synced && f.Seq == t.seq+1:
		t.seq = f.Seq
		for _, e := range f.Entries {
			if e.State == voteWithdraw {
				delete(t.votes, e.Key)
			} else {
				t.votes[e.Key] = e.State == votePass
			}
		}
	case f.Incarnation == t.incarnation && t.synced && f.Seq <= t.seq:
		// a duplicate or a late frame: nothing new
	default:
		if f.Incarnation > t.incarnation {
			t.incarnation, t.seq = f.Incarnation, 0
		}
		t.synced = false
		if now.Sub(t.asked) >= time.Second {
			t.asked, ask = now, true
		}
	}
	c.mu.Unlock()
	if ask {
		c.askFull(f.Origin)
	}
}

// askFull asks a member for its full vote table.
func (c *Cluster) askFull(name string) {
	for _, n := range c.ml.Members() {
		if n.Name == name {
			c.send(n, append([]byte{kindWantVotes}, c.cfg.Name...), "want votes")
			return
		}
	}
}

// sendFull sends this instance's full vote table to a member.
func (c *Cluster) sendFull(name string) {
	for _, n := range c.ml.Members() {
		if n.Name == name {
			c.send(n, c.fullFrame(), "full votes")
			return
		}
	}
}

// MemberVote is one member's vote on a check, as this instance has it.
type MemberVote struct {
	Member string `json:"member"`
	// Pass is the vote; Fresh whether it counts (the member's frames are
	// recent and in sync).
	Pass  bool `json:"pass"`
	Fresh bool `json:"fresh"`
}

// VotesOf returns every member's vote on a check, this instance's first,
// then by member name; a member without a vote on it is left out.
func (c *Cluster) VotesOf(spec health.Spec) []MemberVote {
	key := spec.Key()
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []MemberVote
	if lv, ok := c.local[key]; ok {
		out = append(out, MemberVote{Member: c.cfg.Name, Pass: lv.ok, Fresh: true})
	}
	names := make([]string, 0, len(c.remote))
	for name := range c.remote {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := c.remote[name]
		if pass, ok := t.votes[key]; ok {
			out = append(out, MemberVote{Member: name, Pass: pass, Fresh: t.synced && now.Sub(t.seen) <= c.freshFor()})
		}
	}
	return out
}
