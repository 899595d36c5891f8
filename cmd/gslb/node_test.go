package main

// The Node.js end-to-end of docs/steering.md: three instances of the
// service in examples/node with capacities 2:2:1, the gslb binary in
// front reading their metrics, and a load generator that resolves the
// service through gslb, keeps each answer for its TTL and sends an
// open-loop load. CI runs least_load and roundrobin at 90 %
// (TestNodeEndToEnd, about 3 minutes); the full table, every policy at
// 60/90/110 %, is
//
//	GSLB_NODE_TABLE=1 go test -run TestNodeTable -v -timeout 60m ./cmd/gslb
//
// (GSLB_NODE_CELLS=weighted:0.9,least_load:0.9 for some cells only).
//
// It needs `npm ci` in examples/node (.ci/run does it).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// nodeCapacities are the instances' capacities in requests per second;
// each burns a tenth of its service time as CPU, so the three use at
// most 0.3 of a core together.
var nodeCapacities = []float64{40, 40, 20}

const nodeCPUShare = 0.1

// nodeInstance is one running examples/node server.
type nodeInstance struct {
	ip       string // the address gslb answers for it
	port     string
	capacity float64
	cmd      *exec.Cmd
}

func nodeDir(t *testing.T) string {
	dir, err := filepath.Abs("../../examples/node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "prom-client")); err != nil {
		if os.Getenv("GSLB_CI") != "" {
			t.Fatalf("examples/node has no node_modules: .ci/run must run npm ci there")
		}
		t.Skip("examples/node has no node_modules: run npm ci there")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	return dir
}

func startNode(t *testing.T, dir, ip string, capacity float64) *nodeInstance {
	t.Helper()
	n := &nodeInstance{ip: ip, capacity: capacity}
	n.cmd = exec.Command("node", "server.js", "--port", "0", "--capacity", fmt.Sprint(capacity),
		"--cpu-share", fmt.Sprint(nodeCPUShare), "--max-queue", "100")
	n.cmd.Dir = dir
	out, _ := n.cmd.StdoutPipe()
	n.cmd.Stderr = nil
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-done
		}
	})
	re := regexp.MustCompile(`^listening 127\.0\.0\.1:(\d+) `)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[1]
			}
		}
	}()
	select {
	case n.port = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("node server.js did not start")
	}
	return n
}

// nodeResult is what one backend saw in a cell.
type nodeResult struct {
	util     float64 // mean utilisation: served per second / capacity
	share    float64 // of the requests sent
	p50, p99 time.Duration
	errRate  float64
	requests int
}

// nodeCell runs one policy at one load for dur and reports per backend
// and over all requests (index len(nodes)), measured after warm.
func nodeCell(t *testing.T, dir, members string, load float64, dur, warm time.Duration) []nodeResult {
	t.Helper()
	var nodes []*nodeInstance
	var lines []string
	total := 0.0
	for i, c := range nodeCapacities {
		n := startNode(t, dir, fmt.Sprintf("192.0.2.%d", i+1), c)
		nodes = append(nodes, n)
		total += c
		// GSLB_NODE_EQUAL=1: equal weights, so that a law must find the
		// capacities itself.
		w := c / 20
		if os.Getenv("GSLB_NODE_EQUAL") != "" {
			w = 1
		}
		lines = append(lines, fmt.Sprintf(`  { name = "n%d", address = %q, weight = %g, check = { type = "http", address = "127.0.0.1:%s", path = "/healthz", interval = "1s", timeout = "500ms" }, metrics = { address = "127.0.0.1:%s" } },`, i, n.ip, w, n.port, n.port))
	}
	zone := fmt.Sprintf(`origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
[services.api]
ttl = 5
members = %q
metrics = { interval = "1s", utilization = "app_utilization", requests = "app_requests_total{code=\"200\"}", latency = "app_request_duration_seconds" }
%s
backends = [
%s
]
`, members, os.Getenv("GSLB_NODE_SERVICE"), strings.Join(lines, "\n"))
	cdir := writeFiles(t, map[string]string{
		"gslb.toml":               "zones = [\"zones\"]\n[server]\ndns = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n",
		"zones/example.test.toml": zone,
	})
	s := startGSLB(t, "-config", filepath.Join(cdir, "gslb.toml"))
	if os.Getenv("GSLB_NODE_TRACE") != "" {
		stop := make(chan struct{})
		defer close(stop)
		go traceLaw(s.http, stop)
	}
	return driveNode(t, s.addr, nodes, load*total, dur, warm)
}

