package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

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
	Admin []health.Change `json:"admin"`
}
