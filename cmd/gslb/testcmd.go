package main

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gslb/gslb/cmd/gslb/internal/web"
	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/safefile"
	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/steer"
	"github.com/miekg/dns"
)

// testOpts are the flags of gslb test.
type testOpts struct {
	config, junit *string
	verbose       *bool
	run           *string
}

func testCommand() *command {
	return &command{
		name:    "test",
		args:    "TESTFILE...",
		summary: "run declarative policy tests offline: questions, injected health and load, expected answers",
		help: "Run the cases of each TESTFILE (TOML, kept beside the zones) against the\n" +
			"configuration, offline, through the same decision code as serve: a\n" +
			"question (name, type, client, client subnet), injected state (health,\n" +
			"admin overrides, load, latency, errors, time in service) and expectations\n" +
			"(rcode or NODATA, the answer set, count, TTL, ECS scope, answer shares over\n" +
			"many seeded draws within a tolerance). Output is like go test: a line per\n" +
			"failing case with what differs, and a summary; -junit writes JUnit XML.\n" +
			"The format is in docs/tools.md.",
		exit:  "0  every case passed\n1  a case failed, or the configuration does not load\n2  bad command line or test file",
		words: []string{"files"},
		flags: func(fs *flag.FlagSet) any {
			return &testOpts{
				config:  configFlag(fs),
				junit:   fs.String("junit", "", "also write the results as JUnit XML to `FILE`"),
				verbose: fs.Bool("v", false, "print every case, passed or not, and the explanation of failed ones"),
				run:     fs.String("run", "", "run only the cases whose name contains `TEXT`"),
			}
		},
		run: func(e *env, o any, args []string) int { return testCmd(e, o.(*testOpts), args) },
	}
}

// testFile is a file of policy tests.
type testFile struct {
	// Seed makes the draws of statistical cases repeatable (default 1).
	Seed  uint64     `toml:"seed"`
	Cases []testCase `toml:"case"`
}

// testCase is one question with its injected state and expectations.
type testCase struct {
	Name   string `toml:"name"`
	Query  string `toml:"query"`
	Type   string `toml:"type"`
	Client string `toml:"client"`
	ECS    string `toml:"ecs"`
	// Injected state, by backend: a name, SERVICE/NAME or an ID.
	Health  map[string]string  `toml:"health"` // up, down, pending
	Admin   map[string]string  `toml:"admin"`  // drain, down, up
	Load    map[string]float64 `toml:"load"`
	Latency map[string]string  `toml:"latency"` // durations
	Errors  map[string]float64 `toml:"errors"`  // 0..1
	UpFor   map[string]string  `toml:"up_for"`  // in service this long
	// After is how long the control law and slow start run before the
	// question (default 60s for steered services).
	After  string     `toml:"after"`
	Seed   uint64     `toml:"seed"`
	Expect testExpect `toml:"expect"`

	file  string
	index int
}

// testExpect is what a case expects of the answer.
type testExpect struct {
	Rcode    string   `toml:"rcode"` // NOERROR, NODATA, NXDOMAIN, REFERRAL, REFUSED, SERVFAIL
	Answers  []string `toml:"answers"`
	Contains []string `toml:"contains"`
	Excludes []string `toml:"excludes"`
	Count    *int     `toml:"count"`
	CNAME    string   `toml:"cname"`
	TTL      *int     `toml:"ttl"`
	TTLRange []int    `toml:"ttl_range"`
	Scope    *int     `toml:"scope"`
	// Shares are the expected share of each address (or backend) in the
	// answers of Draws queries, within Tolerance; Clients spreads the
	// queries over random addresses of a network.
	Shares    map[string]float64 `toml:"shares"`
	Draws     int                `toml:"draws"`
	Tolerance float64            `toml:"tolerance"`
	Clients   string             `toml:"clients"`
}

// testResult is the outcome of one case.
type testResult struct {
	c        *testCase
	problems []string
	trace    []string
	elapsed  time.Duration
}

