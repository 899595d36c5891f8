package zones

import (
	"hash/fnv"
	"testing"
)

func TestMix64(t *testing.T) {
	// SplitMix64's first outputs for seed 0 are the finaliser of the
	// golden-ratio increments.
	const gamma = 0x9e3779b97f4a7c15
	for i, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f} {
		if got := Mix64(gamma * uint64(i+1)); got != want {
			t.Errorf("Mix64(%d*gamma) = %#x, want %#x", i+1, got, want)
		}
	}
	if Mix64(0) != 0 {
		t.Errorf("Mix64(0) = %#x, want 0", Mix64(0))
	}
}

// TestFNV64a pins the hand-written FNV-1a to the standard library's, so
// that member seeds and sticky choices keep their values.
func TestFNV64a(t *testing.T) {
	for _, s := range []string{"", "a", "www.example.com/eu1", "\x00\xff\x80"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := fnv64a(s), h.Sum64(); got != want {
			t.Errorf("fnv64a(%q) = %#x, want %#x", s, got, want)
		}
		if fnv64a([]byte(s)) != fnv64a(s) {
			t.Errorf("fnv64a(%q) differs for bytes and string", s)
		}
	}
	if got := hashString("a"); got != Mix64(0xaf63dc4c8601ec8c) {
		t.Errorf("hashString(\"a\") = %#x", got)
	}
}
