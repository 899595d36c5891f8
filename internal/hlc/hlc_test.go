package hlc

import (
	"testing"
	"time"
)

func TestClockOrders(t *testing.T) {
	wall := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	now := func() time.Time { return wall }
	a, b := New("a", now), New("b", now)
	s1 := a.Now()
	s2 := a.Now()
	if !s1.Before(s2) || s2.Logical != 1 {
		t.Fatalf("same millisecond: %v then %v, want the counter to order them", s1, s2)
	}
	// b's clock is behind: after seeing s2 it still stamps after it.
	wall = wall.Add(-time.Second)
	if !b.Observe(s2, time.Minute) {
		t.Fatal("Observe refused a stamp one second ahead")
	}
	if s3 := b.Now(); !s2.Before(s3) {
		t.Fatalf("b stamped %v after seeing %v", s3, s2)
	}
	// A stamp an hour ahead is not followed.
	far := Stamp{Wall: wall.Add(time.Hour).UnixMilli(), Node: "x"}
	if b.Observe(far, time.Minute) {
		t.Fatal("Observe followed a stamp an hour ahead")
	}
	if s := b.Now(); !s.Before(far) {
		t.Fatalf("b jumped to %v", s)
	}
	// Ties on time and counter go to the node name.
	x, y := Stamp{Wall: 5, Node: "x"}, Stamp{Wall: 5, Node: "y"}
	if !x.Before(y) || y.Before(x) {
		t.Fatal("node name does not break ties")
	}
}

func TestStampText(t *testing.T) {
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{"2026-12-03T14:05:06.789Z@ns1", true},
		{"2026-12-03T14:05:06.789Z+42@ns1.example", true},
		{"", true},
		{"2026-12-03T14:05:06.789Z", false},
		{"2026-12-03T14:05:06.789Z@", false},
		{"yesterday@ns1", false},
		{"2026-12-03T14:05:06.789Z+x@ns1", false},
	} {
		s, err := Parse(tc.text)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q): err %v, want ok %v", tc.text, err, tc.ok)
			continue
		}
		if tc.ok && s.String() != tc.text {
			t.Errorf("Parse(%q).String() = %q", tc.text, s.String())
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("2026-12-03T14:05:06.789Z+42@ns1")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			return
		}
		back, err := Parse(s.String())
		if err != nil || back != s {
			t.Fatalf("%q parsed as %+v, which prints %q and reads back as %+v, %v", text, s, s.String(), back, err)
		}
	})
}
