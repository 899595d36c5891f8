//go:build steering

// The steering measurements of docs/steering.md: gslb in process with its
// real DNS and HTTP sides, real HTTP backends whose load follows the
// requests they get, and a population of clients that resolve the
// service through gslb, keep each answer for a cache window and send
// their requests to it. Run by hand (about 15 minutes):
//
//	go test -tags steering -run Steering -v -timeout 30m ./cmd/gslb
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
)

// loadBackend is an HTTP backend whose load is the requests it received
// over the last second divided by its capacity. gslb's probe reads it at
// /load as {"load": x} (load_json = "load"); the probe's answer can be
// delayed (latency steps, jitter) and the load pinned (load steps).
type loadBackend struct {
	ip       string // the address gslb answers for it
	capacity float64
	srv      *httptest.Server

	mu     sync.Mutex
	ring   [20]int64 // requests per 50 ms bucket
	head   int64     // bucket number of the newest bucket
	served atomic.Int64

	probeDelay atomic.Int64  // ns
	jitter     atomic.Int64  // ns, ± around probeDelay
	pinned     atomic.Uint64 // float64 bits of a pinned load; 0: follow the requests
}

const bucket = 50 * time.Millisecond

func newLoadBackend(t *testing.T, ip string, capacity float64) *loadBackend {
	b := &loadBackend{ip: ip, capacity: capacity}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/load" {
			d := time.Duration(b.probeDelay.Load())
			if j := b.jitter.Load(); j > 0 {
				d += time.Duration(rand.Int64N(2*j+1) - j)
			}
			if d > 0 {
				time.Sleep(d)
			}
			load := b.rate() / b.capacity
			if p := b.pinned.Load(); p != 0 {
				load = math.Float64frombits(p)
			}
			json.NewEncoder(w).Encode(map[string]float64{"load": load})
			return
		}
		b.hit()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *loadBackend) advance(now int64) {
	if now-b.head >= int64(len(b.ring)) {
		b.ring = [len(b.ring)]int64{}
		b.head = now
		return
	}
	for b.head < now {
		b.head++
		b.ring[b.head%int64(len(b.ring))] = 0
	}
}

func (b *loadBackend) hit() {
	n := time.Now().UnixNano() / int64(bucket)
	b.mu.Lock()
	b.advance(n)
	b.ring[n%int64(len(b.ring))]++
	b.mu.Unlock()
	b.served.Add(1)
}

// rate is the requests of the last second, per second.
func (b *loadBackend) rate() float64 {
	n := time.Now().UnixNano() / int64(bucket)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(n)
	sum := int64(0)
	for _, x := range b.ring {
		sum += x
	}
	return float64(sum) * float64(time.Second) / float64(time.Duration(len(b.ring))*bucket)
}

