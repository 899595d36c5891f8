package cluster

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// fleet starts n members on loopback, each joining the first, with a
// heartbeat of 200 ms.
func fleet(t *testing.T, n int, key []byte) []*Cluster {
	t.Helper()
	return fleetWith(t, n, key, 200*time.Millisecond, io.Discard)
}

// fleetWith is fleet with another heartbeat, the members logging to logw.
func fleetWith(t *testing.T, n int, key []byte, heartbeat time.Duration, logw io.Writer) []*Cluster {
	t.Helper()
	var out []*Cluster
	for i := range n {
		var join []string
		if i > 0 {
			join = []string{out[0].Addr().String()}
		}
		out = append(out, startMember(t, string(rune('a'+i)), join, key, heartbeat, logw))
	}
	waitFor(t, "every member to see every other", func() bool {
		for _, c := range out {
			if c.ml.NumMembers() != n {
				return false
			}
		}
		return true
	})
	return out
}

// startMember starts one member on loopback that joins join, and stops
// it at the test's end.
func startMember(t *testing.T, name string, join []string, key []byte, heartbeat time.Duration, logw io.Writer) *Cluster {
	t.Helper()
	admin := health.NewAdmin(filepath.Join(t.TempDir(), "admin-overrides.toml"), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cfg := Config{Name: name, Bind: netip.MustParseAddrPort("127.0.0.1:0"), Profile: "local", Rejoin: 200 * time.Millisecond, Heartbeat: heartbeat, Join: join}
	if key != nil {
		cfg.Keys = [][]byte{key}
	}
	c, err := New(cfg, admin, slog.New(slog.NewTextHandler(logw, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.LoadFile(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestVotesAggregate: a check failing on one member of three stays up
// under majority and goes down under all; failing on two goes down under
// majority.
func TestVotesAggregate(t *testing.T) {
	f := fleet(t, 3, testKey)
	spec := health.Spec{Kind: health.KindHTTP, Addr: netip.MustParseAddrPort("192.0.2.1:80"), Interval: 200 * time.Millisecond, Rise: 1, Fall: 1}
	vote := func(c *Cluster, ok bool, quorum string) health.Verdict {
		s := spec
		s.Quorum = quorum
		return c.Vote(s, ok, time.Now())
	}
	vote(f[0], false, "")
	vote(f[1], true, "")
	vote(f[2], true, "")
	waitFor(t, "every member to have the votes of the others", func() bool {
		v := vote(f[0], false, "")
		return v.Votes == 3
	})
	for _, tc := range []struct {
		quorum string
		want   bool
	}{{"majority", true}, {"", true}, {"all", false}, {"any", true}, {"67%", false}, {"66%", true}} {
		if v := vote(f[0], false, tc.quorum); v.OK != tc.want || v.Passing != 2 || v.Fallback {
			t.Errorf("%q with one of three failing: %+v, want OK %v", tc.quorum, v, tc.want)
		}
	}
	vote(f[1], false, "")
	waitFor(t, "the second failure to arrive", func() bool {
		v := vote(f[2], true, "")
		return v.Passing == 1 && v.Votes == 3
	})
	if v := vote(f[2], true, "majority"); v.OK {
		t.Errorf("two of three failing under majority: %+v, want down", v)
	}
	// [cluster] quorum = "local": the votes are shared, the verdict is
	// the member's own.
	f[2].mu.Lock()
	f[2].cfg.Quorum = health.QuorumLocal
	f[2].mu.Unlock()
	if v := vote(f[2], true, ""); !v.OK {
		t.Errorf("quorum local, own result passing, two others failing: %+v, want up", v)
	}
}

// TestAdminReachesEveryMember: a drain set on one member is in effect on
// the others, and so is its clear.
func TestAdminReachesEveryMember(t *testing.T) {
	f := fleet(t, 3, testKey)
	const id = "www.example.test/one"
	start := time.Now()
	if err := f[0].admin.Set(id, &health.Override{State: health.AdminDrain, Reason: "test"}, "api"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drain on b and c", func() bool {
		return f[1].admin.Get(id) != nil && f[2].admin.Get(id) != nil
	})
	t.Logf("drain in effect on b and c after %v", time.Since(start))
	if err := f[2].admin.Set(id, nil, "api"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the clear on a and b", func() bool {
		return f[0].admin.Get(id) == nil && f[1].admin.Get(id) == nil
	})
}

// TestWrongKeyRefused: a member with another key never joins.
func TestWrongKeyRefused(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	f := fleetWith(t, 1, testKey, 200*time.Millisecond, lockedWriter{&mu, &logs})
	admin := health.NewAdmin("", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cfg := Config{Name: "intruder", Bind: netip.MustParseAddrPort("127.0.0.1:0"), Profile: "local", Keys: [][]byte{[]byte("fedcba9876543210fedcba9876543210")}}
	c, err := New(cfg, admin, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.shutdown()
	if n, err := c.ml.Join([]string{f[0].Addr().String()}); err == nil || n != 0 {
		t.Fatalf("a member with the wrong key joined %d: %v", n, err)
	}
	if n := f[0].ml.NumMembers(); n != 1 {
		t.Errorf("the fleet has %d members, want 1", n)
	}
	// The member refused it and said so, at level error.
	waitFor(t, "the refusal in the member's log", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "no installed keys could decrypt the message")
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestVotesAloneAndWithdrawn: a vote withdrawn (Forget) leaves the
// others' tables; with its peers gone, a member decides alone and says
// so.
func TestVotesAloneAndWithdrawn(t *testing.T) {
	f := fleet(t, 3, testKey)
	spec := health.Spec{Kind: health.KindTCP, Addr: netip.MustParseAddrPort("192.0.2.9:80"), Interval: 200 * time.Millisecond}
	for _, c := range f {
		c.Vote(spec, true, time.Now())
	}
	waitFor(t, "a to have three votes", func() bool { return len(f[0].VotesOf(spec)) == 3 })
	f[2].Forget(spec)
	waitFor(t, "c's vote to be withdrawn on a", func() bool { return len(f[0].VotesOf(spec)) == 2 })

	f[1].shutdown()
	f[2].shutdown()
	waitFor(t, "a to decide alone, b and c stale", func() bool {
		v := f[0].Vote(spec, false, time.Now())
		return v.Fallback && f[0].Status().FreshVoters == 1
	})
	v := f[0].Vote(spec, false, time.Now())
	if v.OK || v.Votes != 1 || v.Voters != 3 {
		t.Errorf("alone: %+v, want its own failing vote of 1, of 3 voters", v)
	}
	if st := f[0].Status(); st.Alone != 1 {
		t.Errorf("status: %d checks alone, want 1", st.Alone)
	}
}

// TestFrameGapResyncs: a frame that does not follow the last one applied
// makes the sender's table unsynced (its votes do not count) until its
// full table arrives; a late frame of an older process is dropped.
func TestFrameGapResyncs(t *testing.T) {
	a := fleet(t, 1, testKey)[0]
	spec := health.Spec{Kind: health.KindTCP, Addr: netip.MustParseAddrPort("192.0.2.10:80"), Interval: 200 * time.Millisecond}
	key := spec.Key()
	now := func() int64 { return time.Now().UnixMilli() }
	vote := func() MemberVote {
		for _, v := range a.VotesOf(spec) {
			if v.Member == "z" {
				return v
			}
		}
		return MemberVote{Member: "none"}
	}
	a.receiveFrame(&frame{Origin: "z", Incarnation: 7, Seq: 3, SentAt: now(), Full: true, Entries: []entry{{key, votePass}}})
	if v := vote(); !v.Fresh || !v.Pass {
		t.Fatalf("after the full table: %+v", v)
	}
	a.receiveFrame(&frame{Origin: "z", Incarnation: 7, Seq: 4, SentAt: now(), Entries: []entry{{key, voteFail}}})
	if v := vote(); !v.Fresh || v.Pass {
		t.Fatalf("after the next frame: %+v, want a fresh failing vote", v)
	}
	a.receiveFrame(&frame{Origin: "z", Incarnation: 7, Seq: 6, SentAt: now()}) // 5 was lost
	if v := vote(); v.Fresh {
		t.Fatalf("after a gap: %+v, want the vote not to count", v)
	}
	a.receiveFrame(&frame{Origin: "z", Incarnation: 6, Seq: 9, SentAt: now(), Full: true})
	if v := vote(); v.Fresh {
		t.Fatalf("a full table of an older process resynced: %+v", v)
	}
	a.receiveFrame(&frame{Origin: "z", Incarnation: 7, Seq: 6, SentAt: now(), Full: true, Entries: []entry{{key, votePass}}})
	if v := vote(); !v.Fresh || !v.Pass {
		t.Fatalf("after the full table: %+v", v)
	}
	// A restart (a new incarnation) starts over from its full table.
	a.receiveFrame(&frame{Origin: "z", Incarnation: 8, Seq: 1, SentAt: now()})
	if v := vote(); v.Fresh {
		t.Fatalf("a new incarnation's first frame counted the old table: %+v", v)
	}
}
