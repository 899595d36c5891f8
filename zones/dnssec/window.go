package dnssec

import "time"

// Validity bounds of signatures.
const (
	MinValidity     = 5 * time.Minute
	MaxValidity     = 90 * 24 * time.Hour
	DefaultValidity = 14 * 24 * time.Hour
)

// Window is a signature's validity: RRSIG inception and expiration, in
// seconds since the epoch (RFC 4034 3.1.5; serial arithmetic past 2106).
type Window struct {
	Inception, Expiration uint32
	// Start is the step the window belongs to, for the cache: windows of
	// one step are equal.
	Start int64
}

// WindowAt is the window of a signature made at now for the validity v:
// time is cut in steps of v/3, and a signature made in the step that
// starts at s is valid from s minus one step (a clock behind, a resolver's
// clock behind) to s plus v. Every instance, and every restart, computes
// the same window in a step, whatever its start; a signature is renewed
// at the next step, so it always has at least two thirds of v left.
func WindowAt(now time.Time, v time.Duration) Window {
	step := int64(v / 3 / time.Second)
	if step < 1 {
		step = 1
	}
	t := now.Unix()
	s := t - t%step
	return Window{Inception: uint32(s - step), Expiration: uint32(s + int64(v/time.Second)), Start: s}
}

// Expires is the window's expiration as a time.
func (w Window) Expires() time.Time { return time.Unix(int64(w.Expiration), 0).UTC() }

// Renewed is when the next window starts: signatures made from then on
// are new ones.
func (w Window) Renewed(v time.Duration) time.Time {
	step := max(int64(v/3/time.Second), 1)
	return time.Unix(w.Start+step, 0).UTC()
}
