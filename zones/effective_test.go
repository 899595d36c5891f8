package zones

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/BurntSushi/toml"
	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
)

// effectiveMain is a main file that changes many defaults, with GeoIP
// databases for the geo and nearest services (Load does not open them).
const effectiveMain = `zones = ["z.toml"]
[server]
dns = ["127.0.0.1:5300"]
http = ""
answer_cache = false
reload_settle = "250ms"
[identity]
id = "ns-a"
nsid = false
version = "auto"
[limits]
edns_udp_size = 1400
tcp_idle_timeout = "2m30s"
min_ttl = 5
max_ttl = 86400
zone_file_max_mib = 2
geoip_file_max_mib = 100
max_cname_chain = 3
[defaults]
ttl = "2h"
service_ttl = 45
[admin]
token_file = "secrets/admin.token"
[http]
status_auth = true
[state]
dir = "/var/lib/gslb"
[rrl]
enabled = false
responses_per_second = 12.5
exempt = ["10.0.0.0/8"]
[log]
format = "json"
level = "debug"
query_sample = 100
[geo]
database = "City.mmdb"
asn_database = "ASN.mmdb"
ecs = ["192.0.2.0/24", "2001:db8::/32"]
`

// effectiveZones are zone files with unusual content, each of which the
// effective configuration must keep.
var effectiveZones = []struct{ name, zone string }{
	{"records", `origin = "Example.COM."
ttl = "1h"
ns = ["ns1", "ns.other.net."]
[soa]
serial = 7
rname = "john.doe@example.com"
refresh = "2h"
[records]
ns1 = { A = "192.0.2.1", AAAA = "2001:db8::1" }
"@" = { MX = ["10 mail", "20 mx.other.net."], TXT = ["v=spf1 -all", "say \"hi\" \\ bye"], CAA = ["0 issue \"letsencrypt.org\"", "128 iodef \"mailto:sec@example.com\""] }
"*.apps" = { A = "192.0.2.80", TXT = "wild" }
"_sip._udp" = { SRV = "10 60 5060 sip", ttl = 60 }
"sip" = { A = "192.0.2.60" }
"a.b.c" = { A = ["192.0.2.3", "192.0.2.4"] }
long = { TXT = "` + strings.Repeat("0123456789", 30) + `" }
Alias = { CNAME = "mail.example.net." }
child = { NS = ["ns.child"], DS = "12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF" }
"ns.child" = { A = "192.0.2.53" }
svc = { HTTPS = ["1 . alpn=\"h2,h3\" port=8443 ipv4hint=192.0.2.1", "0 www.example.net."], SVCB = "2 svc2.example.net. alpn=h2" }
"_443._tcp.svc" = { TLSA = "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF" }
ssh = { SSHFP = "4 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", A = "192.0.2.22" }
naptr = { NAPTR = ['100 10 "U" "E2U+sip" "!^\\+1(.*)$!sip:\\1@example.com!" .', '101 10 "S" "SIP+D2U" "" _sip._udp.example.com.'] }
ptr = { PTR = "host.example.net.", HINFO = "\"PC\" \"Linux\"" }
`},
	{"services", `origin = "svc.example."
ns = ["ns.other.net."]
[soa]
mname = "ns.other.net."
[services."@"]
backends = [ { address = "192.0.2.1" }, { address = "2001:db8::1", weight = 0 } ]

[services.www]
ttl = 60
adaptive_ttl = true
min_ttl = 10
policy = "failover"
members = "roundrobin"
answers = 2
min_healthy = 2
when_all_down = "fallback"
fallback_cname = "sorry.example.net."
check = { type = "http", port = 8080, path = "/health", headers = { X-Probe = "gslb", "Host Name" = "x" }, expect = [200, "300-302"], interval = "2s", timeout = "1s", start = "up" }
[[services.www.pools]]
name = "primary"
backends = ["a", "b"]
[[services.www.pools]]
name = "backup"
backends = ["c"]
[[services.www.backends]]
name = "a"
address = "192.0.2.10"
[[services.www.backends]]
name = "b"
address = "192.0.2.11"
check = { path = "/other", start = "down", headers = { X-Probe = "b" } }
[[services.www.backends]]
name = "c"
address = "192.0.2.12"
check = { type = "none" }

[services.mail]
check = { type = "tcp", port = 25, send = "EHLO gslb\r\n", reply = "250", rise = 3, fall = 5, interval = "30s", timeout = "5s" }
backends = [ { name = "m1", address = "2001:db8::25" } ]

[services."*.wild"]
members = "sticky"
sticky_prefix_v4 = 16
when_all_down = "nodata"
check = { type = "dns", port = 53, query_name = "probe.example.", query_type = "aaaa", rcode = "nxdomain", address = "198.51.100.1" }
backends = [ { name = "w1", address = "192.0.2.31" }, { name = "w2", address = "192.0.2.32", weight = 2.5 } ]
[services."*.wild".slow_start]
window = "45s"
min_weight_percent = 0
aggression = 2
`},
	{"geo", `origin = "geo.example."
ns = ["ns.other.net."]
[soa]
[services.eu]
policy = "geo"
members = "weighted"
when_all_down = "fallback"
fallback = ["192.0.2.250", "2001:db8::250"]
backends = [ { name = "e", address = "192.0.2.1" }, { name = "u", address = "192.0.2.2" }, { name = "x", address = "192.0.2.3" } ]
pools = [ { name = "eu", backends = ["e"] }, { name = "us", backends = ["u"] }, { name = "rest", backends = ["x"] } ]
[services.eu.geo]
default = ["rest", "eu"]
continent = { EU = ["eu"], NA = ["us", "eu"] }
country = { DE = ["eu"], US = ["us"] }
subdivision = { "US-CA" = ["us"] }
asn = { AS13335 = ["rest"], "64496" = ["eu"] }
cidr = { "10.0.0.0/8" = ["eu"], "10.1.0.0/16" = ["us"], "192.168.0.0/16" = ["rest"], "2001:db8::/32" = ["eu"] }

[services.near]
policy = "nearest"
members = "least_load"
backends = [ { name = "f", address = "192.0.2.5", metrics = { capacity = 100 } }, { name = "g", address = "192.0.2.6" } ]
pools = [ { name = "fra", backends = ["f"], coordinates = [50.1, 8.7], bias = 10 }, { name = "iad", backends = ["g"], coordinates = [38.9, -77] } ]
metrics = { port = 9464, connections = "conns{job=\"x\"}", latency = "lat_seconds", quantile = 0.9 }
[services.near.steering]
smoothing = "7s"
floor = 0
rtt_tolerance = "25%"

[services.fast]
members = "fastest"
check = { type = "https", port = 443, server_name = "fast.example", insecure = true, body_regexp = "ok|fine", method = "head", load_header = "X-Load", capacity = 50 }
backends = [ { name = "p", address = "192.0.2.7" }, { name = "q", address = "192.0.2.8", check = { address = "192.0.2.80", follow_redirects = true } } ]
[services.fast.steering]
rtt_tolerance = "15ms"

[services.shed]
members = "shed"
backends = [ { name = "s1", address = "192.0.2.9", metrics = { address = "192.0.2.90:9100", scheme = "https", path = "/m", utilization = "util", interval = "10s" } } ]
[services.shed.steering]
low = 0.5
high = 0.8
`},
}