// traceLaw prints, every 5 s, each backend's law state as the API shows
// it: the signal it read, its smoothed value, the share and the target.
func traceLaw(base string, stop <-chan struct{}) {
	start := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
		if el := time.Since(start); el > 15*time.Second && int(el.Seconds())%5 != 0 {
			continue // every second for 15 s, then every 5 s
		}
		resp, err := http.Get(base + "/api/v1/backends")
		if err != nil {
			continue
		}
		var v struct {
			Backends []struct {
				Name     string
				Steering *struct {
					Load          *float64 `json:"load"`
					SmoothedLoad  *float64 `json:"smoothed_load"`
					Share, Target float64
					Ramp          float64
				}
			}
		}
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		line := fmt.Sprintf("law %3.0fs", time.Since(start).Seconds())
		for _, b := range v.Backends {
			if st := b.Steering; st != nil {
				f := func(p *float64) float64 {
					if p == nil {
						return -1
					}
					return *p
				}
				line += fmt.Sprintf("  %s load %.2f avg %.2f share %.3f target %.3f ramp %.2f", b.Name, f(st.Load), f(st.SmoothedLoad), st.Share, st.Target, st.Ramp)
			}
		}
		fmt.Println(line)
	}
}

// driveNode is the load generator: clients resolve api.example.test.
// through gslb, keep the answer for its TTL, and send requests at rate
// (Poisson arrivals, open loop) to their backend.
func driveNode(t *testing.T, dnsAddr string, nodes []*nodeInstance, rate float64, dur, warm time.Duration) []nodeResult {
	byIP := map[string]*nodeInstance{}
	for _, n := range nodes {
		byIP[n.ip] = n
	}
	type cl struct {
		mu      sync.Mutex
		ip      string
		expires time.Time
	}
	clients := make([]*cl, 500)
	for i := range clients {
		clients[i] = &cl{}
	}
	dc := &dns.Client{Timeout: time.Second}
	resolve := func(c *cl, now time.Time) string {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ip != "" && now.Before(c.expires) {
			return c.ip
		}
		m := new(dns.Msg)
		m.SetQuestion("api.example.test.", dns.TypeA)
		r, _, err := dc.Exchange(m, dnsAddr)
		if err != nil || len(r.Answer) == 0 {
			return c.ip
		}
		a := r.Answer[0].(*dns.A)
		c.ip, c.expires = a.A.String(), now.Add(time.Duration(a.Hdr.Ttl)*time.Second)
		return c.ip
	}
	type sample struct {
		ip  string
		lat time.Duration
		ok  bool
		at  time.Duration
	}
	var mu sync.Mutex
	var samples []sample
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	start := time.Now()
	var wg sync.WaitGroup
	var inflight atomic.Int64
	for next := time.Duration(0); next < dur; next += time.Duration(rand.ExpFloat64() / rate * float64(time.Second)) {
		time.Sleep(time.Until(start.Add(next)))
		c := clients[rand.IntN(len(clients))]
		wg.Add(1)
		inflight.Add(1)
		go func(at time.Duration) {
			defer wg.Done()
			defer inflight.Add(-1)
			ip := resolve(c, time.Now())
			n := byIP[ip]
			if n == nil {
				mu.Lock()
				samples = append(samples, sample{ip: "", ok: false, at: at})
				mu.Unlock()
				return
			}
			t0 := time.Now()
			resp, err := hc.Get("http://127.0.0.1:" + n.port + "/work")
			ok := err == nil && resp.StatusCode == 200
			if err == nil {
				resp.Body.Close()
			}
			mu.Lock()
			samples = append(samples, sample{ip: ip, lat: time.Since(t0), ok: ok, at: at})
			mu.Unlock()
		}(next)
	}
	wg.Wait()
	hc.CloseIdleConnections()
	if os.Getenv("GSLB_NODE_TRACE") != "" {
		// Per 5 s of the run: each backend's share of the requests sent
		// and the slowest of them.
		const bucket = 5 * time.Second
		for b := time.Duration(0); b < dur; b += bucket {
			line := fmt.Sprintf("trace %3.0fs", b.Seconds())
			total := 0
			for _, s := range samples {
				if s.at >= b && s.at < b+bucket {
					total++
				}
			}
			for _, n := range nodes {
				cnt, slowest := 0, time.Duration(0)
				for _, s := range samples {
					if s.at >= b && s.at < b+bucket && s.ip == n.ip {
						cnt++
						slowest = max(slowest, s.lat)
					}
				}
				line += fmt.Sprintf("  %s %.2f %6v", n.ip, float64(cnt)/float64(max(total, 1)), slowest.Round(10*time.Millisecond))
			}
			fmt.Println(line)
		}
	}
	span := (dur - warm).Seconds()
	out := make([]nodeResult, len(nodes)+1)
	counted := 0
	lat := make([][]time.Duration, len(nodes)+1)
	errs := make([]int, len(nodes)+1)
	okN := make([]int, len(nodes)+1)
	all := len(nodes)
	for _, s := range samples {
		if s.at < warm {
			continue
		}
		counted++
		idx := -1
		for i, n := range nodes {
			if n.ip == s.ip {
				idx = i
			}
		}
		for _, k := range []int{idx, all} {
			if k < 0 {
				continue
			}
			lat[k] = append(lat[k], s.lat)
			if s.ok {
				okN[k]++
			} else {
				errs[k]++
			}
		}
	}
	for k := range out {
		out[k].requests = len(lat[k])
		if len(lat[k]) == 0 {
			continue
		}
		sort.Slice(lat[k], func(i, j int) bool { return lat[k][i] < lat[k][j] })
		out[k].p50 = lat[k][len(lat[k])/2]
		out[k].p99 = lat[k][len(lat[k])*99/100]
		out[k].errRate = float64(errs[k]) / float64(len(lat[k]))
		out[k].share = float64(len(lat[k])) / float64(counted)
		if k < len(nodes) {
			out[k].util = float64(okN[k]) / span / nodes[k].capacity
		}
	}
	return out
}

