package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"
)

// FuzzLoad loads arbitrary bytes as a zone file (and as a main
// configuration): the loader must return an error or a snapshot whose zones
// pass the checks, and never panic. The position index, which runs on every
// load, is called without its safety net.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(testZone))
	if b, err := os.ReadFile(filepath.Join("..", "cmd", "gslb", "example", "zones", "gslb.example.com.toml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("origin = \"x.\"\nns = [\"ns.y.\"]\n[soa]\n[records]\n\"*\" = { A = \"192.0.2.1\" }\n"))
	f.Add([]byte("[[a.b]]\nc = '''x\n'''\n[[a.b]]\n\"d\".e = { f = [1, {g = 2}] }\n"))
	f.Add([]byte("a = { b = 1, # TOML 1.1\n c = [\n 2, ],\n }\n"))
	f.Add([]byte(deep("[records]\na", 70, false)))
	f.Add([]byte(deep("x", 70, true)))
	// Huge and odd values (issue 18): a TXT over a record's size, numbers
	// out of range, NaN and infinities, a CNAME loop, an IDNA owner.
	f.Add([]byte(testZone + "big = { TXT = \"" + strings.Repeat("y", 70000) + "\" }\n"))
	f.Add([]byte(testZone + "[services.n]\nttl = 99999999999999999999\nbackends = [{ name = \"a\", address = \"192.0.2.1\", weight = nan }, { name = \"b\", address = \"192.0.2.2\", weight = -inf }]\n"))
	f.Add([]byte(testZone + "l1 = { CNAME = \"l2\" }\nl2 = { CNAME = \"l1\" }\n\"bücher\" = { A = \"192.0.2.1\" }\n"))
	f.Add([]byte(probeBase + "check = { type = \"http\", expect = [200, \"301-399\"], headers = { X-A = \"1\" } }\n" +
		"backends = [{ address = \"192.0.2.1\", check = { type = \"tcp\", port = 22 } }, { address = \"192.0.2.2\", weight = 2.5 }]\n"))
	f.Add([]byte("\xef\xbb\xbfzones = [\"z.toml\"]\n[geo]\necs = [\"192.0.2.0/24\"]\n[rrl]\nslip = 3\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// A hang is a finding too: fail, so that the fuzzer keeps the input.
		done := make(chan string, 1)
		go func() { done <- loadChecks(src) }()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatal(msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("loading did not finish in 10 s on %q", src)
		}
	})
}

// loadChecks loads src as a zone file and as a main file and returns what
// is wrong, "" if nothing.
func loadChecks(src []byte) string {
	// The scanner guards the TOML library against deep nesting, so it
	// must read to the end of every document the library accepts.
	if s := scanPositions(src); s.stopped && s.tooDeep == "" {
		var v map[string]any
		if _, err := toml.Decode(string(src), &v); err == nil {
			return fmt.Sprintf("the scanner stopped at %v on TOML the library accepts", s.stopAt)
		}
	}
	for _, layout := range []fstest.MapFS{
		{"gslb.toml": {Data: []byte(mainConf)}, "z.toml": {Data: src}},
		{"gslb.toml": {Data: src}, "z.toml": {Data: []byte(testZone)}},
	} {
		s, err := Load(FSFiles(layout), "gslb.toml")
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				return fmt.Sprintf("error is not an ErrorList: %T %v", err, err)
			}
			for _, e := range err.(ErrorList) {
				if e.File == "" || e.Msg == "" {
					return fmt.Sprintf("error without file or message: %#v", e)
				}
			}
			continue
		}
		for _, z := range s.Zones {
			if z.SOA == nil || z.NegativeSOA() == nil {
				return fmt.Sprintf("zone %s loaded without SOA", z.Origin)
			}
			a := z.Lookup(&Query{Name: z.Origin, Lower: strings.ToLower(z.Origin), Type: dns.TypeNS})
			if a.Result != Success || len(a.Answer) == 0 {
				return fmt.Sprintf("zone %s: apex NS lookup gave %v", z.Origin, a.Result)
			}
			for name := range z.nodes {
				z.Lookup(&Query{Name: name, Lower: name, Type: dns.TypeA})
				z.Lookup(&Query{Name: "x." + name, Lower: "x." + name, Type: dns.TypeANY})
			}
		}
	}
	return ""
}