func testCmd(e *env, o *testOpts, args []string) int {
	if len(args) == 0 {
		return usageError(e, "test", "a TESTFILE is needed, e.g. gslb test zones/tests.toml")
	}
	var cases []*testCase
	files := map[string]uint64{}
	bad := false
	for _, f := range args {
		tf, err := readTestFile(f)
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			bad = true
			continue
		}
		files[f] = tf.Seed
		for i := range tf.Cases {
			c := &tf.Cases[i]
			c.file, c.index = f, i
			if c.Seed == 0 {
				c.Seed = tf.Seed*1000003 + uint64(i)
			}
			if *o.run == "" || strings.Contains(c.Name, *o.run) {
				cases = append(cases, c)
			}
		}
	}
	if bad {
		return 2
	}
	src := e.configFrom(*o.config)
	snap0, err := loadConfig(src.path)
	if err != nil {
		printErrors(e.stderr, err)
		fmt.Fprintf(e.stderr, "gslb test: %s does not load\n", src.why)
		return 1
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	loc, err := openGeo(src.path, snap0.Config, log)
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb test:", err)
		return 1
	}
	if loc != nil {
		defer loc.Close()
	}
	var l zones.Locator
	if loc != nil {
		l = loc
	}
	start := time.Now()
	var results []testResult
	failed := 0
	for _, c := range cases {
		// Every case on a fresh snapshot: nothing carries over.
		snap, err := loadConfig(src.path)
		if err != nil {
			printErrors(e.stderr, err)
			return 1
		}
		t0 := time.Now()
		r := runCase(snap, l, log, c)
		r.elapsed = time.Since(t0)
		results = append(results, r)
		if len(r.problems) > 0 {
			failed++
			fmt.Fprintf(e.stdout, "--- FAIL: %s (%s case %d)\n", c.Name, c.file, c.index+1)
			for _, p := range r.problems {
				fmt.Fprintf(e.stdout, "    %s\n", indentRest(p, "    "))
			}
			if *o.verbose {
				fmt.Fprintf(e.stdout, "    explain:\n")
				for _, t := range r.trace {
					fmt.Fprintf(e.stdout, "      %s\n", t)
				}
			}
		} else if *o.verbose {
			fmt.Fprintf(e.stdout, "--- PASS: %s (%s case %d)\n", c.Name, c.file, c.index+1)
		}
	}
	if *o.junit != "" {
		if err := writeJUnit(*o.junit, results, time.Since(start)); err != nil {
			fmt.Fprintln(e.stderr, "gslb test:", err)
			return 1
		}
	}
	if failed > 0 {
		fmt.Fprintf(e.stdout, "FAIL\t%d of %d case(s) failed (%s)\n", failed, len(results), src.why)
		return 1
	}
	fmt.Fprintf(e.stdout, "ok\t%d case(s) passed in %s (%s)\n", len(results), time.Since(start).Round(time.Millisecond), src.why)
	return 0
}

