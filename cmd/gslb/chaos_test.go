//go:build chaos

package main

// The chaos suite: a steady stream of queries over real sockets while
// backends die and come back, the configuration is reloaded 100 times
// (valid and invalid alternately), the GeoIP database is replaced, and junk
// arrives beside the normal traffic. Run it with
//
//	go test -tags chaos -run Chaos -v ./cmd/gslb
//
// .ci/run does. It prints its figures.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/geo/geotest"
	"github.com/miekg/dns"
)

// load sends queries from several goroutines until stopped and checks
// every reply.
type load struct {
	sent, answered, failed atomic.Int64
	mu                     sync.Mutex
	failures               []string
	// seen is called with every answer's addresses and when it came.
	seen func(addrs []string, at time.Time)
}

func (l *load) fail(format string, args ...any) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
	l.mu.Unlock()
}

// run sends queries for names (cycled) to addr with a per-goroutine rate.
func (l *load) run(ctx context.Context, wg *sync.WaitGroup, addr string, workers, perSecond int, names []string) {
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: time.Second, UDPSize: 4096}
			conn, err := c.Dial(addr)
			if err != nil {
				l.fail("dial: %v", err)
				return
			}
			defer conn.Close()
			tick := time.NewTicker(time.Second / time.Duration(perSecond))
			defer tick.Stop()
			for i := w; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				m := new(dns.Msg)
				m.SetQuestion(names[i%len(names)], dns.TypeA)
				m.SetEdns0(1232, false)
				l.sent.Add(1)
				r, _, err := c.ExchangeWithConn(m, conn)
				if err != nil {
					l.fail("%s: %v", names[i%len(names)], err)
					continue
				}
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
					l.fail("%s: rcode %s, %d answers", names[i%len(names)], dns.RcodeToString[r.Rcode], len(r.Answer))
					continue
				}
				l.answered.Add(1)
				if l.seen != nil {
					var addrs []string
					for _, rr := range r.Answer {
						if a, ok := rr.(*dns.A); ok {
							addrs = append(addrs, a.A.String())
						}
					}
					l.seen(addrs, time.Now())
				}
			}
		}()
	}
}

func (l *load) report(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %d queries sent, %d answered, %d failed", what, l.sent.Load(), l.answered.Load(), l.failed.Load())
	if l.failed.Load() > 0 {
		t.Errorf("%s: %d queries failed, e.g.:\n%s", what, l.failed.Load(), strings.Join(l.failures, "\n"))
	}
}

const chaosInterval, chaosTimeout, chaosFall = 200 * time.Millisecond, 100 * time.Millisecond, 2

