package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCoalescer: a burst runs twice (at once, and once after it), spaced
// requests run each, and an endless stream still runs every maxWait.
func TestCoalescer(t *testing.T) {
	for _, c := range []struct {
		name             string
		n                int
		every, maxWait   time.Duration
		minRuns, maxRuns int
	}{
		{"a burst of 100", 100, 0, 5 * time.Second, 2, 2},
		{"5 quiet requests", 5, 400 * time.Millisecond, 5 * time.Second, 5, 5},
		// About 1 s of requests with maxWait 300 ms: at once, every
		// 300 ms at most, and once after the end.
		{"a stream longer than maxWait", 100, 10 * time.Millisecond, 300 * time.Millisecond, 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			runs := 0
			co := newCoalescer(100*time.Millisecond, c.maxWait, func(string) {
				mu.Lock()
				runs++
				mu.Unlock()
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { co.Run(ctx); close(done) }()
			start := time.Now()
			for i := 0; i < c.n; i++ {
				co.Request("test")
				if i == 0 || c.every > 0 {
					// Let the first run start before the burst; space the rest.
					time.Sleep(max(c.every, 20*time.Millisecond))
				}
			}
			if c.maxRuns == 0 {
				// However long the stream took on this machine: one run
				// per maxWait of it, the first and the last.
				c.maxRuns = int(time.Since(start)/c.maxWait) + 2
			}
			time.Sleep(600 * time.Millisecond)
			cancel()
			<-done
			if runs < c.minRuns || runs > c.maxRuns {
				t.Errorf("%d runs, want %d to %d", runs, c.minRuns, c.maxRuns)
			}
		})
	}
}

// TestSIGHUPStorm: 100 SIGHUPs in 2 s to a running server reload at most
// twice, and every one is counted (issue 18).
func TestSIGHUPStorm(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), ctlZone, 0o644)
	writeFile(t, filepath.Join(dir, "gslb.toml"), "zones = [\"zones\"]\n[server]\ndns = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n", 0o644)
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"))
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	metric := func(re string) int {
		resp, err := hc.Get(s.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(re + ` (\d+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no %s in /metrics", re)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	before := metric(`gslb_config_reloads_total\{result="success"\}`)
	for i := 0; i < 100; i++ {
		s.cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the settle time (1 s) and the merged reload
	reloads := metric(`gslb_config_reloads_total\{result="success"\}`) - before
	if reloads < 1 || reloads > 2 {
		t.Errorf("100 SIGHUPs in 2 s: %d reloads, want 1 or 2", reloads)
	}
	if n := metric(`gslb_config_reload_requests_total\{trigger="sighup"\}`); n != 100 {
		t.Errorf("%d SIGHUPs counted, want 100", n)
	}
	t.Logf("100 SIGHUPs in 2 s: %d reloads", reloads)
}