// indentRest indents every line of s after the first.
func indentRest(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// readTestFile reads and checks a test file: unknown keys and values that
// cannot work are errors, each with the case it is in.
func readTestFile(path string) (*testFile, error) {
	src, err := safefile.Read(path, zones.DefaultFileMax)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, zones.UnwrapPath(err))
	}
	tf := &testFile{Seed: 1}
	md, err := toml.Decode(string(src), tf)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d:%d: %s", path, pe.Position.Line, pe.Position.Col, pe.Message)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var problems []string
	for _, k := range md.Undecoded() {
		problems = append(problems, fmt.Sprintf("%s: unknown key %q", path, k.String()))
	}
	if len(tf.Cases) == 0 {
		problems = append(problems, fmt.Sprintf("%s: no [[case]]", path))
	}
	for i, c := range tf.Cases {
		where := fmt.Sprintf("%s: case %d (%s)", path, i+1, c.Name)
		if c.Name == "" {
			problems = append(problems, where+": name missing")
		}
		if c.Query == "" {
			problems = append(problems, where+": query missing (the name asked)")
		}
		if _, err := web.ParseQuestion(orDefault(c.Query, "x."), c.Type, orDefault(c.Client, "192.0.2.1"), c.ECS); err != nil {
			problems = append(problems, where+": "+strings.TrimPrefix(err.Error(), "-"))
		}
		for b, v := range c.Health {
			if v != "up" && v != "down" && v != "pending" {
				problems = append(problems, fmt.Sprintf("%s: health %q = %q: want up, down or pending", where, b, v))
			}
		}
		for b, v := range c.Admin {
			if v != health.AdminDrain && v != health.AdminDown && v != health.AdminUp {
				problems = append(problems, fmt.Sprintf("%s: admin %q = %q: want drain, down or up", where, b, v))
			}
		}
		for _, m := range []map[string]string{c.Latency, c.UpFor} {
			for b, v := range m {
				if d, err := time.ParseDuration(v); err != nil || d < 0 {
					problems = append(problems, fmt.Sprintf("%s: %q = %q: want a duration such as \"40ms\"", where, b, v))
				}
			}
		}
		if c.After != "" {
			if d, err := time.ParseDuration(c.After); err != nil || d < 0 || d > 24*time.Hour {
				problems = append(problems, fmt.Sprintf("%s: after = %q: want a duration up to 24h", where, c.After))
			}
		}
		x := c.Expect
		if x.Rcode != "" && !contains([]string{"NOERROR", "NODATA", "NXDOMAIN", "REFERRAL", "REFUSED", "SERVFAIL", "NOTIMP", "FORMERR"}, x.Rcode) {
			problems = append(problems, fmt.Sprintf("%s: expect.rcode %q: want NOERROR, NODATA, NXDOMAIN, REFERRAL, REFUSED or SERVFAIL", where, x.Rcode))
		}
		if len(x.TTLRange) != 0 && (len(x.TTLRange) != 2 || x.TTLRange[0] > x.TTLRange[1]) {
			problems = append(problems, where+": expect.ttl_range: want [min, max]")
		}
		if x.Tolerance < 0 || x.Tolerance >= 1 || x.Draws < 0 || x.Draws > 1000000 {
			problems = append(problems, where+": expect.tolerance wants 0 to 1, expect.draws 0 to 1000000")
		}
		if x.Clients != "" {
			if _, err := netip.ParsePrefix(x.Clients); err != nil {
				problems = append(problems, fmt.Sprintf("%s: expect.clients %q: want a network such as 10.0.0.0/8", where, x.Clients))
			}
		}
		if x.Rcode == "" && x.Answers == nil && x.Contains == nil && x.Excludes == nil && x.Count == nil && x.CNAME == "" && x.TTL == nil && x.TTLRange == nil && x.Scope == nil && x.Shares == nil {
			problems = append(problems, where+": [case.expect] is empty: a case must expect something")
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return tf, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testEpoch is the simulated clock's start: cases do not depend on when
// they run.
var testEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// runCase injects the case's state into snap, runs the control law for
// the case's time, asks the question through a handler as serve does and
// compares the answer with the expectations.
func runCase(snap *zones.Snapshot, loc zones.Locator, log *slog.Logger, c *testCase) testResult {
	r := testResult{c: c}
	fail := func(format string, a ...any) { r.problems = append(r.problems, fmt.Sprintf(format, a...)) }
	qname := dns.Fqdn(strings.ToLower(c.Query))
	// Resolve every backend the case names.
	refs := map[string]*zones.Backend{}
	resolve := func(what string, keys []string) {
		for _, k := range keys {
			b, err := findTestBackend(snap, qname, k)
			if err != nil {
				fail("%s %q: %v", what, k, err)
				continue
			}
			refs[k] = b
		}
	}
	resolve("health", sortedKeys(c.Health))
	resolve("admin", sortedKeys(c.Admin))
	resolve("load", sortedKeys(c.Load))
	resolve("latency", sortedKeys(c.Latency))
	resolve("errors", sortedKeys(c.Errors))
	resolve("up_for", sortedKeys(c.UpFor))
	if len(r.problems) > 0 {
		return r
	}
	byID := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[refs[k].ID] = v
		}
		return out
	}
	healthOf, upFor := byID(c.Health), byID(c.UpFor)
	signals := map[string]steer.Signals{}
	for k, v := range c.Load {
		s := signals[refs[k].ID]
		s.Load, s.HasLoad = v, true
		signals[refs[k].ID] = s
	}
	for k, v := range c.Latency {
		d, _ := time.ParseDuration(v)
		s := signals[refs[k].ID]
		s.Latency, s.HasLatency = d, true
		signals[refs[k].ID] = s
	}
	for k, v := range c.Errors {
		s := signals[refs[k].ID]
		s.ErrorRate = v
		signals[refs[k].ID] = s
	}
	// Health: as injected, else the check's start state with pending read
	// as up (no probes run), as gslb explain does.
	states := map[string]*health.State{}
	stateAt := func(b *zones.Backend, elapsed, total time.Duration) *health.State {
		key := b.ID
		v := healthOf[b.ID]
		if d, ok := upFor[b.ID]; ok {
			if up, _ := time.ParseDuration(d); elapsed < total-up {
				v = "down"
			} else if v == "" {
				v = "up"
			}
		}
		key += "|" + v
		if s, ok := states[key]; ok {
			return s
		}
		var s *health.State
		switch v {
		case "up":
			s = health.FixedState(b.Check, true)
		case "down":
			s = health.FixedState(b.Check, false)
		case "pending":
			spec := b.Check
			spec.Start = health.StartPending
			if spec.Kind == "" || spec.Kind == health.KindNone {
				spec.Kind = health.KindTCP // a probe that never runs
			}
			s = health.StartState(spec)
		default:
			spec := b.Check
			if spec.Start == health.StartPending {
				spec.Start = health.StartUp
			}
			s = health.StartState(spec)
		}
		states[key] = s
		return s
	}
	admin := health.NewAdmin("", 0, log)
	for k, v := range c.Admin {
		if err := admin.Set(refs[k].ID, &health.Override{State: v, Reason: "gslb test"}, "gslb test"); err != nil {
			fail("admin %q: %v", k, err)
		}
	}
	steering := zones.NewSteering()
	steering.MarkRunning() // backends come into service when the case says
	steering.Signals = func(b *zones.Backend, _ time.Time) steer.Signals { return signals[b.ID] }
	after := time.Duration(0)
	if steered(snap) {
		after = time.Minute
	}
	if c.After != "" {
		after, _ = time.ParseDuration(c.After)
	}
	for _, d := range upFor {
		if up, _ := time.ParseDuration(d); up > after {
			after = up
		}
	}
	bind := func(elapsed time.Duration) {
		snap.BindEach(func(b *zones.Backend) *health.State { return stateAt(b, elapsed, after) }, admin, steering, nil)
	}
	bind(0)
	for t := time.Duration(0); t < after; t += time.Second {
		bind(t)
		steering.Step(snap, testEpoch.Add(t), time.Second)
	}
	bind(after)
	if after > 0 {
		steering.Step(snap, testEpoch.Add(after), time.Second)
	}

	h := dnsserver.NewHandler(snap, dnsserver.Identity{}, loc, log)
	rng := rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15))
	h.SetRand(rng.Uint64)
	q, _ := web.ParseQuestion(c.Query, c.Type, orDefault(c.Client, "192.0.2.1"), c.ECS)
	var tr strings.Builder
	web.Explain(&tr, h, q)
	r.trace = strings.Split(strings.TrimSpace(tr.String()), "\n")

	qtype := dns.TypeA
	if c.Type != "" {
		qtype = dns.StringToType[strings.ToUpper(c.Type)]
	}
	client := netip.MustParseAddr(orDefault(c.Client, "192.0.2.1"))
	reply, err := askHandler(h, qname, qtype, client, c.ECS)
	if err != nil {
		fail("%v", err)
		return r
	}
	checkReply(c, reply, qtype, fail)
	if x := c.Expect; x.Shares != nil {
		checkShares(snap, h, c, qname, qtype, client, rng, fail)
	}
	return r
}

