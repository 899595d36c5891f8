package health

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/internal/hlc"
)

// member is one fleet member's admin store, with the changes it made.
type member struct {
	a    *Admin
	sent []Change
}

func newMember(t *testing.T, node string) *member {
	t.Helper()
	m := &member{a: NewAdmin(filepath.Join(t.TempDir(), "admin-overrides.toml"), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	m.a.Replicate(hlc.New(node, nil), func(c []Change) { m.sent = append(m.sent, c...) })
	if err := m.a.LoadFile(); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *member) state(id string) string {
	if o := m.a.Get(id); o != nil {
		return o.State
	}
	return "-"
}

// TestAdminMerge: the last writer wins by stamp, whatever order changes
// arrive in, clears included; a restart keeps the stamps.
func TestAdminMerge(t *testing.T) {
	const id = "www.example.test/one"
	a, b := newMember(t, "a"), newMember(t, "b")
	if err := a.a.Set(id, &Override{State: AdminDrain, Reason: "deploy"}, "api"); err != nil {
		t.Fatal(err)
	}
	drain := a.sent
	if len(drain) != 1 || drain[0].Stamp.Node != "a" {
		t.Fatalf("Set sent %+v, want one change stamped by a", drain)
	}
	if n := b.a.Merge(drain, "cluster"); n != 1 || b.state(id) != AdminDrain {
		t.Fatalf("merged %d, b has %s, want the drain", n, b.state(id))
	}
	if len(b.sent) != 0 {
		t.Errorf("a merged change was sent on: %+v", b.sent)
	}
	// b clears it; the clear reaches a, and the drain arriving again
	// (a late gossip, a push from a member that was away) loses.
	if err := b.a.Set(id, nil, "api"); err != nil {
		t.Fatal(err)
	}
	clear := b.sent
	if !drain[0].Stamp.Before(clear[0].Stamp) {
		t.Fatalf("b's clear %v does not order after the drain it saw %v", clear[0].Stamp, drain[0].Stamp)
	}
	if n := a.a.Merge(clear, "cluster"); n != 1 || a.state(id) != "-" {
		t.Fatalf("merged %d, a has %s, want it cleared", n, a.state(id))
	}
	for _, m := range []*member{a, b} {
		if n := m.a.Merge(drain, "cluster"); n != 0 || m.state(id) != "-" {
			t.Errorf("the older drain merged again (%d): %s", n, m.state(id))
		}
	}
	// A restart of b keeps the clear's stamp (in [cleared]): the old
	// drain still loses.
	src, _ := os.ReadFile(b.a.File())
	if !strings.Contains(string(src), "[cleared]") {
		t.Fatalf("state file without the clear:\n%s", src)
	}
	b2 := NewAdmin(b.a.File(), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b2.Replicate(hlc.New("b", nil), nil)
	if err := b2.LoadFile(); err != nil {
		t.Fatal(err)
	}
	if n := b2.Merge(drain, "cluster"); n != 0 || b2.Get(id) != nil {
		t.Errorf("after a restart the older drain merged (%d)", n)
	}
}

// TestAdminHandEdit: an edit of the state file is stamped by the member
// that reads it, when it reads it, and sent; a deleted entry is a clear.
func TestAdminHandEdit(t *testing.T) {
	const id = "www.example.test/one"
	a := newMember(t, "a")
	if err := a.a.Set(id, &Override{State: AdminDrain}, "api"); err != nil {
		t.Fatal(err)
	}
	first := a.sent[0].Stamp
	a.sent = nil
	// Its own file read back changes nothing.
	if err := a.a.LoadFile(); err != nil || len(a.sent) != 0 {
		t.Fatalf("reading its own file: %v, sent %+v", err, a.sent)
	}
	src, _ := os.ReadFile(a.a.File())
	edited := strings.Replace(string(src), `state = "drain"`, `state = "down"`, 1)
	if err := os.WriteFile(a.a.File(), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.a.LoadFile(); err != nil {
		t.Fatal(err)
	}
	if len(a.sent) != 1 || a.sent[0].Override == nil || a.sent[0].Override.State != AdminDown || !first.Before(a.sent[0].Stamp) {
		t.Fatalf("hand edit sent %+v, want the down, stamped after %v", a.sent, first)
	}
	a.sent = nil
	if err := os.WriteFile(a.a.File(), []byte("# emptied\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.a.LoadFile(); err != nil {
		t.Fatal(err)
	}
	if len(a.sent) != 1 || a.sent[0].Override != nil || a.state(id) != "-" {
		t.Fatalf("hand deletion sent %+v, a has %s; want a clear", a.sent, a.state(id))
	}
}

// TestAdminExpiry: an override clears at its expiry, NextExpiry says
// when, and the expired write still beats an older one.
func TestAdminExpiry(t *testing.T) {
	const id = "www.example.test/one"
	a, b := newMember(t, "a"), newMember(t, "b")
	if err := b.a.Set(id, &Override{State: AdminDown}, "api"); err != nil {
		t.Fatal(err)
	}
	older := b.sent
	time.Sleep(2 * time.Millisecond) // a's write comes later
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := a.a.Set(id, &Override{State: AdminDrain, Expires: exp}, "api"); err != nil {
		t.Fatal(err)
	}
	if got := a.a.NextExpiry(); !got.Equal(exp) {
		t.Fatalf("NextExpiry %v, want %v", got, exp)
	}
	if n := a.a.Expire(exp.Add(-time.Millisecond)); n != 0 {
		t.Fatalf("expired %d a millisecond early", n)
	}
	if n := a.a.Expire(exp); n != 1 || a.state(id) != "-" || !a.a.NextExpiry().IsZero() {
		t.Fatalf("at the expiry: expired %d, state %s, next %v", n, a.state(id), a.a.NextExpiry())
	}
	if n := a.a.Merge(older, "cluster"); n != 0 {
		t.Errorf("an older write merged over an expired one")
	}
}