// loadEffective loads files as written by Effective.
func loadEffective(t *testing.T, files []EffectiveFile) *Snapshot {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, f := range files {
		fsys[f.Name] = &fstest.MapFile{Data: f.Text}
	}
	s, err := Load(FSFiles(fsys), EffectiveMainFile)
	if err != nil {
		t.Fatalf("the effective configuration does not load: %v\n%s", err, joinEffective(files))
	}
	return s
}

func joinEffective(files []EffectiveFile) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "# ==> %s <==\n%s", f.Name, f.Text)
	}
	return b.String()
}

// absolute keeps paths as they are, as in the tests' file system.
var absolute = EffectiveOptions{Path: func(p string) string { return p }}

func TestEffectiveRoundTrip(t *testing.T) {
	for _, c := range effectiveZones {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{"gslb.toml": {Data: []byte(effectiveMain)}, "z.toml": {Data: []byte(c.zone)}}
			orig, err := Load(FSFiles(fsys), "gslb.toml")
			if err != nil {
				t.Fatal(err)
			}
			files := orig.Effective(absolute)
			again := loadEffective(t, files)
			if want, got := compiledView(orig), compiledView(again); want != got {
				t.Errorf("the effective configuration compiles differently:\n%s\n%s", lineDiff(want, got), joinEffective(files))
			}
			if len(again.Warnings) > len(orig.Warnings) {
				t.Errorf("warnings %v, the original has %v", again.Warnings, orig.Warnings)
			}
			if second := again.Effective(absolute); joinEffective(second) != joinEffective(files) {
				t.Errorf("not a fixed point:\n%s", lineDiff(joinEffective(files), joinEffective(second)))
			}
		})
	}
}