// steered tells whether any service of snap has a law or slow start.
func steered(snap *zones.Snapshot) bool {
	for _, s := range snap.Services() {
		if s.Law.Law != "" || s.SlowStart.Window > 0 {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// findTestBackend finds the backend a case names: NAME (of the service
// asked, else the only one of that name), SERVICE/NAME with the zone's
// origin optional, or a full ID.
func findTestBackend(snap *zones.Snapshot, qname, ref string) (*zones.Backend, error) {
	svcRef, name, hasSvc := strings.Cut(ref, "/")
	if !hasSvc {
		name = ref
	}
	var found []*zones.Backend
	var names []string
	for _, s := range snap.Services() {
		sname := strings.ToLower(s.Name)
		match := !hasSvc
		if hasSvc {
			want := strings.ToLower(strings.TrimSuffix(svcRef, "."))
			for _, z := range snap.Zones {
				if sname == want+"." || sname == want+"."+z.Origin {
					match = true
				}
			}
		}
		for _, b := range s.Backends {
			names = append(names, b.Name)
			if match && b.Name == name {
				if !hasSvc && sname == qname {
					return b, nil // the service asked wins
				}
				found = append(found, b)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if s := zones.Closest(name, names); s != "" {
			return nil, fmt.Errorf("no such backend; did you mean %q?", s)
		}
		return nil, errors.New("no such backend")
	}
	var ids []string
	for _, b := range found {
		ids = append(ids, b.ID)
	}
	return nil, fmt.Errorf("several backends have that name: write one of %s", strings.Join(ids, ", "))
}

// askHandler sends one question to h as a UDP query from client, with
// EDNS and the client subnet when ecs is set, and returns the reply.
func askHandler(h *dnsserver.Handler, qname string, qtype uint16, client netip.Addr, ecs string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	if ecs != "" {
		p := netip.MustParsePrefix(ecs).Masked()
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
		if p.Addr().Is6() {
			e.Family = 2
		}
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, e)
	}
	req, err := m.Pack()
	if err != nil {
		return nil, err
	}
	out := h.Serve(req, netip.AddrPortFrom(client, 53000), dnsserver.UDP, make([]byte, 0, 4096))
	if out == nil {
		return nil, errors.New("no reply: the query was dropped")
	}
	reply := new(dns.Msg)
	if err := reply.Unpack(out); err != nil {
		return nil, fmt.Errorf("the reply does not parse: %v", err)
	}
	return reply, nil
}

// rdata is a record's data as written in a zone file: an address, a
// name, text.
func rdata(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.A:
		return v.A.String()
	case *dns.AAAA:
		return v.AAAA.String()
	case *dns.CNAME:
		return v.Target
	}
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String()))
}

// outcomeWord is the rcode of a reply, with NODATA and REFERRAL told
// apart from NOERROR.
func outcomeWord(m *dns.Msg, qtype uint16) string {
	if m.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[m.Rcode]
	}
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
			return "NOERROR"
		}
	}
	if !m.Authoritative && len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeNS {
		return "REFERRAL"
	}
	return "NODATA"
}

