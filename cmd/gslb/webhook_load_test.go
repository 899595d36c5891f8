package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestWebhookQueryLatency measures the DNS latency at 2,000 queries/s
// while scale events stream to a webhook receiver that works, is down
// (connection refused) or is slow (answers after 30 s, past the 5 s
// timeout), five runs of each, interleaved, each round in another
// order. By hand (about 5 minutes):
//
//	GSLB_WEBHOOK_P99=1 go test -run TestWebhookQueryLatency -v ./cmd/gslb/
//
// docs/registration.md has the figures.
func TestWebhookQueryLatency(t *testing.T) {
	if os.Getenv("GSLB_WEBHOOK_P99") == "" {
		t.Skip("a measurement: GSLB_WEBHOOK_P99=1 runs it")
	}
	const (
		services = 40
		rate     = 2000
		runFor   = 12 * time.Second
		rounds   = 5
	)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(30 * time.Second):
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	receivers := []struct{ name, url string }{{"working", ok.URL}, {"down", down}, {"slow", slow.URL}}
	type result struct {
		p50, p99, p999 time.Duration
		lost, sent     int
		deliveries     string
		cpu            time.Duration // gslb's CPU time over the measured window
	}
	results := map[string][]result{}
	for round := range rounds {
		// Each round in another order, so that no receiver always comes
		// after another.
		for k := range receivers {
			rc := receivers[(round+k)%len(receivers)]
			runtime.GC()
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "token"), regAdmin+"\n", 0o600)
			writeFile(t, filepath.Join(dir, "webhook.secret"), "webhook-load-secret-0123456789\n", 0o600)
			var zone strings.Builder
			zone.WriteString("origin = \"example.test.\"\nns = [\"ns1\"]\n[soa]\nrname = \"hostmaster\"\n[records]\nns1 = { A = \"127.0.0.1\" }\n")
			for i := range services {
				fmt.Fprintf(&zone, "[services.s%d]\nttl = 5\nmembers = \"weighted\"\nscale = { low = 0.5, high = 0.75, min = 1, max = 4, cooldown = \"1s\", stabilization = \"1s\", warmup = \"100ms\", webhooks = [%q] }\nbackends = [{ name = \"b\", address = \"192.0.2.%d\" }]\n", i, rc.url+"/scale", i+1)
			}
			writeFile(t, filepath.Join(dir, "zones", "example.test.toml"), zone.String(), 0o644)
			writeFile(t, filepath.Join(dir, "gslb.toml"), "zones = [\"zones\"]\n[server]\ndns = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n[admin]\ntoken_file = \"token\"\n[webhooks]\nsecret_file = \"webhook.secret\"\n", 0o644)
			l := &regLab{dir: dir, config: filepath.Join(dir, "gslb.toml")}
			l.s = startGSLB(t, "-config", l.config)
			// Every service's load swings across the band every 1.5 s:
			// a scale event per service and cooldown.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				high := true
				for {
					u := 0.05
					if high {
						u = 0.95
					}
					for i := range services {
						l.do(t, "POST", fmt.Sprintf("/api/v1/backends/s%d.example.test/b/report", i), regAdmin, fmt.Sprintf(`{"utilization": %g, "ttl": "60s"}`, u))
					}
					high = !high
					select {
					case <-stop:
						return
					case <-time.After(1500 * time.Millisecond):
					}
				}
			}()
			time.Sleep(3 * time.Second) // the events and their retries under way
			cpu0 := procCPU(t, l.s.cmd.Process.Pid)
			lat, lost, sent := paceQueries(t, l.s.addr, services, rate, runFor)
			cpu := procCPU(t, l.s.cmd.Process.Pid) - cpu0
			close(stop)
			wg.Wait()
			_, metrics := l.do(t, "GET", "/metrics", "", "")
			var dl []string
			for _, m := range regexp.MustCompile(`(?m)^gslb_webhook_deliveries_total\{result="(\w+)"\} (\d+)`).FindAllStringSubmatch(metrics, -1) {
				dl = append(dl, m[1]+" "+m[2])
			}
			l.s.cmd.Process.Kill()
			l.s.cmd.Wait()
			slices.Sort(lat)
			r := result{p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], p999: lat[len(lat)*999/1000], lost: lost, sent: sent, deliveries: strings.Join(dl, ", "), cpu: cpu}
			results[rc.name] = append(results[rc.name], r)
			fmt.Printf("webhook load: round %d, receiver %s: %d queries, %d lost, p50 %v p99 %v p99.9 %v; gslb CPU %v; deliveries %s\n", round+1, rc.name, sent, lost, r.p50, r.p99, r.p999, r.cpu, r.deliveries)
		}
	}
	median := func(rs []result, f func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	base := median(results["working"], func(r result) time.Duration { return r.p99 })
	fmt.Printf("| receiver | p99 per run | median p99 | vs working | gslb CPU per run (median) | lost queries |\n|---|---|---|---|---|---|\n")
	for _, rc := range receivers {
		var per []string
		lost := 0
		for _, r := range results[rc.name] {
			per = append(per, r.p99.Round(time.Microsecond).String())
			lost += r.lost
		}
		m := median(results[rc.name], func(r result) time.Duration { return r.p99 })
		cpu := median(results[rc.name], func(r result) time.Duration { return r.cpu })
		fmt.Printf("| %s | %s | %v | %+.1f %% | %v | %d |\n", rc.name, strings.Join(per, ", "), m.Round(time.Microsecond), 100*(float64(m)/float64(base)-1), cpu.Round(time.Millisecond), lost)
		if rc.name != "working" && float64(m) > 1.1*float64(base) {
			t.Errorf("receiver %s: median p99 %v, more than 10 %% above the working receiver's %v", rc.name, m, base)
		}
	}
}