func printNodeRows(members string, load float64, r []nodeResult) {
	for i := range nodeCapacities {
		fmt.Printf("| %s | %.0f %% | n%d (%.0f rps) | %.3f | %.2f | %v | %v | %.2f %% |\n", members, load*100, i, nodeCapacities[i], r[i].share, r[i].util,
			r[i].p50.Round(time.Millisecond), r[i].p99.Round(time.Millisecond), 100*r[i].errRate)
	}
	a := r[len(r)-1]
	fmt.Printf("| %s | %.0f %% | **all** | | | %v | **%v** | **%.2f %%** |\n", members, load*100, a.p50.Round(time.Millisecond), a.p99.Round(time.Millisecond), 100*a.errRate)
}

const nodeTableHeader = "| members | load | backend | share | utilisation | p50 | p99 | errors |\n|---|---|---|---|---|---|---|---|\n"

// TestNodeEndToEnd: at 90 % of total capacity, least_load keeps request
// p99 far below roundrobin's (whose small backend saturates) with no
// errors. 90 s per policy, the first 30 s left out.
func TestNodeEndToEnd(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a measurement: not with -short or the race detector")
	}
	dir := nodeDir(t)
	fmt.Print(nodeTableHeader)
	rr := nodeCell(t, dir, "roundrobin", 0.9, 90*time.Second, 30*time.Second)
	printNodeRows("roundrobin", 0.9, rr)
	b := rr[len(rr)-1]
	// least_load's p99 at 90 % is not steady from run to run, whatever
	// the law (an M/D/1 tail at utilisation 0.9 moves steeply with the
	// few points of share each cache window hands a backend at random:
	// docs/steering.md gives 0.67 to 1.69 s for least_load and 0.58 to
	// 1.88 s for static weights), and CI's other packages share the
	// machine: a cell that misses gets one more run, and both are printed.
	var ll []nodeResult
	for try := 1; try <= 2; try++ {
		ll = nodeCell(t, dir, "least_load", 0.9, 90*time.Second, 30*time.Second)
		printNodeRows("least_load", 0.9, ll)
		a := ll[len(ll)-1]
		if a.errRate == 0 && a.p99 <= b.p99/2 {
			break
		}
		t.Logf("least_load run %d: p99 %v (roundrobin %v), errors %.2f %%; running it once more", try, a.p99, b.p99, 100*a.errRate)
	}
	a := ll[len(ll)-1]
	if a.errRate != 0 {
		t.Errorf("least_load: error rate %.2f %%, want 0", 100*a.errRate)
	}
	if a.p99 > b.p99/2 {
		t.Errorf("least_load p99 %v is not far below roundrobin's %v", a.p99, b.p99)
	}
	if ll[2].util > 1 || math.Abs(ll[2].share-0.2) > 0.05 {
		t.Errorf("least_load: the small backend got %.3f of the requests at utilisation %.2f, want about 0.2", ll[2].share, ll[2].util)
	}
}

// TestNodeTable prints the full table: every policy at 60, 90 and 110 %.
func TestNodeTable(t *testing.T) {
	if os.Getenv("GSLB_NODE_TABLE") == "" {
		t.Skip("set GSLB_NODE_TABLE=1 (about 30 minutes)")
	}
	dir := nodeDir(t)
	fmt.Print(nodeTableHeader)
	// GSLB_NODE_CELLS=weighted:0.9,least_load:0.9 runs those cells only.
	type cell struct {
		members string
		load    float64
	}
	var cells []cell
	if v := os.Getenv("GSLB_NODE_CELLS"); v != "" {
		for _, c := range strings.Split(v, ",") {
			m, l, _ := strings.Cut(c, ":")
			var load float64
			fmt.Sscan(l, &load)
			cells = append(cells, cell{m, load})
		}
	} else {
		for _, load := range []float64{0.6, 0.9, 1.1} {
			for _, m := range []string{"roundrobin", "weighted", "least_load", "fastest", "shed", "adaptive"} {
				cells = append(cells, cell{m, load})
			}
		}
	}
	for _, c := range cells {
		r := nodeCell(t, dir, c.members, c.load, 90*time.Second, 30*time.Second)
		printNodeRows(c.members, c.load, r)
	}
}
