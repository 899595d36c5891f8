package web

import (
	"cmp"
	"slices"
	"testing"
	"time"
)

// hourOf returns a backend of www's last hour as the status page reads it,
// with the live counters, trimmed to its last n minutes.
func (f *shareFixture) hourOf(name string, n int) []uint32 {
	live := f.web.answerCounts(f.snap)
	s := f.web.recent.hour.series("www.example.test.", name, live)
	return s[historyMinutes-n:]
}

// TestAnswerHistory: each minute's answers land in that minute's bucket,
// the open minute is read live, a pause of Run leaves empty minutes, and
// an hour later a minute is gone.
func TestAnswerHistory(t *testing.T) {
	f := newShareFixture(t, oneTwo)
	f.runTo(sec(10), true)
	f.drainTwo(t, true)
	f.ask(3) // minute 0: one alone
	f.runTo(sec(70), true)
	f.drainTwo(t, false)
	f.ask(2) // minute 1: both
	if got, want := f.hourOf("one", 3), []uint32{0, 3, 2}; !slices.Equal(got, want) {
		t.Errorf("one at 70 s: %v, want %v (minute 1 open, read live)", got, want)
	}
	if got, want := f.hourOf("two", 3), []uint32{0, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("two at 70 s: %v, want %v", got, want)
	}
	// Run pauses from 2:10 to 5:31: minutes 2 and 3 close empty, the
	// answer of the pause lands in minute 4, the last closed.
	f.runTo(sec(130), true)
	f.runTo(sec(330), false)
	f.ask(1)
	f.runTo(sec(331), true)
	if got, want := f.hourOf("one", 6), []uint32{3, 2, 0, 0, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("one at 5:31: %v, want %v", got, want)
	}
	// An hour on, minute 0 has left the chart; minute 1 is the oldest.
	f.runTo(sec(60*60+1), true)
	if got := f.hourOf("one", historyMinutes); got[0] != 2 || slices.Index(got, 3) >= 0 {
		t.Errorf("one at 60:01: %v, want minute 1 (2) first and minute 0 (3) gone", got)
	}
	if n := len(f.web.recent.hour.rings); n != 2 {
		t.Errorf("%d rings, want one per backend (2)", n)
	}
}

// TestAnswerHistoryReload: a backend a reload removes leaves the history
// at the next minute; one it adds counts from the first minute it is in.
func TestAnswerHistoryReload(t *testing.T) {
	f := newShareFixture(t, oneTwo)
	f.ask(2)
	f.runTo(sec(65), true)
	f.reload(t, `[services.www]
backends = [{ name = "one", address = "192.0.2.1" }, { name = "three", address = "192.0.2.3" }]
`)
	f.ask(1) // minute 1: three is not in the baseline of minute 1
	f.runTo(sec(125), true)
	f.ask(1) // minute 2: three counts
	f.runTo(sec(185), true)
	if _, ok := f.web.recent.hour.rings[historyKey{"www.example.test.", "two"}]; ok {
		t.Error("two, removed by the reload, is still in the history")
	}
	if got, want := f.hourOf("three", 4), []uint32{0, 0, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("three: %v, want %v", got, want)
	}
	if got, want := f.hourOf("one", 4), []uint32{2, 1, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("one: %v, want %v", got, want)
	}
}

// TestAnswerHistoryBounded: two hours of Run keep one ring of an hour per
// backend, and the closes are counted per minute, not per sample.
func TestAnswerHistoryBounded(t *testing.T) {
	f := newShareFixture(t, oneTwo)
	for m := range 120 {
		f.runTo(time.Duration(m)*time.Minute+sec(30), true)
		f.ask(1)
	}
	h := &f.web.recent.hour
	if h.closed != 119 || len(h.rings) != 2 {
		t.Errorf("closed %d minutes in %d rings, want 119 in 2", h.closed, len(h.rings))
	}
	for _, n := range f.hourOf("one", historyMinutes) {
		if n != 1 {
			t.Fatalf("one's last hour %v, want 1 a minute", f.hourOf("one", historyMinutes))
		}
	}
}

// vecOf lays out counts as a sample does (in sorted key order).
func vecOf(counts map[answerKey]uint64) *answerVec {
	l := &answerLayout{index: map[answerKey]int{}}
	for k := range counts {
		l.keys = append(l.keys, k)
	}
	slices.SortFunc(l.keys, func(a, b answerKey) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.pool, b.pool), cmp.Compare(a.backend, b.backend))
	})
	v := &answerVec{lay: l, n: make([]uint64, len(l.keys))}
	for i, k := range l.keys {
		l.index[k] = i
		v.n[i] = counts[k]
	}
	return v
}
