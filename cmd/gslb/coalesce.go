package main

import (
	"context"
	"time"
)

// coalescer runs a job for bursts of requests: the first request of a
// burst runs it at once, the requests that follow within quiet of each
// other are merged into one more run after the burst (at the latest
// maxWait after its first request, so that an endless stream still
// runs). 100 SIGHUPs in 2 s reload twice, not 100 times.
type coalescer struct {
	quiet, maxWait time.Duration
	run            func(why string)
	reqs           chan string
}

func newCoalescer(quiet, maxWait time.Duration, run func(why string)) *coalescer {
	return &coalescer{quiet: quiet, maxWait: maxWait, run: run, reqs: make(chan string, 1)}
}

// Request asks for a run; it never blocks. It reports whether the
// request starts a burst of its own rather than joining a pending one.
func (c *coalescer) Request(why string) bool {
	select {
	case c.reqs <- why:
		return true
	default:
		return false // one is waiting already: this one is merged into it
	}
}

// Run serves requests until ctx is done.
func (c *coalescer) Run(ctx context.Context) {
	for {
		var why string
		select {
		case <-ctx.Done():
			return
		case why = <-c.reqs:
		}
		c.run(why)
		c.absorb(ctx)
	}
}

// absorb waits out a burst after a run: requests keep it going until
// quiet passes without one, then the merged request runs once.
func (c *coalescer) absorb(ctx context.Context) {
	pending, first := "", time.Time{}
	t := time.NewTimer(c.quiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case why := <-c.reqs:
			if pending == "" {
				first = time.Now()
			}
			pending = why
			wait := c.quiet
			if left := time.Until(first.Add(c.maxWait)); left < wait {
				wait = max(0, left)
			}
			t.Reset(wait)
		case <-t.C:
			if pending == "" {
				return
			}
			c.run(pending + " (merged)")
			pending = ""
			t.Reset(c.quiet)
		}
	}
}