// TestEffectiveExample round-trips the bundled example.
func TestEffectiveExample(t *testing.T) {
	orig, err := Load(FSFiles(os.DirFS("../cmd/gslb/example")), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	files := orig.Effective(absolute)
	again := loadEffective(t, files)
	if want, got := compiledView(orig), compiledView(again); want != got {
		t.Errorf("the effective example compiles differently:\n%s", lineDiff(want, got))
	}
	if second := again.Effective(absolute); joinEffective(second) != joinEffective(files) {
		t.Errorf("not a fixed point:\n%s", lineDiff(joinEffective(files), joinEffective(second)))
	}
	if files[0].Name != "gslb.toml" || files[1].Name != "zones/gslb.example.com.toml" || files[1].Source != "zones/gslb.example.com.toml" {
		t.Errorf("files %q, %q from %q", files[0].Name, files[1].Name, files[1].Source)
	}
	if !bytes.HasPrefix(files[1].Text, []byte("# Effective configuration")) {
		t.Errorf("no header:\n%.200s", files[1].Text)
	}
}

// TestEffectivePaths: paths become absolute by default, zones are listed
// beside the main file.
func TestEffectivePaths(t *testing.T) {
	fsys := fstest.MapFS{"etc/gslb.toml": {Data: []byte(effectiveMain)}, "etc/z.toml": {Data: []byte(effectiveZones[0].zone)}}
	s, err := Load(FSFiles(fsys), "etc/gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	main := string(s.Effective(EffectiveOptions{})[0].Text)
	for _, want := range []string{
		`zones = ["zones/example.com.toml"]`,
		`token_file = "` + path.Join(wd, "etc/secrets/admin.token") + `"`,
		`database = "` + path.Join(wd, "etc/City.mmdb") + `"`,
		`dir = "/var/lib/gslb"`,
	} {
		if !strings.Contains(main, want) {
			t.Errorf("no %s in\n%s", want, main)
		}
	}
}

// TestEffectiveZones: each zone gets a file named after its origin, in
// the order of the snapshot, and the main file lists them.
func TestEffectiveZones(t *testing.T) {
	fsys := fstest.MapFS{
		"gslb.toml":    {Data: []byte(strings.Replace(effectiveMain, `zones = ["z.toml"]`, `zones = ["z.toml", "zones"]`, 1))},
		"z.toml":       {Data: []byte(effectiveZones[1].zone)},
		"zones/a.toml": {Data: []byte(effectiveZones[0].zone)},
		"zones/b.toml": {Data: []byte(effectiveZones[2].zone)},
	}
	orig, err := Load(FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	files := orig.Effective(absolute)
	var names []string
	for _, f := range files {
		names = append(names, f.Name+" from "+f.Source)
	}
	want := []string{"gslb.toml from gslb.toml", "zones/svc.example.toml from z.toml", "zones/example.com.toml from zones/a.toml", "zones/geo.example.toml from zones/b.toml"}
	if !slices.Equal(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	if !bytes.Contains(files[0].Text, []byte(`zones = ["zones/svc.example.toml", "zones/example.com.toml", "zones/geo.example.toml"]`)) {
		t.Errorf("main file:\n%s", files[0].Text)
	}
	again := loadEffective(t, files)
	if want, got := compiledView(orig), compiledView(again); want != got {
		t.Errorf("the effective configuration compiles differently:\n%s", lineDiff(want, got))
	}
}

// TestEffectiveEveryKey: the effective main file has every key the
// loader reads (but state.dir, which is left unset), each check every key
// of its type and each metrics table every metrics key.
func TestEffectiveEveryKey(t *testing.T) {
	kinds := ""
	for _, kind := range []string{health.KindHTTP, health.KindHTTPS, health.KindTCP, health.KindDNS} {
		extra := ""
		if kind == health.KindDNS {
			extra = `, query_name = "x."`
		}
		kinds += fmt.Sprintf("[services.%s]\ncheck = { type = %q, port = 53%s }\n"+
			"backends = [ { address = \"192.0.2.1\", metrics = { port = 9100, latency = \"l\" } } ]\n", kind, kind, extra)
	}
	fsys := fstest.MapFS{"gslb.toml": {Data: []byte(mainConf + "[cluster]\ninsecure = true\nbind = \"127.0.0.1:7946\"\n")}, "z.toml": {Data: []byte("origin = \"x.\"\nns = [\"ns.y.\"]\n[soa]\n" + kinds)}}
	s, err := Load(FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	files := s.Effective(absolute)
	var main map[string]any
	if _, err := toml.Decode(string(files[0].Text), &main); err != nil {
		t.Fatal(err)
	}
	for _, table := range configSchema.keysAt(nil) {
		sub := configSchema.keysAt([]string{table})
		if sub == nil {
			if _, ok := main[table]; !ok {
				t.Errorf("no %s in the main file", table)
			}
			continue
		}
		m, _ := main[table].(map[string]any)
		for _, k := range sub {
			if _, ok := m[k]; !ok && table+"."+k != "state.dir" {
				t.Errorf("no %s.%s in the main file", table, k)
			}
		}
	}
	var zone struct {
		Services map[string]struct {
			Backends []struct {
				Check   map[string]any
				Metrics map[string]any
			}
		}
	}
	if _, err := toml.Decode(string(files[1].Text), &zone); err != nil {
		t.Fatal(err)
	}
	metricsKeys := tomlKeys(reflect.TypeFor[metricsDoc]())
	for kind, svc := range zone.Services {
		b := svc.Backends[0]
		for k := range probeKeys[kind] {
			if _, ok := b.Check[k]; !ok {
				t.Errorf("no %s in the %s check", k, kind)
			}
		}
		for _, k := range metricsKeys {
			if _, ok := b.Metrics[k]; !ok {
				t.Errorf("no %s in the metrics of %s", k, kind)
			}
		}
	}
	if len(zone.Services) != 4 {
		t.Errorf("services %v", zone.Services)
	}
}

// TestEffectiveFields fails when a compiled service or check gains a
// field: write it in effectiveService or effectiveCheck, then count it.
func TestEffectiveFields(t *testing.T) {
	if n := countFields(Service{}); n != 30 {
		t.Errorf("Service has %d fields: is the new one in effectiveService?", n)
	}
	if n := countFields(health.Spec{}); n != 11 {
		t.Errorf("health.Spec has %d fields: is the new one in effectiveCheck?", n)
	}
}

// compiledView prints what a snapshot answers from, in a fixed order:
// the main settings, every zone's records and every service with its
// pools, backends, checks and metrics. Settings that do nothing with the
// rest of their service, and defaults spelled two ways ("" and "GET"),
// are left out or normalised.
func compiledView(s *Snapshot) string {
	var b strings.Builder
	c := *s.Config
	c.File, c.ZoneFiles, c.keyAt = "", nil, nil
	fmt.Fprintf(&b, "config %+v\n", c)
	for _, z := range s.Zones {
		fmt.Fprintf(&b, "zone %s soa %s\n", z.Origin, z.SOA)
		for _, n := range zoneNodes(z) {
			for _, set := range n.rrsets {
				for _, rr := range set.rrs {
					fmt.Fprintf(&b, "  %s\n", rr)
				}
			}
		}
		for _, svc := range z.Services {
			x := *svc
			x.Backends, x.Pools, x.Geo = nil, nil, nil
			x.pol, x.sel, x.fb4, x.fb6, x.allDown = nil, nil, nil, nil, nil
			if x.Members != MembersSticky {
				x.StickyV4, x.StickyV6 = 0, 0
			}
			if x.Policy == PolicySingle && len(svc.Pools) == 1 {
				x.MinHealthy = 0
			}
			fmt.Fprintf(&b, " service %+v\n", x)
			if g := svc.Geo; g != nil {
				fmt.Fprintf(&b, "  geo default %v\n", poolNameList(g.Default))
				for _, m := range []map[string][]*Pool{g.Continent, g.Country, g.Subdivision} {
					for _, k := range sortedMapKeys(m) {
						fmt.Fprintf(&b, "  geo %s %v\n", k, poolNameList(m[k]))
					}
				}
				var asns []uint32
				for n := range g.ASN {
					asns = append(asns, n)
				}
				slices.Sort(asns)
				for _, n := range asns {
					fmt.Fprintf(&b, "  geo AS%d %v\n", n, poolNameList(g.ASN[n]))
				}
				for _, r := range sortedCIDR(g.CIDR) {
					fmt.Fprintf(&b, "  geo %s %v\n", r.Prefix, poolNameList(r.Pools))
				}
			}
			for _, p := range svc.Pools {
				fmt.Fprintf(&b, "  pool %s %v", p.Name, backendNames(p.Members))
				if svc.Policy == PolicyNearest {
					fmt.Fprintf(&b, " at %v,%v (%v) bias %v", p.Lat, p.Lon, p.HasCoords, p.Bias)
				}
				b.WriteString("\n")
			}
			for _, be := range svc.Backends {
				chk := be.Check
				if chk.Kind == health.KindHTTP || chk.Kind == health.KindHTTPS {
					chk.HTTP.Method = effectiveMethod(chk.HTTP.Method)
					chk.HTTP.Expect = effectiveExpect(chk.HTTP.Expect)
				}
				fmt.Fprintf(&b, "  backend %s %s %s %v check %+v\n", be.ID, be.Name, be.Addr, be.Weight, chk)
				if m := be.Metrics; m != nil {
					sp := m.Spec
					sp.Quantile = effectiveQuantile(sp.Quantile)
					fmt.Fprintf(&b, "   metrics %+v capacity %v\n", sp, m.Capacity)
				}
			}
		}
	}
	return b.String()
}

func backendNames(bs []*Backend) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}

// lineDiff lists the lines of want and got that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var x, y string
		if i < len(w) {
			x = w[i]
		}
		if i < len(g) {
			y = g[i]
		}
		if x != y {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, x, y)
		}
	}
	return b.String()
}

// TestEffectiveQuote: strings and keys that need quoting read back as
// written.
func TestEffectiveQuote(t *testing.T) {
	for _, s := range []string{"", "plain", `say "hi"`, `back\slash`, `it's "quoted"`, `'`, "tab\there", "nl\nx", "\x01\x7f", "héllo ✓"} {
		doc := tomlKey(s) + " = " + tomlQuote(s) + "\n"
		var m map[string]string
		if _, err := toml.Decode(doc, &m); err != nil {
			t.Errorf("%q: %v in %s", s, err, doc)
			continue
		}
		if m[s] != s {
			t.Errorf("%q reads back as %v", s, m)
		}
	}
	if got := rdataText(dns.Copy(&dns.TXT{Txt: []string{`a\"b\\c`}})); got != `a"b\c` {
		t.Errorf("TXT text %q", got)
	}
}

// countFields counts the fields of a struct.
func countFields(v any) int { return reflect.TypeOf(v).NumField() }

// FuzzEffective loads arbitrary bytes as a zone file and as a main file:
// whatever loads must give an effective configuration that loads, compiles
// to the same and is its own effective configuration. The seeds include
// FuzzLoad's corpus.
func FuzzEffective(f *testing.F) {
	f.Add([]byte(testZone))
	for _, c := range effectiveZones {
		f.Add([]byte(c.zone))
	}
	f.Add([]byte(effectiveMain))
	if b, err := os.ReadFile(filepath.Join("..", "cmd", "gslb", "example", "zones", "gslb.example.com.toml")); err == nil {
		f.Add(b)
	}
	corpus, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzLoad", "*"))
	for _, p := range corpus {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		// go test fuzz v1, then one []byte("...") line.
		_, arg, _ := strings.Cut(string(b), "\n")
		arg = strings.TrimSpace(arg)
		if s, ok := strings.CutPrefix(arg, "[]byte("); ok {
			if v, err := strconv.Unquote(strings.TrimSuffix(s, ")")); err == nil {
				f.Add([]byte(v))
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, layout := range []fstest.MapFS{
			{"gslb.toml": {Data: []byte(effectiveMain)}, "z.toml": {Data: src}},
			{"gslb.toml": {Data: []byte(mainConf)}, "z.toml": {Data: src}},
			{"gslb.toml": {Data: src}, "z.toml": {Data: []byte(testZone)}},
		} {
			orig, err := Load(FSFiles(layout), "gslb.toml")
			if err != nil {
				continue
			}
			files := orig.Effective(absolute)
			again := loadEffective(t, files)
			if want, got := compiledView(orig), compiledView(again); want != got {
				t.Fatalf("the effective configuration compiles differently:\n%s\n%s", lineDiff(want, got), joinEffective(files))
			}
			if second := again.Effective(absolute); joinEffective(second) != joinEffective(files) {
				t.Fatalf("not a fixed point:\n%s", lineDiff(joinEffective(files), joinEffective(second)))
			}
		}
	})
}

// TestEffectiveSigned: a signed zone's effective file has its [dnssec]
// table, every setting written, and no DNSKEY, CDS or CDNSKEY records of
// its own (signing makes them): it loads signed the same way, and is a
// fixed point.
func TestEffectiveSigned(t *testing.T) {
	keys := fstest.MapFS{}
	for n, f := range keyFiles(t, "example.com.", "keys/K1", dns.ECDSAP256SHA256, 0) {
		keys[n] = f
	}
	for n, f := range keyFiles(t, "example.com.", "keys/K2", dns.ED25519, 0) {
		keys[n] = f
	}
	zone := "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n" +
		"[dnssec]\nkeys = [\"keys/K1\", \"keys/K2\"]\nsignature_validity = \"72h\"\ndnskey_ttl = 600\ncds = \"keys\"\n"
	fsys := fstest.MapFS{"gslb.toml": {Data: []byte(mainConf)}, "z.toml": {Data: []byte(zone)}}
	maps.Copy(fsys, keys)
	orig, err := Load(FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The effective zone file is in zones/: the keys are one folder up.
	opts := EffectiveOptions{Path: func(p string) string {
		if p == "" || !strings.HasPrefix(p, "keys/") {
			return p
		}
		return "../" + p
	}}
	files := orig.Effective(opts)
	text := string(files[1].Text)
	// No algorithm: the keys' differ (an algorithm rollover).
	if want := "[dnssec]\nenabled = true\nkeys = [\"../keys/K1.private\", \"../keys/K2.private\"]\nsignature_validity = \"72h0m0s\"\nnsec = \"compact\"\ndnskey_ttl = 600\ncds = \"keys\"\n"; !strings.Contains(text, want) {
		t.Errorf("no %q in:\n%s", want, text)
	}
	for _, no := range []string{"DNSKEY =", "CDS =", "CDNSKEY ="} {
		if strings.Contains(text, no) {
			t.Errorf("%q in:\n%s", no, text)
		}
	}
	again := fstest.MapFS{}
	for _, f := range files {
		again[f.Name] = &fstest.MapFile{Data: f.Text}
	}
	maps.Copy(again, keys)
	s, err := Load(FSFiles(again), EffectiveMainFile)
	if err != nil {
		t.Fatalf("the effective configuration does not load: %v\n%s", err, joinEffective(files))
	}
	if want, got := compiledView(orig), compiledView(s); want != got {
		t.Errorf("compiles differently:\n%s", lineDiff(want, got))
	}
	a, b := orig.Zones[0].Signing(), s.Zones[0].Signing()
	if b == nil || len(b.Keys) != 2 || b.Keys[0].Tag != a.Keys[0].Tag || b.Keys[1].Tag != a.Keys[1].Tag ||
		b.Validity != a.Validity || b.DNSKEYTTL != 600 || b.CDS != "keys" || b.OrigTTL != a.OrigTTL || b.NegTTL != a.NegTTL {
		t.Errorf("signing %+v, want %+v", b, a)
	}
	if second := s.Effective(opts); joinEffective(second) != joinEffective(files) {
		t.Errorf("not a fixed point:\n%s", lineDiff(joinEffective(files), joinEffective(second)))
	}
}