func (b *loadBackend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

// population is a set of clients that resolve name through gslb, keep
// each answer for the cache window and send their share of the demand to
// it. It records the DNS answers per second and the requests each backend
// served per second.
type population struct {
	t        *testing.T
	dnsAddr  string
	name     string
	window   time.Duration
	demand   float64 // requests per second
	backends map[string]*loadBackend

	mu      sync.Mutex
	answers map[int]map[string]int // second → answered IP → answers
	served  []map[string]float64   // per second: IP → requests served
	dropped atomic.Int64
}

type client struct {
	mu      sync.Mutex
	ip      string
	expires time.Time
}

// run drives the population for d and returns when it is over.
func (p *population) run(d time.Duration, during func(sec int)) {
	p.answers = map[int]map[string]int{}
	start := time.Now()
	// Enough clients for 250 answers a second.
	n := int(math.Ceil(250 * p.window.Seconds()))
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = &client{expires: start.Add(time.Duration(rand.Int64N(int64(p.window))))}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Resolvers: clients whose answer expired ask again.
	due := make(chan *client, n)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: time.Second}
			for cl := range due {
				m := new(dns.Msg)
				m.SetQuestion(p.name, dns.TypeA)
				r, _, err := c.Exchange(m, p.dnsAddr)
				now := time.Now()
				cl.mu.Lock()
				// Keep the client's phase, so that the population stays
				// spread over the window even when answers come late;
				// one that fell a window behind starts a new phase.
				cl.expires = cl.expires.Add(p.window)
				if !cl.expires.After(now) {
					cl.expires = now.Add(time.Duration(rand.Int64N(int64(p.window))))
				}
				if err == nil && len(r.Answer) > 0 {
					if a, ok := r.Answer[0].(*dns.A); ok {
						cl.ip = a.A.String()
						sec := int(now.Sub(start) / time.Second)
						p.mu.Lock()
						if p.answers[sec] == nil {
							p.answers[sec] = map[string]int{}
						}
						p.answers[sec][cl.ip]++
						p.mu.Unlock()
					}
				}
				cl.mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(due)
		pending := map[*client]bool{}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				for _, cl := range clients {
					cl.mu.Lock()
					exp := cl.expires
					cl.mu.Unlock()
					if !exp.After(now) && !pending[cl] {
						pending[cl] = true
						select {
						case due <- cl:
						default:
						}
					} else if exp.After(now) {
						delete(pending, cl)
					}
				}
			}
		}
	}()
	// Requests: the demand, spread over random clients.
	reqs := make(chan string, 4096)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var workers sync.WaitGroup
	for range 32 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for ip := range reqs {
				b := p.backends[ip]
				if b == nil {
					continue
				}
				resp, err := hc.Get(b.srv.URL + "/work")
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(reqs)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		carry := 0.0
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				carry += p.demand * 0.01
				for ; carry >= 1; carry-- {
					cl := clients[rand.IntN(len(clients))]
					cl.mu.Lock()
					ip := cl.ip
					cl.mu.Unlock()
					if ip == "" {
						continue
					}
					select {
					case reqs <- ip:
					default:
						p.dropped.Add(1)
					}
				}
			}
		}
	}()
	// Served requests per second, and the caller's schedule.
	last := map[string]int64{}
	for ip, b := range p.backends {
		last[ip] = b.served.Load()
	}
	secs := int(d / time.Second)
	for s := range secs {
		time.Sleep(time.Until(start.Add(time.Duration(s+1) * time.Second)))
		row := map[string]float64{}
		for ip, b := range p.backends {
			v := b.served.Load()
			row[ip] = float64(v - last[ip])
			last[ip] = v
		}
		p.served = append(p.served, row)
		if during != nil {
			during(s + 1)
		}
	}
	close(stop)
	wg.Wait()
	workers.Wait()
	tr.CloseIdleConnections()
}

// shares returns, for every second of the run, ip's share of the
// answers given in it and their number (0: none, the share is NaN).
func (p *population) shares(ip string) (share []float64, n []int) {
	last := -1
	for s := range p.answers {
		last = max(last, s)
	}
	for s := 0; s <= last; s++ {
		total := 0
		for _, c := range p.answers[s] {
			total += c
		}
		n = append(n, total)
		if total == 0 {
			share = append(share, math.NaN())
			continue
		}
		share = append(share, float64(p.answers[s][ip])/float64(total))
	}
	return share, n
}

// steeringApp starts gslb with services, the backends' checks filled in
// from checks (one per backend, in the order given).
func steeringApp(t *testing.T, services string) *testApp {
	conf := healthConfig(t, services, "")
	return startApp(t, conf, "")
}

func checkOf(b *loadBackend, interval time.Duration) string {
	return fmt.Sprintf(`{ type = "http", address = %q, path = "/load", load_json = "load", interval = %q, timeout = "500ms", rise = 1, fall = 3 }`, b.addr(), interval)
}

// meanSD is the mean and standard deviation of x, NaNs left out.
func meanSD(x []float64) (m, sd float64) {
	k := 0
	for _, v := range x {
		if !math.IsNaN(v) {
			m += v
			k++
		}
	}
	m /= float64(k)
	for _, v := range x {
		if !math.IsNaN(v) {
			sd += (v - m) * (v - m)
		}
	}
	return m, math.Sqrt(sd / float64(k))
}