// procCPU is the CPU time (user and system) process pid has used.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ 100
}

// paceQueries sends rate A queries a second for d to addr, spread over
// the names s0…s(names-1).example.test, from 8 sockets, and returns the
// latency of each answered query, how many were lost (no answer within
// a second) and how many were sent.
func paceQueries(t *testing.T, addr string, names, rate int, d time.Duration) ([]time.Duration, int, int) {
	t.Helper()
	const socks = 8
	type pending struct {
		mu   sync.Mutex
		sent map[uint16]time.Time
	}
	conns := make([]*net.UDPConn, socks)
	pend := make([]*pending, socks)
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for i := range socks {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i], pend[i] = c, &pending{sent: map[uint16]time.Time{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				at := time.Now()
				if n < 2 {
					continue
				}
				id := uint16(buf[0])<<8 | uint16(buf[1])
				p := pend[i]
				p.mu.Lock()
				s, ok := p.sent[id]
				delete(p.sent, id)
				p.mu.Unlock()
				if ok {
					mu.Lock()
					lat = append(lat, at.Sub(s))
					mu.Unlock()
				}
			}
		}()
	}
	wires := make([][]byte, names)
	for i := range names {
		m := new(dns.Msg)
		m.SetQuestion("s"+strconv.Itoa(i)+".example.test.", dns.TypeA)
		wires[i], _ = m.Pack()
	}
	start := time.Now()
	sent := 0
	var id uint16
	for time.Since(start) < d {
		due := int(time.Since(start).Seconds() * float64(rate))
		for ; sent < due; sent++ {
			id++
			k := sent % socks
			w := slices.Clone(wires[sent%names])
			w[0], w[1] = byte(id>>8), byte(id)
			p := pend[k]
			p.mu.Lock()
			p.sent[id] = time.Now()
			p.mu.Unlock()
			conns[k].Write(w)
		}
		time.Sleep(500 * time.Microsecond)
	}
	time.Sleep(time.Second)
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	lost := 0
	for _, p := range pend {
		lost += len(p.sent)
	}
	for range lost { // a lost query is as slow as the wait for it
		lat = append(lat, time.Second)
	}
	return lat, lost, sent
}