// checkReply compares a reply with the case's expectations.
func checkReply(c *testCase, m *dns.Msg, qtype uint16, fail func(string, ...any)) {
	x := c.Expect
	var got []string
	var ttls []uint32
	cname := ""
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
			got = append(got, rdata(rr))
			ttls = append(ttls, rr.Header().Ttl)
		} else if v, ok := rr.(*dns.CNAME); ok && cname == "" {
			cname = v.Target
		}
	}
	sort.Strings(got)
	word := outcomeWord(m, qtype)
	if want := x.Rcode; want != "" && want != word {
		fail("rcode: got %s, want %s", word, want)
	} else if want == "" && x.Answers != nil && word != "NOERROR" {
		fail("rcode: got %s, want NOERROR with answers", word)
	}
	if x.Answers != nil {
		want := append([]string(nil), x.Answers...)
		sort.Strings(want)
		if missing, extra := setDiff(want, got); len(missing)+len(extra) > 0 {
			fail("answers differ:\n- want %s\n+ got  %s%s", listOrNone(want), listOrNone(got), diffNote(missing, extra))
		}
	}
	for _, w := range x.Contains {
		if !contains(got, w) {
			fail("answers: %s missing (got %s)", w, listOrNone(got))
		}
	}
	for _, w := range x.Excludes {
		if contains(got, w) {
			fail("answers: %s answered, expected it left out (got %s)", w, listOrNone(got))
		}
	}
	if x.Count != nil && len(got) != *x.Count {
		fail("count: got %d record(s) %s, want %d", len(got), listOrNone(got), *x.Count)
	}
	if x.CNAME != "" && !strings.EqualFold(cname, dns.Fqdn(x.CNAME)) {
		fail("cname: got %q, want %q", cname, dns.Fqdn(x.CNAME))
	}
	for _, ttl := range ttls {
		if x.TTL != nil && int(ttl) != *x.TTL {
			fail("ttl: got %d, want %d", ttl, *x.TTL)
			break
		}
		if len(x.TTLRange) == 2 && (int(ttl) < x.TTLRange[0] || int(ttl) > x.TTLRange[1]) {
			fail("ttl: got %d, want %d to %d", ttl, x.TTLRange[0], x.TTLRange[1])
			break
		}
	}
	if x.Scope != nil {
		scope := -1
		if opt := m.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_SUBNET); ok {
					scope = int(e.SourceScope)
				}
			}
		}
		if scope != *x.Scope {
			if scope < 0 {
				fail("scope: the reply has no client subnet option, want scope /%d (does the case set ecs?)", *x.Scope)
			} else {
				fail("scope: got /%d, want /%d", scope, *x.Scope)
			}
		}
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return "[" + strings.Join(l, " ") + "]"
}

