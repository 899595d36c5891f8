// Package hlc is a hybrid logical clock (Kulkarni et al., 2014): stamps
// that follow wall time when clocks agree, never go backwards, and order
// an event after every stamp its node has seen, even when another node's
// clock runs ahead. gslb orders admin changes across a fleet with it:
// last writer wins by stamp, never by wall clock alone.
package hlc

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stamp is one event's time: wall milliseconds and a logical counter that
// orders events within one millisecond, with the node that made it as the
// tie-breaker. The zero Stamp is before every other.
type Stamp struct {
	Wall    int64  // Unix milliseconds
	Logical uint32 // orders stamps with the same Wall
	Node    string // the node that made it
}

// Before tells whether s orders before t.
func (s Stamp) Before(t Stamp) bool {
	if s.Wall != t.Wall {
		return s.Wall < t.Wall
	}
	if s.Logical != t.Logical {
		return s.Logical < t.Logical
	}
	return s.Node < t.Node
}

// IsZero tells whether s is the zero Stamp.
func (s Stamp) IsZero() bool { return s.Wall == 0 && s.Logical == 0 && s.Node == "" }

// Time is the stamp's wall time.
func (s Stamp) Time() time.Time { return time.UnixMilli(s.Wall).UTC() }

// String is the stamp's text form, "2026-12-03T14:05:06.789Z+3@node"
// (the +logical part only when not 0); Parse reads it back.
func (s Stamp) String() string {
	if s.IsZero() {
		return ""
	}
	var b strings.Builder
	b.WriteString(s.Time().Format("2006-01-02T15:04:05.000Z"))
	if s.Logical != 0 {
		b.WriteByte('+')
		b.WriteString(strconv.FormatUint(uint64(s.Logical), 10))
	}
	b.WriteByte('@')
	b.WriteString(s.Node)
	return b.String()
}

// MarshalText writes String.
func (s Stamp) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what String writes.
func (s *Stamp) UnmarshalText(b []byte) error {
	t, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = t
	return nil
}

// Parse reads a Stamp's String form; "" is the zero Stamp.
func Parse(text string) (Stamp, error) {
	if text == "" {
		return Stamp{}, nil
	}
	at, node, ok := strings.Cut(text, "@")
	if !ok || node == "" {
		return Stamp{}, fmt.Errorf("stamp %q: want time[+counter]@node", text)
	}
	wall, logical, hasLogical := strings.Cut(at, "+")
	t, err := time.Parse("2006-01-02T15:04:05.000Z", wall)
	if err != nil {
		return Stamp{}, fmt.Errorf("stamp %q: want a UTC time like 2026-12-03T14:05:06.789Z", text)
	}
	s := Stamp{Wall: t.UnixMilli(), Node: node}
	if hasLogical {
		n, err := strconv.ParseUint(logical, 10, 32)
		if err != nil {
			return Stamp{}, fmt.Errorf("stamp %q: bad counter %q", text, logical)
		}
		s.Logical = uint32(n)
	}
	return s, nil
}

// Clock makes Stamps for one node. It is safe for concurrent use.
type Clock struct {
	node string
	now  func() time.Time

	mu   sync.Mutex
	last Stamp
}

// New returns the clock of node, reading wall time from now (nil:
// time.Now).
func New(node string, now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{node: node, now: now}
}

// Node is the clock's node name.
func (c *Clock) Node() string { return c.node }

// Now returns a stamp after every stamp this clock has made or seen.
func (c *Clock) Now() Stamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	wall := c.now().UnixMilli()
	if wall > c.last.Wall {
		c.last = Stamp{Wall: wall, Node: c.node}
	} else {
		c.last = Stamp{Wall: c.last.Wall, Logical: c.last.Logical + 1, Node: c.node}
	}
	return c.last
}

// Observe moves the clock past a stamp received from another node, so
// that every stamp made afterwards orders after it. A stamp more than
// maxAhead ahead of this node's wall clock is not followed (a node with a
// clock far in the future would drag every stamp with it); Observe then
// returns false.
func (c *Clock) Observe(s Stamp, maxAhead time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Wall > c.now().Add(maxAhead).UnixMilli() {
		return false
	}
	if c.last.Before(s) {
		c.last = Stamp{Wall: s.Wall, Logical: s.Logical, Node: c.node}
	}
	return true
}
