package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gslb/gslb/health"
)

// Message kinds: the first byte of every message gslb sends through
// memberlist.
const (
	kindVotes     byte = 1 // a vote frame (binary, below)
	kindWantVotes byte = 2 // "send me your full vote table": the sender's name
	kindAdmin     byte = 3 // admin changes: JSON []health.Change
)

// frameVersion is the layout of vote frames; a member drops frames of
// another version (and says so in its metrics).
const frameVersion = 1

// Vote states in a frame.
const (
	voteFail     byte = 0
	votePass     byte = 1
	voteWithdraw byte = 2
)

// Limits of what a decoder accepts: a frame claiming more is dropped.
const (
	maxName    = 128
	maxHash    = 64
	maxEntries = 1 << 20
	entrySize  = 9 // key (8 bytes) + state
)

// frame is one member's votes: all of them (full) or the changes since
// its previous frame (seq − 1). Every member sends one each heartbeat,
// changes or not: its arrival keeps the sender's votes fresh, and its
// header carries what divergence needs (the sender's clock, its
// configuration hash).
type frame struct {
	Origin      string
	Incarnation uint64 // the sender's process start, Unix nanoseconds
	Seq         uint64
	SentAt      int64 // the sender's wall clock, Unix milliseconds
	Full        bool
	ConfigHash  string
	Entries     []entry
}

type entry struct {
	Key   uint64
	State byte
}

// appendFrame encodes f after b.
func appendFrame(b []byte, f *frame) []byte {
	b = append(b, kindVotes, frameVersion)
	b = appendString(b, f.Origin)
	b = binary.AppendUvarint(b, f.Incarnation)
	b = binary.AppendUvarint(b, f.Seq)
	b = binary.AppendUvarint(b, uint64(f.SentAt))
	flags := byte(0)
	if f.Full {
		flags = 1
	}
	b = append(b, flags)
	b = appendString(b, f.ConfigHash)
	b = binary.AppendUvarint(b, uint64(len(f.Entries)))
	for _, e := range f.Entries {
		b = binary.BigEndian.AppendUint64(b, e.Key)
		b = append(b, e.State)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errShort = errors.New("truncated")

// reader decodes with bounds: every read checks what is left.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) string(limit int) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(limit) || n > uint64(len(r.b)) {
		r.err = fmt.Errorf("string of %d bytes (at most %d)", n, limit)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// parseFrame decodes a vote frame (b starts with kindVotes). Anything
// malformed is an error; nothing in it can make the decoder allocate
// more than the message's own size.
func parseFrame(b []byte) (*frame, error) {
	r := &reader{b: b}
	if r.byte() != kindVotes {
		return nil, errors.New("not a vote frame")
	}
	if v := r.byte(); r.err == nil && v != frameVersion {
		return nil, fmt.Errorf("vote frame version %d (this gslb reads %d)", v, frameVersion)
	}
	f := &frame{}
	f.Origin = r.string(maxName)
	f.Incarnation = r.uvarint()
	f.Seq = r.uvarint()
	f.SentAt = int64(r.uvarint())
	flags := r.byte()
	f.ConfigHash = r.string(maxHash)
	n := r.uvarint()
	if r.err != nil {
		return nil, r.err
	}
	if f.Origin == "" {
		return nil, errors.New("vote frame without an origin")
	}
	if flags > 1 {
		return nil, fmt.Errorf("vote frame flags %#x", flags)
	}
	f.Full = flags == 1
	if n > maxEntries || n*entrySize != uint64(len(r.b)) {
		return nil, fmt.Errorf("vote frame: %d entries in %d bytes", n, len(r.b))
	}
	f.Entries = make([]entry, n)
	for i := range f.Entries {
		e := r.b[i*entrySize:]
		f.Entries[i] = entry{Key: binary.BigEndian.Uint64(e), State: e[8]}
		if e[8] > voteWithdraw || (f.Full && e[8] == voteWithdraw) {
			return nil, fmt.Errorf("vote frame: entry %d has state %d", i, e[8])
		}
	}
	return f, nil
}

// adminMessage encodes admin changes.
func adminMessage(changes []health.Change) []byte {
	b, _ := json.Marshal(changes) // plain data: cannot fail
	return append([]byte{kindAdmin}, b...)
}

// parseAdmin decodes admin changes (b starts with kindAdmin). The
// admin store checks each change again before it merges it.
func parseAdmin(b []byte) ([]health.Change, error) {
	if len(b) == 0 || b[0] != kindAdmin {
		return nil, errors.New("not an admin message")
	}
	var changes []health.Change
	if err := json.Unmarshal(b[1:], &changes); err != nil {
		return nil, fmt.Errorf("admin message: %w", err)
	}
	return changes, nil
}

// pushState is what a member sends in memberlist's push/pull exchange
// (at join and then periodically): every admin write it has, so that a
// member that was away catches up.
type pushState struct {
	Admin         []health.Change       `json:"admin"`
	Registrations []health.Registration `json:"registrations,omitempty"`
	// Node is the sender, for the audit trail of what it brings.
	Node string `json:"node,omitempty"`
}

// kindSteer is a steering frame: the coordinator's effective weights at
// one of its ticks (binary, below).
const kindSteer byte = 4

// steerVersion is the layout of steering frames.
const steerVersion = 1

// steerEntrySize is a steering entry: key (8 bytes), multiplier and share
// (float32 each), flags.
const steerEntrySize = 17

// steerFrame is part of the coordinator's steering at one tick: as many
// entries as fit a packet. Each frame stands alone (no sequence): a lost
// one leaves its entries at the previous tick's values until they go
// stale.
type steerFrame struct {
	Origin      string
	Incarnation uint64
	Tick        int64 // the coordinator's tick, Unix milliseconds
	ConfigHash  string
	Entries     []steerEntry
}

// steerEntry is one backend's steering.
type steerEntry struct {
	Key               uint64
	Multiplier, Share float32
	Unsettled         bool
}

func appendSteerFrame(b []byte, f *steerFrame) []byte {
	b = append(b, kindSteer, steerVersion)
	b = appendString(b, f.Origin)
	b = binary.AppendUvarint(b, f.Incarnation)
	b = binary.AppendUvarint(b, uint64(f.Tick))
	b = appendString(b, f.ConfigHash)
	b = binary.AppendUvarint(b, uint64(len(f.Entries)))
	for _, e := range f.Entries {
		b = binary.BigEndian.AppendUint64(b, e.Key)
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(e.Multiplier))
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(e.Share))
		flags := byte(0)
		if e.Unsettled {
			flags = 1
		}
		b = append(b, flags)
	}
	return b
}