// TestSteeringClosedLoop: capacities 100/100/50, equal weights, least_load;
// 94 % and 110 % demand; cache windows 1 s and the TTL (10 s); 120 s per
// cell. Over the second half: each backend's per-second answer share has
// an sd within 1.5× binomial noise, and its mean utilisation is within
// 10 % of the ideal (= the demand).
func TestSteeringClosedLoop(t *testing.T) {
	const ttl = 10
	dur := 120 * time.Second
	if s := os.Getenv("STEERING_SECONDS"); s != "" {
		d, _ := time.ParseDuration(s + "s")
		dur = d
	}
	fmt.Printf("| demand | window | backend (capacity) | share | share sd | binomial noise | sd / noise | utilisation | vs ideal (delivered / capacity) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, demand := range []float64{0.94, 1.10} {
		for _, w := range []time.Duration{time.Second, ttl * time.Second} {
			t.Run(fmt.Sprintf("demand%.0f/window%v", demand*100, w), func(t *testing.T) {
				bs := []*loadBackend{newLoadBackend(t, "192.0.2.1", 100), newLoadBackend(t, "192.0.2.2", 100), newLoadBackend(t, "192.0.2.3", 50)}
				var lines []string
				for i, b := range bs {
					lines = append(lines, fmt.Sprintf(`  { name = "b%d", address = %q, check = %s },`, i, b.ip, checkOf(b, time.Second)))
				}
				ta := steeringApp(t, fmt.Sprintf("[services.www]\nttl = %d\nmembers = \"least_load\"\nbackends = [\n%s\n]\n", ttl, strings.Join(lines, "\n")))
				p := &population{t: t, dnsAddr: ta.dns, name: "www.example.test.", window: w, demand: demand * 250, backends: map[string]*loadBackend{}}
				for _, b := range bs {
					p.backends[b.ip] = b
				}
				var trace func(int)
				if os.Getenv("STEERING_TRACE") != "" {
					trace = func(sec int) {
						var parts []string
						for _, b := range ta.h.Snapshot().Services()[0].Backends {
							f, _ := b.Factors()
							parts = append(parts, fmt.Sprintf("%s load %.2f/%.2f share %.3f target %.3f", b.Name, f.Signals.Load, f.Smoothed.Load, f.Smoothed.Share, f.Smoothed.Target))
						}
						p.mu.Lock()
						row := p.answers[sec-1]
						p.mu.Unlock()
						t.Logf("%3d answers %v | %s", sec, row, strings.Join(parts, " | "))
					}
				}
				p.run(dur, trace)
				half := len(p.served) / 2
				// The ideal: the load actually delivered in the second half,
				// spread in proportion to capacity (a loaded machine may
				// deliver less than the demand; the table says how much).
				delivered, capTotal := 0.0, 0.0
				for _, row := range p.served[half:] {
					for _, v := range row {
						delivered += v
					}
				}
				delivered /= float64(len(p.served) - half)
				for _, b := range bs {
					capTotal += b.capacity
				}
				ideal := delivered / capTotal
				for i, b := range bs {
					share, n := p.shares(b.ip)
					h := len(share) / 2
					// Whole seconds only: the last one is cut short when
					// the run stops, and a bin of a few answers is no
					// measurement of a share.
					full := make([]float64, 0, len(share)-h)
					nm := 0.0
					for k := h; k < len(share); k++ {
						if n[k] >= 200 {
							full = append(full, share[k])
							nm += float64(n[k])
						}
					}
					nm /= float64(len(full))
					m, sd := meanSD(full)
					noise := math.Sqrt(m * (1 - m) / nm)
					util := 0.0
					for _, row := range p.served[half:] {
						util += row[b.ip] / b.capacity
					}
					util /= float64(len(p.served) - half)
					fmt.Printf("| %.0f %% (%.0f %% delivered) | %v | b%d (%.0f) | %.3f | %.4f | %.4f | %.2f | %.3f | %+.1f %% |\n", demand*100, 100*ideal, w, i, b.capacity, m, sd, noise, sd/noise, util, 100*(util-ideal)/ideal)
					if sd > 1.5*noise {
						t.Errorf("b%d: share sd %.4f is %.2f× the binomial noise %.4f", i, sd, sd/noise, noise)
					}
					if math.Abs(util-ideal)/ideal > 0.1 {
						t.Errorf("b%d: utilisation %.3f, ideal %.3f", i, util, ideal)
					}
					if math.Abs(ideal-demand)/demand > 0.05 {
						t.Errorf("the load generator delivered %.0f %% of capacity, asked for %.0f %%: the machine is too busy for this measurement", 100*ideal, 100*demand)
					}
				}
				if d := p.dropped.Load(); d > 0 {
					t.Logf("%d requests dropped by the load generator", d)
				}
			})
		}
	}
}