func diffNote(missing, extra []string) string {
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, " "))
	}
	if len(extra) > 0 {
		parts = append(parts, "unexpected "+strings.Join(extra, " "))
	}
	return "\n  (" + strings.Join(parts, "; ") + ")"
}

// setDiff returns what of want is not in got, and what of got is not in
// want.
func setDiff(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

// checkShares asks the question Draws times (from random clients of
// Clients, if set) and compares each address's share of the answers
// with the expected shares.
func checkShares(snap *zones.Snapshot, h *dnsserver.Handler, c *testCase, qname string, qtype uint16, client netip.Addr, rng *rand.Rand, fail func(string, ...any)) {
	x := c.Expect
	draws := x.Draws
	if draws == 0 {
		draws = 10000
	}
	tol := x.Tolerance
	if tol == 0 {
		tol = 0.02
	}
	want := map[string]float64{}
	for k, v := range x.Shares {
		if _, err := netip.ParseAddr(k); err == nil {
			want[k] = v
			continue
		}
		b, err := findTestBackend(snap, qname, k)
		if err != nil {
			fail("shares %q: %v", k, err)
			return
		}
		want[b.Addr.String()] = v
	}
	var clients netip.Prefix
	if x.Clients != "" {
		clients = netip.MustParsePrefix(x.Clients).Masked()
	}
	counts := map[string]int{}
	total := 0
	for i := 0; i < draws; i++ {
		from := client
		if clients.IsValid() {
			from = randomIn(clients, rng)
		}
		m, err := askHandler(h, qname, qtype, from, c.ECS)
		if err != nil {
			fail("draw %d: %v", i, err)
			return
		}
		for _, rr := range m.Answer {
			if rr.Header().Rrtype == qtype {
				counts[rdata(rr)]++
				total++
			}
		}
	}
	if total == 0 {
		fail("shares: no answer in %d draws", draws)
		return
	}
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range counts {
		keys[k] = true
	}
	var lines []string
	bad := false
	for _, k := range sortedKeys(keys) {
		got := float64(counts[k]) / float64(total)
		w := want[k]
		mark := " "
		if math.Abs(got-w) > tol {
			mark, bad = "!", true
		}
		lines = append(lines, fmt.Sprintf("%s %-16s want %.3f got %.3f", mark, k, w, got))
	}
	if bad {
		fail("shares over %d draws (seed %d) differ by more than %.3f:\n%s", draws, c.Seed, tol, strings.Join(lines, "\n"))
	}
}

// randomIn is a random address of network p.
func randomIn(p netip.Prefix, rng *rand.Rand) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if rng.Uint64()&1 == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// JUnit XML, in the common Ant/Surefire format.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes the results as JUnit XML: one testsuite per test
// file, one testcase per case.
func writeJUnit(path string, results []testResult, elapsed time.Duration) error {
	out := junitSuites{Name: "gslb test", Time: seconds(elapsed)}
	index := map[string]int{}
	stamp := time.Now().UTC().Format("2006-01-02T15:04:05")
	for _, r := range results {
		i, ok := index[r.c.file]
		if !ok {
			i = len(out.Suites)
			index[r.c.file] = i
			out.Suites = append(out.Suites, junitSuite{Name: r.c.file, Timestamp: stamp})
		}
		s := &out.Suites[i]
		jc := junitCase{Name: r.c.Name, Classname: strings.TrimSuffix(r.c.file, ".toml"), Time: seconds(r.elapsed)}
		if len(r.problems) > 0 {
			jc.Failure = &junitFailure{Message: strings.SplitN(r.problems[0], "\n", 2)[0], Type: "expectation",
				Text: strings.Join(r.problems, "\n") + "\n\nexplain:\n" + strings.Join(r.trace, "\n")}
			s.Failures++
			out.Failures++
		}
		s.Tests++
		out.Tests++
		s.Cases = append(s.Cases, jc)
		d, _ := time.ParseDuration(s.Time + "s")
		s.Time = seconds(d + r.elapsed)
	}
	for i := range out.Suites {
		if out.Suites[i].Time == "" {
			out.Suites[i].Time = "0.000"
		}
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