func TestChaos(t *testing.T) {
	start := time.Now()
	geoDir := t.TempDir()
	geoFile := filepath.Join(geoDir, "city.mmdb")
	geotest.CopyFile(t, "../../testdata/geoip/GeoIP2-City-Test.mmdb", geoFile)
	var backends []*backend
	var lines []string
	for i := range 3 {
		b := newBackend(t)
		backends = append(backends, b)
		lines = append(lines, fmt.Sprintf(`  { name = "b%d", address = "192.0.2.%d", check = { type = "http", address = %q, interval = "200ms", timeout = "100ms", rise = 2, fall = %d } },`, i, i+1, b.addr, chaosFall))
	}
	services := `[services.www]
ttl = 30
members = "all"
when_all_down = "nodata"
backends = [
` + strings.Join(lines, "\n") + `
]
[services.geo]
policy = "geo"
members = "all"
backends = [{ name = "eu", address = "198.51.100.1" }, { name = "as", address = "198.51.100.2" }, { name = "other", address = "198.51.100.3" }]
pools = [{ name = "eu", backends = ["eu"] }, { name = "as", backends = ["as"] }, { name = "other", backends = ["other"] }]
[services.geo.geo]
default = ["other"]
continent = { EU = ["eu"], AS = ["as"] }
`
	conf := healthConfig(t, services, fmt.Sprintf("[geo]\ndatabase = %q\n", geoFile))
	zoneFile := filepath.Join(filepath.Dir(conf), "zones", "example.test.toml")
	ta := startApp(t, conf, "")
	waitFor(t, "the first probes", 3*time.Second, func() bool { return ta.notReady() == "" })
	names := []string{"www.example.test.", "geo.example.test.", "www.example.test."}

	t.Run("kill and restore backends", func(t *testing.T) {
		var killedMu sync.Mutex
		killed := map[string]time.Time{} // address -> when its backend died
		var worst time.Duration
		l := &load{seen: func(addrs []string, at time.Time) {
			killedMu.Lock()
			defer killedMu.Unlock()
			for _, a := range addrs {
				if k, ok := killed[a]; ok && at.After(k) {
					worst = max(worst, at.Sub(k))
				}
			}
		}}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		l.run(ctx, &wg, ta.dns, 4, 500, names)
		for range 2 {
			for i, b := range backends[:2] { // keep b2 alive: never all down
				addr := fmt.Sprintf("192.0.2.%d", i+1)
				killedMu.Lock()
				killed[addr] = time.Now()
				killedMu.Unlock()
				b.kill()
				time.Sleep(1200 * time.Millisecond)
				b.restore()
				killedMu.Lock()
				delete(killed, addr)
				killedMu.Unlock()
				time.Sleep(800 * time.Millisecond)
			}
		}
		cancel()
		wg.Wait()
		bound := chaosFall*chaosInterval + chaosTimeout
		l.report(t, "kill/restore")
		t.Logf("kill/restore: worst staleness after a backend died: %v (bound fall×interval+timeout = %v)", worst.Round(time.Millisecond), bound)
		if worst > bound+chaosInterval/2 {
			t.Errorf("a dead backend was answered %v after it died; bound %v", worst, bound)
		}
	})

	t.Run("100 reloads, valid and invalid alternately", func(t *testing.T) {
		l := &load{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		l.run(ctx, &wg, ta.dns, 4, 500, names)
		orig, _ := os.ReadFile(zoneFile)
		ttl := 30
		for i := range 100 {
			var text string
			if i%2 == 0 {
				ttl = 31 + i%7
				text = strings.Replace(string(orig), "ttl = 30", fmt.Sprintf("ttl = %d", ttl), 1)
			} else {
				text = strings.Replace(string(orig), `address = "198.51.100.1"`, `address = "198.51.100.999"`, 1)
			}
			if err := os.WriteFile(zoneFile, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			ta.reload("chaos")
			time.Sleep(30 * time.Millisecond) // let the load run across the reloads
			r := query(t, ta.dns, "www.example.test.", dns.TypeA)
			if len(r.Answer) == 0 || int(r.Answer[0].Header().Ttl) != ttl {
				t.Fatalf("reload %d (valid %v): TTL %v, want %d: an invalid configuration changed something", i, i%2 == 0, r.Answer, ttl)
			}
		}
		cancel()
		wg.Wait()
		os.WriteFile(zoneFile, orig, 0o644)
		ta.reload("chaos")
		l.report(t, "100 reloads")
	})

	t.Run("GeoIP database replaced mid-stream", func(t *testing.T) {
		l := &load{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		l.run(ctx, &wg, ta.dns, 4, 500, []string{"geo.example.test."})
		before := ta.geo.Reloads()
		for i := range 5 {
			src := "../../testdata/geoip/GeoLite2-City-Test.mmdb"
			if i%2 == 1 {
				src = "../../testdata/geoip/GeoIP2-City-Test.mmdb"
			}
			geotest.CopyFile(t, src, geoFile+".new")
			os.Rename(geoFile+".new", geoFile)  // as geoipupdate does
			time.Sleep(1300 * time.Millisecond) // past the watcher's 1 s debounce
		}
		waitFor(t, "the database reloads", 5*time.Second, func() bool { return ta.geo.Reloads() >= before+5 })
		cancel()
		wg.Wait()
		l.report(t, "GeoIP replaced")
		t.Logf("GeoIP replaced: %d reloads seen by the watcher", ta.geo.Reloads()-before)
	})

	t.Run("junk beside the load", func(t *testing.T) {
		l := &load{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		l.run(ctx, &wg, ta.dns, 4, 500, names)
		var junkSent atomic.Int64
		// Random packets.
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("udp", ta.dns)
			if err != nil {
				return
			}
			defer c.Close()
			r := rand.New(rand.NewPCG(1, 2))
			buf := make([]byte, 600)
			for ctx.Err() == nil {
				n := r.IntN(len(buf))
				for i := range n {
					buf[i] = byte(r.Uint32())
				}
				c.Write(buf[:n])
				junkSent.Add(1)
				time.Sleep(200 * time.Microsecond)
			}
		}()
		// Oversized length prefixes and slow half-open TCP connections.
		var held []net.Conn
		for i := range 40 {
			c, err := net.Dial("tcp", ta.dns)
			if err != nil {
				continue
			}
			if i%2 == 0 {
				c.Write([]byte{0xff, 0xff, 0, 1, 2}) // claims 65,535 bytes, sends 3
			} else {
				c.Write([]byte{0}) // half a length prefix, then nothing
			}
			held = append(held, c)
		}
		time.Sleep(3 * time.Second)
		// A normal TCP query is still answered beside them.
		m := new(dns.Msg)
		m.SetQuestion("www.example.test.", dns.TypeA)
		if r, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(m, ta.dns); err != nil || len(r.Answer) == 0 {
			t.Errorf("TCP query beside 40 stalled connections: %v %v", r, err)
		}
		cancel()
		wg.Wait()
		for _, c := range held {
			c.Close()
		}
		l.report(t, "junk")
		t.Logf("junk: %d random packets and 40 stalled TCP connections beside the load", junkSent.Load())
	})
	t.Logf("chaos suite took %v", time.Since(start).Round(time.Second))
}