// TestSteeringEqualJitter: three equal backends whose probes take 5 ms ±
// 5 ms; fastest (adaptive without load would be too); 60 s: each gets an
// equal share within ±3 points.
func TestSteeringEqualJitter(t *testing.T) {
	bs := []*loadBackend{newLoadBackend(t, "192.0.2.1", 1000), newLoadBackend(t, "192.0.2.2", 1000), newLoadBackend(t, "192.0.2.3", 1000)}
	var lines []string
	for i, b := range bs {
		b.probeDelay.Store(int64(5 * time.Millisecond))
		b.jitter.Store(int64(5 * time.Millisecond))
		lines = append(lines, fmt.Sprintf(`  { name = "b%d", address = %q, check = %s },`, i, b.ip, strings.Replace(checkOf(b, time.Second), `, load_json = "load"`, "", 1)))
	}
	ta := steeringApp(t, fmt.Sprintf("[services.www]\nttl = 10\nmembers = \"fastest\"\nbackends = [\n%s\n]\n", strings.Join(lines, "\n")))
	p := &population{t: t, dnsAddr: ta.dns, name: "www.example.test.", window: time.Second, demand: 50, backends: map[string]*loadBackend{}}
	for _, b := range bs {
		p.backends[b.ip] = b
	}
	p.run(60*time.Second, nil)
	fmt.Printf("\n| backend | share over 60 s | answers |\n|---|---|---|\n")
	for i, b := range bs {
		total, mine := 0, 0
		for _, row := range p.answers {
			for ip, c := range row {
				total += c
				if ip == b.ip {
					mine += c
				}
			}
		}
		share := float64(mine) / float64(total)
		fmt.Printf("| b%d | %.3f | %d of %d |\n", i, share, mine, total)
		if math.Abs(share-1.0/3) > 0.03 {
			t.Errorf("b%d: share %.3f, want 1/3 ± 0.03", i, share)
		}
	}
}

// TestSteeringStep: one of three backends' probe latency +200 ms
// (fastest) or load pinned at 0.95 (shed), then restored; interval 2 s,
// TTL 5 s, cache window 1 s. Its share closes 80 % of the gap to its new
// level within 3 intervals, comes back within 5, and overshoots by at
// most 5 points.
func TestSteeringStep(t *testing.T) {
	const interval = 2 * time.Second
	fmt.Printf("\n| law | step | before | settled | after 3 intervals (closed) | 5 intervals after the restore | overshoot |\n|---|---|---|---|---|---|---|\n")
	for _, law := range []string{"fastest", "shed"} {
		t.Run(law, func(t *testing.T) {
			bs := []*loadBackend{newLoadBackend(t, "192.0.2.1", 1000), newLoadBackend(t, "192.0.2.2", 1000), newLoadBackend(t, "192.0.2.3", 1000)}
			var lines []string
			for i, b := range bs {
				b.probeDelay.Store(int64(5 * time.Millisecond))
				if law == "shed" {
					b.pinned.Store(math.Float64bits(0.5))
				}
				lines = append(lines, fmt.Sprintf(`  { name = "b%d", address = %q, check = %s },`, i, b.ip, checkOf(b, interval)))
			}
			ta := steeringApp(t, fmt.Sprintf("[services.www]\nttl = 5\nmembers = %q\nbackends = [\n%s\n]\n", law, strings.Join(lines, "\n")))
			p := &population{t: t, dnsAddr: ta.dns, name: "www.example.test.", window: time.Second, demand: 50, backends: map[string]*loadBackend{}}
			for _, b := range bs {
				p.backends[b.ip] = b
			}
			const on, off, end = 30, 60, 90
			p.run(end*time.Second, func(sec int) {
				switch sec {
				case on:
					if law == "fastest" {
						bs[0].probeDelay.Store(int64(205 * time.Millisecond))
					} else {
						bs[0].pinned.Store(math.Float64bits(0.95))
					}
				case off:
					if law == "fastest" {
						bs[0].probeDelay.Store(int64(5 * time.Millisecond))
					} else {
						bs[0].pinned.Store(math.Float64bits(0.5))
					}
				}
			})
			share, _ := p.shares(bs[0].ip)
			avg := func(from, to int) float64 { m, _ := meanSD(share[from:to]); return m }
			before := avg(on-15, on)
			settled := avg(off-10, off)
			k := 3 * int(interval/time.Second)
			at := avg(on+k-1, on+k+1) // the two seconds around 3 intervals
			closed := (before - at) / (before - settled)
			back := avg(off+5*int(interval/time.Second)-1, off+5*int(interval/time.Second)+1)
			// Per-second shares carry binomial noise (about 3 points at
			// 250 answers); the overshoot is judged on 3-second means.
			over3 := 0.0
			for s := off; s+3 <= off+20; s++ {
				over3 = max(over3, avg(s, s+3)-before)
			}
			step := "latency +200 ms"
			if law == "shed" {
				step = "load 0.5 → 0.95"
			}
			fmt.Printf("| %s | %s | %.3f | %.3f | %.3f (%.0f %%) | %.3f | %+.3f (3 s means) |\n", law, step, before, settled, at, 100*closed, back, over3)
			if closed < 0.8 {
				t.Errorf("after 3 intervals %.0f %% of the gap is closed", 100*closed)
			}
			if math.Abs(back-before) > 0.2*math.Abs(before-settled) {
				t.Errorf("5 intervals after the restore: %.3f, before %.3f", back, before)
			}
			if over3 > 0.05 {
				t.Errorf("overshoot %.3f", over3)
			}
		})
	}
}

