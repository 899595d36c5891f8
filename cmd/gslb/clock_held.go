//go:build heldclock

package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// heldClock, in this test build only (go build -tags heldclock), holds the
// clock signatures are made by at the instant GSLB_HELD_CLOCK gives (unix
// seconds or RFC 3339): a server that stopped re-signing, as faketime
// would make one if Go read the time through libc. .ci/dnssec.sh serves a
// zone from such a build and sees validators fail it once the held
// window's signatures expire. Without the variable the build signs by the
// system clock.
func heldClock() (func() time.Time, error) {
	v := os.Getenv("GSLB_HELD_CLOCK")
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil {
			return nil, fmt.Errorf("GSLB_HELD_CLOCK=%q: want unix seconds or RFC 3339", v)
		}
		t = time.Unix(n, 0)
	}
	return func() time.Time { return t }, nil
}