// maxMultiplier bounds what a steering entry may say: a law's multiplier
// is a member's share over its configured share, far below this.
const maxMultiplier = 1e6

// parseSteerFrame decodes a steering frame (b starts with kindSteer).
func parseSteerFrame(b []byte) (*steerFrame, error) {
	r := &reader{b: b}
	if r.byte() != kindSteer {
		return nil, errors.New("not a steering frame")
	}
	if v := r.byte(); r.err == nil && v != steerVersion {
		return nil, fmt.Errorf("steering frame version %d (this gslb reads %d)", v, steerVersion)
	}
	f := &steerFrame{}
	f.Origin = r.string(maxName)
	f.Incarnation = r.uvarint()
	f.Tick = int64(r.uvarint())
	f.ConfigHash = r.string(maxHash)
	n := r.uvarint()
	if r.err != nil {
		return nil, r.err
	}
	if f.Origin == "" {
		return nil, errors.New("steering frame without an origin")
	}
	if n > maxEntries || n*steerEntrySize != uint64(len(r.b)) {
		return nil, fmt.Errorf("steering frame: %d entries in %d bytes", n, len(r.b))
	}
	f.Entries = make([]steerEntry, n)
	for i := range f.Entries {
		e := r.b[i*steerEntrySize:]
		se := steerEntry{
			Key:        binary.BigEndian.Uint64(e),
			Multiplier: math.Float32frombits(binary.BigEndian.Uint32(e[8:])),
			Share:      math.Float32frombits(binary.BigEndian.Uint32(e[12:])),
			Unsettled:  e[16] == 1,
		}
		if !(se.Multiplier >= 0 && se.Multiplier <= maxMultiplier) || !(se.Share >= 0 && se.Share <= 1) || e[16] > 1 {
			return nil, fmt.Errorf("steering frame: entry %d out of bounds (multiplier %g, share %g, flags %#x)", i, se.Multiplier, se.Share, e[16])
		}
		f.Entries[i] = se
	}
	return f, nil
}

// kindReports carries load reports pushed through a member's API:
// JSON []reportWire.
const kindReports byte = 5

// reportWire is a load report as the fleet sends it; NaN fields (not
// reported) travel as nulls.
type reportWire struct {
	ID          string    `json:"id"`
	Removed     bool      `json:"removed,omitempty"`
	Utilization *float64  `json:"utilization,omitempty"`
	Connections *float64  `json:"connections,omitempty"`
	RequestRate *float64  `json:"request_rate,omitempty"`
	Capacity    float64   `json:"capacity,omitempty"`
	At          time.Time `json:"at"`
	Expires     time.Time `json:"expires,omitzero"`
	Source      string    `json:"source,omitempty"`
}

// maxReportID bounds a backend ID in a report message.
const maxReportID = 512

func reportMessage(c health.ReportChange) []byte {
	w := reportWire{ID: c.ID, At: c.At, Removed: c.Report == nil}
	if r := c.Report; r != nil {
		num := func(v float64) *float64 {
			if math.IsNaN(v) {
				return nil
			}
			return &v
		}
		w.Utilization, w.Connections, w.RequestRate = num(r.Utilization), num(r.Connections), num(r.RequestRate)
		w.Capacity, w.Expires, w.Source = r.Capacity, r.Expires, r.Source
	}
	b, _ := json.Marshal([]reportWire{w}) // plain data: cannot fail
	return append([]byte{kindReports}, b...)
}