// TestSteeringSlowStart: a weighted service of three; one is drained and
// returns with slow start (window 30 s, 10 %, aggression 1). In every
// second its observed answer share stays within 3σ (binomial) of the
// share the ramp gives it.
func TestSteeringSlowStart(t *testing.T) {
	bs := []*loadBackend{newLoadBackend(t, "192.0.2.1", 1000), newLoadBackend(t, "192.0.2.2", 1000), newLoadBackend(t, "192.0.2.3", 1000)}
	var lines []string
	for i, b := range bs {
		lines = append(lines, fmt.Sprintf(`  { name = "b%d", address = %q, check = %s },`, i, b.ip, checkOf(b, time.Second)))
	}
	ta := steeringApp(t, fmt.Sprintf("[services.www]\nttl = 10\nmembers = \"weighted\"\nslow_start = { window = \"30s\", min_weight_percent = 10, aggression = 1 }\nbackends = [\n%s\n]\n", strings.Join(lines, "\n")))
	id := "www.example.test/b0"
	p := &population{t: t, dnsAddr: ta.dns, name: "www.example.test.", window: time.Second, demand: 50, backends: map[string]*loadBackend{}}
	for _, b := range bs {
		p.backends[b.ip] = b
	}
	// The weight gslb gives b0 each second, read from the running server.
	weights := map[int][3]float64{}
	var wmu sync.Mutex
	const drain, back = 40, 45
	p.run(90*time.Second, func(sec int) {
		switch sec {
		case drain:
			if err := ta.admin.Set(id, &health.Override{State: health.AdminDrain}, "test"); err != nil {
				t.Error(err)
			}
		case back:
			ta.admin.Set(id, nil, "test")
		}
		var w [3]float64
		for i, b := range ta.h.Snapshot().Services()[0].Backends {
			if b.Serving() {
				w[i] = b.EffectiveWeight()
			}
		}
		wmu.Lock()
		weights[sec] = w
		wmu.Unlock()
	})
	share, n := p.shares(bs[0].ip)
	worst := 0.0
	fmt.Printf("\n| second after the return | ramp share | observed | answers | z |\n|---|---|---|---|---|\n")
	for s := back + 1; s < back+35 && s < len(share); s++ {
		// The weights that applied during second s (sampled at its end
		// and at the end of the one before: the step runs once a second).
		if n[s] < 100 {
			fmt.Printf("| %d | | | %d | (too few answers in this second) |\n", s-back, n[s])
			continue
		}
		w0, w1 := weights[s], weights[s+1]
		exp := 0.0
		for _, w := range [][3]float64{w0, w1} {
			exp += w[0] / (w[0] + w[1] + w[2]) / 2
		}
		sigma := math.Sqrt(exp * (1 - exp) / float64(n[s]))
		z := (share[s] - exp) / sigma
		worst = max(worst, math.Abs(z))
		fmt.Printf("| %d | %.3f | %.3f | %d | %+.2f |\n", s-back, exp, share[s], n[s], z)
		if math.Abs(z) > 3 {
			t.Errorf("second %d after the return: share %.3f, ramp %.3f (%.1fσ)", s-back, share[s], exp, z)
		}
	}
	t.Logf("worst deviation %.2fσ", worst)
}
