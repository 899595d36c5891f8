package health

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Quorum rules: how the probe results of a fleet's members (their votes)
// combine into one verdict per check. Spec.Quorum holds one of these, or
// "P%".
const (
	// QuorumLocal is this instance's own result alone (a single
	// instance's behaviour).
	QuorumLocal = "local"
	// QuorumMajority (the default in a cluster): up unless more than
	// half of the fresh votes fail; a tie keeps the target up.
	QuorumMajority = "majority"
	// QuorumAny: up while any fresh vote passes.
	QuorumAny = "any"
	// QuorumAll: up only while every fresh vote passes.
	QuorumAll = "all"
)

// ParseQuorum checks a quorum rule: local, majority, any, all or "P%"
// with P in 1..100.
func ParseQuorum(q string) error {
	switch q {
	case "", QuorumLocal, QuorumMajority, QuorumAny, QuorumAll:
		return nil
	}
	if p, ok := quorumPercent(q); ok && p >= 1 && p <= 100 {
		return nil
	}
	return fmt.Errorf("quorum %q: want local, majority, any, all or a percentage like \"60%%\"", q)
}

func quorumPercent(q string) (float64, bool) {
	n, ok := strings.CutSuffix(q, "%")
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseFloat(n, 64)
	return p, err == nil
}

// Decide applies a quorum rule to passing of votes fresh votes.
func Decide(rule string, passing, votes int) bool {
	if votes <= 0 {
		return true
	}
	switch rule {
	case QuorumAny:
		return passing > 0
	case QuorumAll:
		return passing == votes
	case QuorumLocal:
		return passing == votes // one vote: the instance's own
	case "", QuorumMajority:
		return 2*passing >= votes
	}
	p, _ := quorumPercent(rule)
	return float64(passing)*100 >= p*float64(votes)
}

// Verdict is a check's aggregate over the fleet's votes at one probe.
type Verdict struct {
	// OK is the aggregate: what rise and fall count.
	OK bool `json:"ok"`
	// Passing of Votes fresh votes passed (this instance's included);
	// Voters is how many members have voted recently, fresh or not.
	Passing int `json:"passing"`
	Votes   int `json:"votes"`
	Voters  int `json:"voters"`
	// Fallback: too few fresh votes (fewer than a majority of Voters),
	// so OK is this instance's own result.
	Fallback bool `json:"fallback"`
}

// A Voter shares this instance's probe results with the rest of a fleet
// and combines them with theirs. The cluster package implements it; a
// Checker without one decides alone.
type Voter interface {
	// Vote records this instance's result of a check and returns the
	// aggregate of the fresh votes under the spec's quorum rule.
	Vote(spec Spec, ok bool, at time.Time) Verdict
	// Forget withdraws this instance's vote on a check it no longer
	// probes.
	Forget(spec Spec)
}

// Key is a check's identity across a fleet: the same on every member
// whose configuration describes the same probe.
func (s Spec) Key() uint64 {
	h := fnv.New64a()
	c := s
	c.Quorum = "" // how votes combine is not what is probed
	fmt.Fprint(h, c.keyText())
	return h.Sum64()
}

// keyText is what Key hashes: every field, the address as text (never a
// pointer, so that every process prints the same).
func (s Spec) keyText() string { return fmt.Sprintf("%+v", s) }