// parseReports decodes a report message (b starts with kindReports) and
// checks every report: a member never stores what its own API would
// refuse.
func parseReports(b []byte) ([]health.ReportChange, error) {
	if len(b) == 0 || b[0] != kindReports {
		return nil, errors.New("not a report message")
	}
	var ws []reportWire
	if err := json.Unmarshal(b[1:], &ws); err != nil {
		return nil, fmt.Errorf("report message: %w", err)
	}
	out := make([]health.ReportChange, 0, len(ws))
	for i, w := range ws {
		if w.ID == "" || len(w.ID) > maxReportID || len(w.Source) > maxReportID || w.At.IsZero() {
			return nil, fmt.Errorf("report %d: bad id, source or time", i)
		}
		c := health.ReportChange{ID: w.ID, At: w.At}
		if !w.Removed {
			val := func(p *float64) (float64, bool) {
				if p == nil {
					return math.NaN(), true
				}
				return *p, *p >= 0 && !math.IsInf(*p, 0)
			}
			r := &health.Report{Capacity: w.Capacity, At: w.At, Expires: w.Expires, Source: w.Source}
			var ok1, ok2, ok3 bool
			r.Utilization, ok1 = val(w.Utilization)
			r.Connections, ok2 = val(w.Connections)
			r.RequestRate, ok3 = val(w.RequestRate)
			if !ok1 || !ok2 || !ok3 || !(w.Capacity >= 0) || math.IsInf(w.Capacity, 0) || !w.Expires.After(w.At) {
				return nil, fmt.Errorf("report %d for %s: values out of bounds or expiry not after its time", i, w.ID)
			}
			c.Report = r
		}
		out = append(out, c)
	}
	return out, nil
}

// kindRegistrations carries registrations, renewals and deregistrations
// made through a member's API: JSON []registrationWire.
const kindRegistrations byte = 6

// registrationWire is a registration change as the fleet sends it.
type registrationWire struct {
	ID           string               `json:"id"`
	Registration *health.Registration `json:"registration,omitempty"`
	At           time.Time            `json:"at"`
	// By is who deregistered (a registration has its Source), Node the
	// member the change was made on: for the audit trail.
	By   string `json:"by,omitempty"`
	Node string `json:"node,omitempty"`
}

func registrationMessage(c health.RegistrationChange) []byte {
	b, _ := json.Marshal([]registrationWire{{ID: c.ID, Registration: c.Registration, At: c.At, By: c.By, Node: c.Node}}) // plain data: cannot fail
	return append([]byte{kindRegistrations}, b...)
}

// parseRegistrations decodes a registration message (b starts with
// kindRegistrations) and checks each change's shape; the compiler checks
// what it compiles again.
func parseRegistrations(b []byte) ([]health.RegistrationChange, error) {
	if len(b) == 0 || b[0] != kindRegistrations {
		return nil, errors.New("not a registration message")
	}
	var ws []registrationWire
	if err := json.Unmarshal(b[1:], &ws); err != nil {
		return nil, fmt.Errorf("registration message: %w", err)
	}
	out := make([]health.RegistrationChange, 0, len(ws))
	for i, w := range ws {
		if err := checkRegistration(w.ID, w.Registration); err != nil {
			return nil, fmt.Errorf("registration %d: %w", i, err)
		}
		if len(w.By) > 512 || len(w.Node) > 256 {
			return nil, fmt.Errorf("registration %d: by or node too long", i)
		}
		out = append(out, health.RegistrationChange{ID: w.ID, Registration: w.Registration, At: w.At, By: w.By, Node: w.Node})
	}
	return out, nil
}

// checkRegistration checks the shape of a registration from the fleet (nil
// for a deregistration of id).
func checkRegistration(id string, r *health.Registration) error {
	if id == "" || len(id) > maxReportID {
		return errors.New("bad id")
	}
	if r == nil {
		return nil
	}
	switch {
	case r.ID != id || r.ID != r.Service+"/"+r.Name:
		return fmt.Errorf("id %q does not match service %q and name %q", id, r.Service, r.Name)
	case r.Lease < health.MinLease || r.Lease > health.MaxLease:
		return fmt.Errorf("lease %v out of bounds", r.Lease)
	case !r.Expires.After(r.Renewed) || r.Expires.Sub(r.Renewed) > health.MaxLease:
		return errors.New("expiry not within a lease of the renewal")
	case len(r.Address) > 64 || len(r.Pool) > 128 || len(r.CheckPath) > 1024 || len(r.Source) > 512:
		return errors.New("a field is too long")
	case !(r.Weight >= 0 && r.Weight <= 1e6) || !(r.Capacity >= 0 && r.Capacity <= 1e9):
		return errors.New("weight or capacity out of bounds")
	}
	return nil
}
