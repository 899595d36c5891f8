package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestNodeAutoscale is the scale-out and scale-in scenario with real
// parts: gslb, the example autoscaler (examples/node/autoscaler.js), and
// Node.js instances it starts (server.js with its gslb agent, each at most
// 0.25 of a core at capacity 20 requests/s) that register themselves and
// drain on SIGTERM; clients that resolve through gslb, cache the answer
// for its TTL as a resolver does, and send GET /work. Demand ramps from
// 30 % to 250 % of one instance's capacity over a minute, holds, ramps
// back, and holds at 30 %: the pool grows and shrinks, and no request
// fails while it shrinks (instances exit only after the last answer that
// named them expired). The compressed timeline of the issue: warm-up
// 10 s, cooldown 20 s, stabilisation window 60 s. Four minutes.
func TestNodeAutoscale(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a 4-minute scenario (not run again under the race detector)")
	}
	dir := nodeDir(t)
	const (
		capacity = 20.0
		port     = 18480
		lease    = 6
	)
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "token"), regAdmin+"\n", 0o600)
	writeFile(t, filepath.Join(work, "registration.tokens"), "api.example.test "+regToken+"\n", 0o600)
	writeFile(t, filepath.Join(work, "agent.token"), regToken+"\n", 0o600)
	const secret = "autoscale-webhook-secret-0123456789"
	writeFile(t, filepath.Join(work, "webhook.secret"), secret+"\n", 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hook := ln.Addr().String()
	ln.Close()
	writeFile(t, filepath.Join(work, "zones", "example.test.toml"), fmt.Sprintf(`origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
[services.api]
ttl = 5
members = "weighted"
registration = true
slow_start = { window = "10s" }
check = { type = "http", port = %d, path = "/healthz", interval = "500ms", timeout = "300ms", rise = 1, fall = 2 }
scale = { low = 0.5, high = 0.75, min = 1, max = 4, cooldown = "20s", stabilization = "60s", warmup = "10s", webhooks = ["http://%s/gslb"] }
backends = [{ name = "standby", address = "192.0.2.250", weight = 0, check = { type = "none" } }]
`, port, hook), 0o644)
	if err := os.Mkdir(filepath.Join(work, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(work, "gslb.toml")
	writeFile(t, config, `zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
http = "127.0.0.1:0"
[admin]
token_file = "token"
registration_tokens_file = "registration.tokens"
[webhooks]
secret_file = "webhook.secret"
[state]
dir = "state"
`, 0o644)
	g := startGSLB(t, "-config", config)
	_, hookPort, _ := net.SplitHostPort(hook)
	as := exec.Command("node", "autoscaler.js", hookPort, filepath.Join(work, "webhook.secret"), "--",
		"--port", fmt.Sprint(port), "--capacity", fmt.Sprint(capacity), "--cpu-share", "0.25", "--max-queue", "40",
		"--gslb", g.http, "--gslb-service", "api.example.test", "--gslb-name", "{name}",
		"--gslb-token-file", filepath.Join(work, "agent.token"), "--gslb-lease", fmt.Sprint(lease))
	as.Dir = dir
	out, _ := as.StdoutPipe()
	as.Stderr = os.Stderr
	if err := as.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var evMu sync.Mutex
	var events []string
	var shrinking atomic.Bool // from the first scale_in on
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, " scale_in ") {
				shrinking.Store(true)
			}
			if strings.Contains(line, "scale_") || strings.Contains(line, "started") || strings.Contains(line, "exited") {
				evMu.Lock()
				events = append(events, fmt.Sprintf("+%5.1fs %s", time.Since(start).Seconds(), line[strings.Index(line, "Z ")+2:]))
				evMu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		as.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { as.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			as.Process.Kill()
		}
	})

	// Clients: 32 "resolvers", each caching gslb's answer for its TTL,
	// sending GET /work at the demand's rate between them.
	demand := func(s float64) float64 { // in instances' worth of capacity
		switch {
		case s < 20:
			return 0.3
		case s < 80:
			return 0.3 + 2.2*(s-20)/60
		case s < 100:
			return 2.5
		case s < 140:
			return 2.5 - 2.2*(s-100)/40
		}
		return 0.3
	}
	total := 240 * time.Second
	// GSLB_AUTOSCALE=oscillate (by hand, docs/registration.md): demand
	// grows to the scale-out threshold of two instances (1.5), then
	// oscillates ±10 % around it with a 20 s period for two minutes.
	oscillate := os.Getenv("GSLB_AUTOSCALE") == "oscillate"
	const oscFrom = 50
	if oscillate {
		demand = func(s float64) float64 {
			switch {
			case s < 20:
				return 0.3
			case s < oscFrom:
				return 0.3 + 1.2*(s-20)/(oscFrom-20)
			}
			return 1.5 * (1 + 0.1*math.Sin(2*math.Pi*(s-oscFrom)/20))
		}
		total = (oscFrom + 120) * time.Second
	}
	type cache struct {
		mu      sync.Mutex
		addrs   []string
		expires time.Time
	}
	var caches [32]cache
	resolve := func(c *cache) []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		if time.Now().Before(c.expires) && len(c.addrs) > 0 {
			return c.addrs
		}
		q := new(dns.Msg)
		q.SetQuestion("api.example.test.", dns.TypeA)
		r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(q, g.addr)
		if err != nil || len(r.Answer) == 0 {
			return nil
		}
		c.addrs = c.addrs[:0]
		for _, rr := range r.Answer {
			c.addrs = append(c.addrs, rr.(*dns.A).A.String())
		}
		c.expires = time.Now().Add(time.Duration(r.Answer[0].Header().Ttl) * time.Second)
		return c.addrs
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 2 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Timeout: 5 * time.Second, Transport: tr}

	// Once a second: the pool's utilisation and size as gslb sees them,
	// and every registered backend's state.
	type seen struct {
		first, serving  time.Duration
		rampedAtServing bool
		servedUnprobed  bool
	}
	var pollMu sync.Mutex
	backends := map[string]*seen{}
	var above, worstAbove time.Duration
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		api := &http.Client{Timeout: time.Second}
		for time.Since(start) < total {
			time.Sleep(time.Second)
			resp, err := api.Get(g.http + "/api/v1/backends")
			if err != nil {
				continue
			}
			var list struct {
				Backends []struct {
					Name            string  `json:"name"`
					Source          string  `json:"source"`
					Serving         bool    `json:"serving"`
					Probed          bool    `json:"probed"`
					Weight          float64 `json:"weight"`
					EffectiveWeight float64 `json:"effective_weight"`
				} `json:"backends"`
			}
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			mresp, err := api.Get(g.http + "/metrics")
			util := 0.0
			if err == nil {
				b, _ := io.ReadAll(mresp.Body)
				mresp.Body.Close()
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, `gslb_pool_utilization{pool="default",service="api.example.test"} `); ok {
						fmt.Sscan(v, &util)
					}
				}
			}
			pollMu.Lock()
			now := time.Since(start)
			for _, b := range list.Backends {
				if b.Source != "registered" {
					continue
				}
				x := backends[b.Name]
				if x == nil {
					x = &seen{first: now}
					backends[b.Name] = x
				}
				if b.Serving && !b.Probed {
					x.servedUnprobed = true
				}
				if b.Serving && x.serving == 0 {
					x.serving = now
					x.rampedAtServing = b.EffectiveWeight < b.Weight
				}
			}
			if util > 0.75 {
				above += time.Second
				worstAbove = max(worstAbove, above)
			} else {
				above = 0
			}
			pollMu.Unlock()
		}
	}()
	var sent, ok, refused, overloaded, noAnswer atomic.Int64
	var inFailed atomic.Int64 // failures from the first scale_in on
	var wg sync.WaitGroup
	stop := time.Now().Add(total)
	k := 0
	for now := time.Now(); now.Before(stop); now = time.Now() {
		s := now.Sub(start).Seconds()
		rate := demand(s) * capacity
		time.Sleep(time.Duration(float64(time.Second) / rate))
		k++
		c := &caches[k%len(caches)]
		shrinking := shrinking.Load()
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs := resolve(c)
			if len(addrs) == 0 || addrs[0] == "192.0.2.250" {
				noAnswer.Add(1)
				return
			}
			sent.Add(1)
			resp, err := client.Get(fmt.Sprintf("http://%s:%d/work", addrs[0], port))
			switch {
			case err != nil:
				refused.Add(1)
				if shrinking {
					inFailed.Add(1)
				}
			case resp.StatusCode != 200:
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				overloaded.Add(1)
				if shrinking {
					inFailed.Add(1)
				}
			default:
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	<-pollDone
	pollMu.Lock()
	defer pollMu.Unlock()
	for name, x := range backends {
		fmt.Printf("autoscale: %s registered at +%.0fs, serving at +%.0fs, ramping then: %v\n", name, x.first.Seconds(), x.serving.Seconds(), x.rampedAtServing)
		if x.servedUnprobed {
			t.Errorf("%s was serving before its first probe", name)
		}
		if x.serving != 0 && !x.rampedAtServing {
			t.Errorf("%s was not ramping when it came into service", name)
		}
	}
	if len(backends) < 3 {
		t.Errorf("%d registered backends seen in the API, want at least 3", len(backends))
	}
	fmt.Printf("autoscale: longest time the pool's utilisation stayed above the band (0.75), sampled each second: %v (warm-up + cooldown: 30s)\n", worstAbove)
	if oscillate {
		evMu.Lock()
		defer evMu.Unlock()
		type ev struct {
			at  float64
			out bool
		}
		var evs []ev
		for _, e := range events {
			var at float64
			fmt.Sscanf(strings.TrimPrefix(e, "+"), "%fs", &at)
			if at >= oscFrom && (strings.Contains(e, "scale_out") || strings.Contains(e, "scale_in")) {
				evs = append(evs, ev{at, strings.Contains(e, "scale_out")})
			}
			fmt.Println("autoscale: " + e)
		}
		reversed := 0
		for i := 1; i < len(evs); i++ {
			if evs[i].at-evs[i-1].at < 20 {
				t.Errorf("events %.1f s apart, within the cooldown", evs[i].at-evs[i-1].at)
			}
			if evs[i].out != evs[i-1].out && evs[i].at-evs[i-1].at < 60 {
				reversed++
			}
		}
		fmt.Printf("autoscale: oscillation ±10 %% around the threshold, 20 s period, 120 s: %d events, %d reversed within the 60 s window; %d requests, %d failed\n",
			len(evs), reversed, sent.Load(), refused.Load()+overloaded.Load())
		if reversed > 0 {
			t.Errorf("%d events reversed within the stabilisation window", reversed)
		}
		return
	}
	if worstAbove > 30*time.Second {
		t.Errorf("the pool stayed above the band for %v, more than warm-up + cooldown", worstAbove)
	}
	evMu.Lock()
	defer evMu.Unlock()
	fmt.Printf("autoscale: %d requests sent, %d ok, %d refused, %d 5xx, %d before any instance was answered; %d failed from the first scale_in on\n",
		sent.Load(), ok.Load(), refused.Load(), overloaded.Load(), noAnswer.Load(), inFailed.Load())
	for _, e := range events {
		fmt.Println("autoscale: " + e)
	}
	outs, ins := 0, 0
	for _, e := range events {
		if strings.Contains(e, "scale_out") {
			outs++
		}
		if strings.Contains(e, "scale_in") {
			ins++
		}
	}
	if outs < 2 || ins < 1 {
		t.Errorf("%d scale_out and %d scale_in events; want the pool to grow and shrink", outs, ins)
	}
	if f := inFailed.Load(); f != 0 {
		t.Errorf("%d requests failed while the pool shrank, want 0", f)
	}
}
