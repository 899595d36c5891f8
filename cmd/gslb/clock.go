//go:build !heldclock

package main

import "time"

// heldClock is, in the held-clock test build only (-tags heldclock), the
// clock a server signs by; in every other build there is none: nil.
func heldClock() (func() time.Time, error) { return nil, nil }
