package zones

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gslb/gslb/zones/zonestest"
	"github.com/miekg/dns"
)

const mainConf = `zones = ["z.toml"]
`

// loadText loads a configuration made of mainConf and one zone file.
func loadText(t testing.TB, zone string) (*Snapshot, error) {
	t.Helper()
	fsys := fstest.MapFS{
		"gslb.toml": {Data: []byte(mainConf)},
		"z.toml":    {Data: []byte(zone)},
	}
	return Load(FSFiles(fsys), "gslb.toml")
}

const testZone = `origin = "example.com."
ttl = 300
ns = ["ns1", "ns.other.net."]
[soa]
rname = "hostmaster"
negative_ttl = 60
[records]
ns1 = { A = "192.0.2.1" }
"@" = { MX = "10 mail", TXT = "hello" }
mail = { A = "192.0.2.25" }
"a.b.c" = { A = "192.0.2.3" }
alias = { CNAME = "mail" }
dangling = { CNAME = "nothere" }
external = { CNAME = "www.example.net." }
tosvc = { CNAME = "www" }
"*.wild" = { A = "192.0.2.99", TXT = "wild" }
"sub.wild" = { TXT = "real" }
"*.cw" = { CNAME = "mail" }
child = { NS = ["ns.child", "ns.other.net."], DS = "12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF" }
"ns.child" = { A = "192.0.2.53" }
"deep.child" = { A = "192.0.2.54" }
[services.www]
ttl = 30
backends = [ { name = "a", address = "192.0.2.10" }, { address = "2001:db8::10" } ]
[services.v4only]
backends = [ { address = "192.0.2.11" } ]
`

func TestLookup(t *testing.T) {
	s, err := loadText(t, testZone)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		result Result
		zonestest.Case
	}{
		{Success, zonestest.Case{Qname: "example.com.", Qtype: dns.TypeSOA, Answer: []string{"example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 0 3600 600 604800 60"}}},
		{Success, zonestest.Case{Qname: "EXAMPLE.com.", Qtype: dns.TypeNS, Answer: []string{"EXAMPLE.com. 300 IN NS ns1.example.com.", "EXAMPLE.com. 300 IN NS ns.other.net."}, Extra: []string{"ns1.example.com. 300 IN A 192.0.2.1"}}},
		{Success, zonestest.Case{Qname: "example.com.", Qtype: dns.TypeMX, Answer: []string{"example.com. 300 IN MX 10 mail.example.com."}, Extra: []string{"mail.example.com. 300 IN A 192.0.2.25"}}},
		{NoData, zonestest.Case{Qname: "example.com.", Qtype: dns.TypeA}},
		{NXDomain, zonestest.Case{Qname: "nope.example.com.", Qtype: dns.TypeA}},
		{NoData, zonestest.Case{Qname: "b.c.example.com.", Qtype: dns.TypeA}}, // empty non-terminal
		{NoData, zonestest.Case{Qname: "c.example.com.", Qtype: dns.TypeTXT}},
		{NXDomain, zonestest.Case{Qname: "x.a.b.c.example.com.", Qtype: dns.TypeA}},
		{Success, zonestest.Case{Qname: "Alias.example.com.", Qtype: dns.TypeA, Answer: []string{"Alias.example.com. 300 IN CNAME mail.example.com.", "mail.example.com. 300 IN A 192.0.2.25"}}},
		{Success, zonestest.Case{Qname: "alias.example.com.", Qtype: dns.TypeCNAME, Answer: []string{"alias.example.com. 300 IN CNAME mail.example.com."}}},
		{NoData, zonestest.Case{Qname: "alias.example.com.", Qtype: dns.TypeTXT, Answer: []string{"alias.example.com. 300 IN CNAME mail.example.com."}}},
		{NXDomain, zonestest.Case{Qname: "dangling.example.com.", Qtype: dns.TypeA, Answer: []string{"dangling.example.com. 300 IN CNAME nothere.example.com."}}},
		{Success, zonestest.Case{Qname: "external.example.com.", Qtype: dns.TypeA, Answer: []string{"external.example.com. 300 IN CNAME www.example.net."}}},
		{Success, zonestest.Case{Qname: "tosvc.example.com.", Qtype: dns.TypeAAAA, Answer: []string{"tosvc.example.com. 300 IN CNAME www.example.com.", "www.example.com. 30 IN AAAA 2001:db8::10"}}},
		{Success, zonestest.Case{Qname: "WwW.example.com.", Qtype: dns.TypeA, Answer: []string{"WwW.example.com. 30 IN A 192.0.2.10"}}},
		{Success, zonestest.Case{Qname: "www.example.com.", Qtype: dns.TypeAAAA, Answer: []string{"www.example.com. 30 IN AAAA 2001:db8::10"}}},
		{NoData, zonestest.Case{Qname: "www.example.com.", Qtype: dns.TypeTXT}},
		{NoData, zonestest.Case{Qname: "v4only.example.com.", Qtype: dns.TypeAAAA}},
		{Success, zonestest.Case{Qname: "Foo.Wild.example.com.", Qtype: dns.TypeA, Answer: []string{"Foo.Wild.example.com. 300 IN A 192.0.2.99"}}},
		{Success, zonestest.Case{Qname: "a.b.wild.example.com.", Qtype: dns.TypeTXT, Answer: []string{"a.b.wild.example.com. 300 IN TXT \"wild\""}}},
		{NoData, zonestest.Case{Qname: "sub.wild.example.com.", Qtype: dns.TypeA}},                                                             // exists: no synthesis
		{NXDomain, zonestest.Case{Qname: "x.sub.wild.example.com.", Qtype: dns.TypeA}},                                                         // closest encloser sub.wild has no wildcard
		{NoData, zonestest.Case{Qname: "wild.example.com.", Qtype: dns.TypeA}},                                                                 // ENT above the wildcard
		{Success, zonestest.Case{Qname: "*.wild.example.com.", Qtype: dns.TypeA, Answer: []string{"*.wild.example.com. 300 IN A 192.0.2.99"}}}, // the wildcard itself
		{Success, zonestest.Case{Qname: "q.cw.example.com.", Qtype: dns.TypeA, Answer: []string{"q.cw.example.com. 300 IN CNAME mail.example.com.", "mail.example.com. 300 IN A 192.0.2.25"}}},
		{Delegation, zonestest.Case{Qname: "child.example.com.", Qtype: dns.TypeA, Ns: []string{"child.example.com. 300 IN NS ns.child.example.com.", "child.example.com. 300 IN NS ns.other.net."}, Extra: []string{"ns.child.example.com. 300 IN A 192.0.2.53"}}},
		{Delegation, zonestest.Case{Qname: "x.deep.child.example.com.", Qtype: dns.TypeA, Ns: []string{"child.example.com. 300 IN NS ns.child.example.com.", "child.example.com. 300 IN NS ns.other.net."}, Extra: []string{"ns.child.example.com. 300 IN A 192.0.2.53"}}},
		{Delegation, zonestest.Case{Qname: "ns.child.example.com.", Qtype: dns.TypeA, Ns: []string{"child.example.com. 300 IN NS ns.child.example.com.", "child.example.com. 300 IN NS ns.other.net."}, Extra: []string{"ns.child.example.com. 300 IN A 192.0.2.53"}}},
		{Success, zonestest.Case{Qname: "child.example.com.", Qtype: dns.TypeDS, Answer: []string{"child.example.com. 300 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}}},
		{Success, zonestest.Case{Qname: "www.example.com.", Qtype: dns.TypeANY, Answer: []string{"www.example.com. 30 IN A 192.0.2.10"}}},
		{Success, zonestest.Case{Qname: "example.com.", Qtype: dns.TypeANY, Answer: []string{"example.com. 300 IN NS ns1.example.com.", "example.com. 300 IN NS ns.other.net."}, Extra: []string{"ns1.example.com. 300 IN A 192.0.2.1"}}},
		{NoData, zonestest.Case{Qname: "mail.example.com.", Qtype: 999}},
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			lower := strings.ToLower(c.Qname)
			z := s.Zone(lower)
			if z == nil {
				t.Fatal("no zone")
			}
			a := z.Lookup(&Query{Name: c.Qname, Lower: lower, Type: c.Qtype})
			if a.Result != c.result {
				t.Errorf("result %v, want %v", a.Result, c.result)
			}
			c.CheckSections(t, a.Answer, a.Ns, a.Extra)
		})
	}
}

func TestNegativeSOA(t *testing.T) {
	s, err := loadText(t, testZone)
	if err != nil {
		t.Fatal(err)
	}
	soa := s.Zone("example.com.").NegativeSOA()
	if soa.Header().Ttl != 60 {
		t.Errorf("negative SOA TTL %d, want min(300, 60) = 60", soa.Header().Ttl)
	}
}

func TestZoneErrors(t *testing.T) {
	const base = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n"
	cases := []struct {
		name string
		zone string
		want []string
	}{
		{"bad ip", base + "a = { A = \"192.0.2.300\" }\n", []string{`z.toml:7:7: records.a.A: "192.0.2.300" is not an IP address`}},
		{"v6 in A", base + "a = { A = [\"192.0.2.1\", \"2001:db8::1\"] }\n", []string{`z.toml:7:25: records.a.A[1]: "2001:db8::1" is not an IPv4 address (IPv6 goes in AAAA)`}},
		{"unknown key", base + "[services.www]\nbackends = [{address = \"192.0.2.1\"}]\nttll = 5\n", []string{`z.toml:9:1: unknown key "services.www.ttll"; did you mean "ttl"?`}},
		// A misspelled key is the one error: nothing follows from the
		// key it stands for being absent (issue 17, bug 6).
		{"misspelled members, no follow-on", base + "[services.www]\nmemebers = \"weighted\"\nanswers = 1\nbackends = [{name = \"a\", address = \"192.0.2.1\"}]\n",
			[]string{`z.toml:8:1: unknown key "services.www.memebers"; did you mean "members"?`}},
		{"misspelled check address, no follow-on", base + "[services.www]\ncheck = { type = \"tcp\", adress = \"127.0.0.1:80\" }\nbackends = [{name = \"a\", address = \"192.0.2.1\"}]\n",
			[]string{`z.toml:8:25: unknown key "services.www.check.adress"; did you mean "address"?`}},
		{"misspelled backend address, no follow-on", base + "[services.www]\nbackends = [{name = \"a\", adress = \"192.0.2.1\"}, {name = \"b\", address = \"192.0.2.2\"}]\n",
			[]string{`z.toml:8:26: unknown key "services.www.backends[0].adress"; did you mean "address"?`}},
		{"unknown keys named with their index", base + "[services.www]\nbackends = [{name = \"a\", address = \"192.0.2.1\"}, {name = \"b\", address = \"192.0.2.2\", wieght = 2}]\n",
			[]string{`z.toml:8:86: unknown key "services.www.backends[1].wieght"; did you mean "weight"?`}},
		{"check key on a backend", base + "[services.www]\nbackends = [{name = \"a\", address = \"192.0.2.1\", rise = 3}]\n",
			[]string{`z.toml:8:49: unknown key "services.www.backends[0].rise": rise is a check setting; write it in the check table: check = { rise = … }`}},
		{"check key on a service", base + "[services.www]\ninterval = \"1s\"\nbackends = [{name = \"a\", address = \"192.0.2.1\"}]\n",
			[]string{`z.toml:8:1: unknown key "services.www.interval": interval is a check setting; write it in the check table: check = { interval = … }`}},
		{"unknown key far from any", base + "[services.www]\nzzzz = 1\nbackends = [{name = \"a\", address = \"192.0.2.1\"}]\n",
			[]string{`z.toml:8:1: unknown key "services.www.zzzz"`}},
		{"unknown top key", "orgin = \"x\"\n" + base, []string{`z.toml:1:1: unknown key "orgin"; did you mean "origin"?`}},
		{"cname beside a", base + "a = { A = \"192.0.2.1\", CNAME = \"b\" }\n", []string{`z.toml:7:24: records.a: a CNAME cannot stand beside other data (A) at a.example.com. (RFC 1034 section 3.6.2)`}},
		{"cname at apex", base + "\"@\" = { CNAME = \"b\" }\n", []string{`z.toml:7:9: records."@".CNAME: a CNAME is not allowed at the zone apex (it would hide the SOA and NS)`}},
		{"outside", base + "\"www.example.net.\" = { A = \"192.0.2.1\" }\n", []string{`z.toml:7:1: records."www.example.net.": "www.example.net." is outside the zone example.com.`}},
		{"duplicate name", base + "www = { A = \"192.0.2.1\" }\n\"WWW.example.com.\" = { A = \"192.0.2.2\" }\n", []string{`z.toml:8:1: records."WWW.example.com.": WWW.example.com. is already defined at line 7 (records.www)`}},
		{"service with records", base + "www = { TXT = \"x\" }\n[services.www]\nbackends = [{address = \"192.0.2.1\"}]\n", []string{`z.toml:8:1: services.www: service www.example.com. shares its name with static records at line 7 (records.www); a name is either a service or static records`}},
		{"ttl out of range", base + "a = { A = \"192.0.2.1\", ttl = 4294967295 }\n", []string{`z.toml:7:24: records.a.ttl: 4294967295 is out of range 0..2147483647`}},
		{"ttl bad unit", base + "a = { A = \"192.0.2.1\", ttl = \"5y\" }\n", []string{`z.toml:7:24: records.a.ttl: bad duration "5y": unknown unit 'y' (use s, m, h, d or w)`}},
		{"unknown type", base + "a = { AA = \"192.0.2.1\" }\n", []string{`z.toml:7:7: records.a.AA: unknown or unsupported record type "AA" (supported: A AAAA CAA CNAME DS HINFO HTTPS MX NAPTR NS PTR SRV SSHFP SVCB TLSA TXT); a typo?`}},
		{"missing soa", "origin = \"example.com.\"\nns = [\"ns.example.net.\"]\n", []string{`z.toml: [soa]: missing; every zone needs an SOA, e.g. [soa] rname = "hostmaster.example.com."`}},
		{"missing ns", "origin = \"example.com.\"\n[soa]\n", []string{`z.toml: ns: missing; list the zone's name servers, e.g. ns = ["ns1", "ns2"]`}},
		{"missing glue", "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\n", []string{`z.toml:2:1: example.com.: name server ns1.example.com. is inside the zone but has no A or AAAA records (glue missing)`}},
		{"missing delegation glue", base + "sub = { NS = \"ns.sub\" }\n", []string{`z.toml:7:1: sub.example.com.: name server ns.sub.example.com. is inside the zone but has no A or AAAA records (glue missing)`}},
		{"data below cut", base + "sub = { NS = \"ns.example.net.\" }\n\"x.sub\" = { TXT = \"hidden\" }\n", []string{`z.toml:8:1: records."x.sub": TXT records at x.sub.example.com. are below the delegation of sub.example.com.; only glue (A, AAAA) may be there`}},
		{"bad mx", base + "\"@\" = { MX = \"mail\" }\n", []string{`z.toml:7:9: records."@".MX: bad MX record "mail": bad MX Pref: "mail"`}},
		{"syntax", base + "a = { A = \"192.0.2.1\" \n", []string{`z.toml:7:23: records.a.A: expected a comma or an inline table terminator '}', but got end of file instead`}},
		// Columns count characters, in syntax errors too (the library
		// counts bytes), and a byte order mark takes none.
		{"syntax after non-ASCII", "\xef\xbb\xbf" + base + "\"é\" = { A = \"192.0.2.1\" \n", []string{`z.toml:7:25: records."é".A: expected a comma or an inline table terminator '}', but got end of file instead`}},
		{"type mismatch", "origin = 5\n", []string{`z.toml:1:1: origin: want a string, got an integer`}},
		{"bad backend", base + "[services.www]\nbackends = [{address = \"192.0.2.1\"}, {name=\"b\", address = \"nope\"}]\n", []string{`z.toml:8:49: services.www.backends[1].address: "nope" is not an IP address`}},
		{"bad backend in a pool: one error", base + "[services.www]\nbackends = [{name=\"a\", address = \"192.0.2.1\"}, {name=\"b\", address = \"nope\"}]\npools = [{name = \"p\", backends = [\"a\", \"b\"]}]\n",
			[]string{`z.toml:8:59: services.www.backends[1].address: "nope" is not an IP address`}},
		{"no backends", base + "[services.www]\nttl = 30\n", []string{`z.toml:7:1: services.www: a service needs at least one backend`}},
		{"bad DS hex", base + "sub = { NS = \"ns.example.net.\", DS = \"1 13 2 zz\" }\n", []string{`z.toml:7:33: records.sub.DS: bad DS record "1 13 2 zz": encoding/hex: invalid byte: U+007A 'z'`}},
		{"unquoted dotted name", base + "foo.lab = { A = \"192.0.2.1\" }\n", []string{`z.toml:7:1: records.foo.lab: a dotted name must be quoted: write "foo.lab" = { ... }`}},
		{"check without type", base + "[services.www]\ncheck = { path = \"/x\" }\nbackends = [{address = \"192.0.2.1\"}]\n", []string{`z.toml:8:1: services.www.check: a check needs a type: http, https, tcp, dns or none`}},
		{"check key of another kind", base + "[services.www]\ncheck = { type = \"tcp\", port = 80, path = \"/x\" }\nbackends = [{address = \"192.0.2.1\"}]\n", []string{`z.toml:8:36: services.www.check: path does not apply to a tcp check`}},
		{"check timeout not below interval", base + "[services.www]\nbackends = [{address = \"192.0.2.1\", check = { type = \"http\", timeout = \"2s\" }}]\n", []string{`z.toml:8:37: services.www.backends[0].check: timeout 2s must be above 0 and below the interval 1s`}},
		// issue 17 bug 1: a value of the wrong type no longer hides the
		// others, and each has its column.
		{"wrong types and ranges, all reported", base + "[services.www]\nanswers = \"1\"\nmembers = \"weighted\"\nttl = true\nbackends = [{name = \"a\", address = \"192.0.2.1\", weight = nan}]\npools = [{name = \"p\", backends = [\"a\"], bias = 200, coordinates = [1]}]\n",
			[]string{
				`z.toml:8:1: services.www.answers: want an integer, got a string`,
				`z.toml:10:1: services.www.ttl: want seconds as a number or a string such as "5m", got a boolean`,
				`z.toml:11:49: services.www.backends[0].weight: NaN is not a number`,
				`z.toml:12:41: services.www.pools[0].bias: 200 is out of range -99..99`,
				`z.toml:12:53: services.www.pools[0].coordinates: want [latitude, longitude] in degrees`,
			}},
		{"strings of the wrong type, no follow-on errors", base + "[services.www]\nmembers = 5\nbackends = [{name = 1, address = \"192.0.2.1\"}, {address = true}]\n",
			[]string{
				`z.toml:8:1: services.www.members: want a string, got an integer`,
				`z.toml:9:14: services.www.backends[0].name: want a string, got an integer`,
				`z.toml:9:49: services.www.backends[1].address: want a string, got a boolean`,
			}},
		// The TOML library decodes a value that is not a table into a map
		// without an error: each is caught (issue 18).
		{"records that are not tables", base + "x = \"192.0.2.1\"\ny = 5\n",
			[]string{
				`z.toml:7:1: records.x: want a table of records such as { A = "192.0.2.1" }, got a string`,
				`z.toml:8:1: records.y: want a table of records such as { A = "192.0.2.1" }, got an integer`,
			}},
		{"records and services not tables", "records = 5\nservices = \"x\"\n" + strings.Replace(base, "[records]\n", "[soa2]\n", 1),
			[]string{
				`z.toml:1:1: records: want a table, got an integer`,
				`z.toml:2:1: services: want a table, got a string`,
				`z.toml:4:1: example.com.: name server ns1.example.com. is inside the zone but has no A or AAAA records (glue missing)`,
				`z.toml:7:1: unknown key "soa2"; did you mean "soa"?`,
			}},
		{"arrays of names with elements of the wrong type", base + "[services.www]\nbackends = [{name = \"a\", address = \"192.0.2.1\"}]\npools = [{name = \"p\", backends = [5, \"a\"]}]\npolicy = \"geo\"\ngeo = { default = \"p\" }\n",
			[]string{
				`z.toml:9:35: services.www.pools[0].backends[0]: want a string, got an integer`,
				`z.toml:11:9: services.www.geo.default: want an array of strings such as ["p"], got a string`,
			}},
		{"geo rules that are not tables", base + "[services.www]\nbackends = [{name = \"a\", address = \"192.0.2.1\"}]\npools = [{name = \"p\", backends = [\"a\"]}]\npolicy = \"geo\"\ngeo = { default = [\"p\"], continent = 5, cidr = { \"10.0.0.0/8\" = [1] } }\n",
			[]string{
				`z.toml:11:26: services.www.geo.continent: want a table, got an integer`,
				`z.toml:11:66: services.www.geo.cidr."10.0.0.0/8"[0]: want a string, got an integer`,
			}},
		// The library stops at a table or an array written as something
		// else; each service is decoded on its own, so that such a
		// mistake costs that service only.
		{"a structural mistake in one service hides nothing else", base + "a = { A = \"192.0.2.300\" }\n[services.one]\nbackends = 5\nbogus = 1\n[services.two]\nbackends = [{address = \"192.0.2.1\"}]\nttl = \"x\"\n[services.three]\nsoa = 1\n",
			[]string{
				`z.toml:7:7: records.a.A: "192.0.2.300" is not an IP address`,
				`z.toml:9:1: services.one.backends: want an array, got an integer`,
				`z.toml:13:1: services.two.ttl: bad duration "x": want a number and a unit (s, m, h, d, w), e.g. "5m"`,
				`z.toml:14:1: services.three: a service needs at least one backend`,
				`z.toml:15:1: unknown key "services.three.soa"`,
			}},
		{"three at once", base + "a = { A = \"192.0.2.300\" }\nb = { A = \"192.0.2.1\", CNAME = \"a\" }\n[services.x]\nbackends = [{address=\"192.0.2.1\"}]\nbogus = 1\n",
			[]string{`z.toml:7:7: records.a.A: "192.0.2.300" is not an IP address`, `z.toml:8:24: records.b: a CNAME cannot stand beside other data (A) at b.example.com. (RFC 1034 section 3.6.2)`, `z.toml:11:1: unknown key "services.x.bogus"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := loadErrors(t, c.zone)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ conf, want string }{
		{"zones = [\"z.toml\"]\n[server]\ndns = []\n", "gslb.toml:3:1: server.dns: no address given; leave the key out for the defaults"},
		{"zones = [\"z.toml\"]\n[server]\ndns = [\"localhost:53\"]\n", `gslb.toml:3:8: server.dns[0]: "localhost:53" is not an IP:port address (use [::1]:53 for IPv6)`},
		{"zones = [\"missing.toml\"]\n", "missing.toml: cannot read zone file: file does not exist"},
		{"zones = []\n", `gslb.toml:1:1: zones: no zone files given (e.g. zones = ["zones/*.toml"])`},
		{"zones = [\"z.toml\"]\n[limits]\nmin_ttl = 60\n", "gslb.toml: defaults.service_ttl: 30 is outside limits.min_ttl..limits.max_ttl (60..604800)\nz.toml:23:1: services.www.ttl: TTL 30 is outside the allowed range 60..604800 (limits.min_ttl, limits.max_ttl)"},
		{"zones = [\"z.toml\"]\n[limits]\ntcp_idle_timeout = \"10\"\n", `gslb.toml:3:1: limits.tcp_idle_timeout: bad duration "10": want e.g. "10s" or "500ms"`},
		{"zones = [\"z.toml\"]\n[identiy]\nid = \"x\"\n", `gslb.toml:2:1: unknown key "identiy"; did you mean "identity"?`},
		{"zones = [5, \"nope.toml\"]\n", "gslb.toml:1:10: zones[0]: want a string, got an integer\nnope.toml: cannot read zone file: file does not exist"},
		{"zones = \"z.toml\"\n[rrl]\nresponses_per_second = nan\nslip = 101\nexempt = [\"10.0.0.0/8\", \"x\"]\n[geo]\necs = [\"192.0.2.0/24\", 7]\n",
			"gslb.toml:1:1: zones: want an array of strings such as [\"z.toml\"], got a string\n" +
				"gslb.toml:3:1: rrl.responses_per_second: NaN is not a number\n" +
				"gslb.toml:4:1: rrl.slip: 101 is out of range 0..100 (0: never send a truncated reply)\n" +
				"gslb.toml:5:25: rrl.exempt[1]: \"x\" is not a network such as \"192.0.2.0/24\"\n" +
				"gslb.toml:7:24: geo.ecs[1]: 7 is not a network such as \"192.0.2.0/24\""},
	}
	cl := "zones = [\"z.toml\"]\n[cluster]\n"
	cases = append(cases, []struct{ conf, want string }{
		{cl + "bind = \"127.0.0.1:7946\"\n", "gslb.toml:3:1: cluster.bind: a cluster needs a keyring (cluster.keyring, made by gslb cluster keygen); insecure = true allows none on a loopback address only"},
		{cl + "insecure = true\n", "gslb.toml:3:1: cluster.insecure: gossip in plain text is for a loopback bind address only, not 0.0.0.0: give cluster.keyring"},
		{cl + "insecure = true\nbind = \"127.0.0.1\"\njoin = [\"a b\", \"10.0.0.2:99999\", \"ns2.example.net\"]\nprofile = \"fast\"\nrejoin_interval = \"1ms\"\nquorum = \"most\"\n",
			"gslb.toml:5:9: cluster.join: \"a b\" is not host:port or host\n" +
				"gslb.toml:5:16: cluster.join: \"10.0.0.2:99999\" is not host:port or host\n" +
				"gslb.toml:6:1: cluster.profile: \"fast\": want \"lan\", \"wan\" or \"local\"\n" +
				"gslb.toml:7:1: cluster.rejoin_interval: 1ms: want 100ms to 1h\n" +
				"gslb.toml:8:1: cluster.quorum: quorum \"most\": want local, majority, any, all or a percentage like \"60%\""},
	}...)
	for _, c := range cases {
		fsys := fstest.MapFS{"gslb.toml": {Data: []byte(c.conf)}, "z.toml": {Data: []byte(testZone)}}
		_, err := Load(FSFiles(fsys), "gslb.toml")
		if err == nil || err.Error() != c.want {
			t.Errorf("config %q:\n got %v\nwant %s", c.conf, err, c.want)
		}
	}
}

func TestSecondsParse(t *testing.T) {
	cases := map[string]uint32{"0": 0, "30": 30, "30s": 30, "5m": 300, "1h30m": 5400, "1d": 86400, "1w": 604800, "2H": 7200}
	for in, want := range cases {
		got, err := parseSeconds(in)
		if err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "5", "5x", "-1", "99999999999s", "1h-"} {
		if bad == "5" {
			continue
		}
		if _, err := parseSeconds(bad); err == nil {
			t.Errorf("parseSeconds(%q): want an error", bad)
		}
	}
}

// TestErrorsStable: a file with fifteen mistakes of different kinds gives
// fifteen errors, each once, the same in every run (issue 17 bug 1: the
// first type error used to end the decode, at a line that changed from run
// to run with the order of Go maps).
func TestErrorsStable(t *testing.T) {
	const zone = `origin = "example.com."
ttl = "5y"
ns = ["ns1", 5]
[soa]
serial = "today"
[records]
ns1 = { A = "192.0.2.1" }
a = { A = "192.0.2.300" }
b = { AA = "x" }
c = 5
[services.www]
answers = "1"
members = "weighted"
backends = [{ name = "x", address = "nope" }, { address = "192.0.2.2", weight = -1 }]
check = { type = "http", expect = "2xx", pth = "/" }
[services.api]
memebers = "weighted"
answers = 1
backends = [{ name = "a", address = "192.0.2.5", rise = 2 }, { name = "a", address = "192.0.2.6" }]
pools = [{ name = "p", backends = ["a", "zz"] }]
`
	want := []string{
		`z.toml:2:1: ttl: bad duration "5y": unknown unit 'y' (use s, m, h, d or w)`,
		`z.toml:3:14: ns[1]: want a string, got an integer`,
		`z.toml:5:1: soa.serial: want a number or "auto", got "today"`,
		`z.toml:8:7: records.a.A: "192.0.2.300" is not an IP address`,
		`z.toml:9:7: records.b.AA: unknown or unsupported record type "AA" (supported: A AAAA CAA CNAME DS HINFO HTTPS MX NAPTR NS PTR SRV SSHFP SVCB TLSA TXT); a typo?`,
		`z.toml:10:1: records.c: want a table of records such as { A = "192.0.2.1" }, got an integer`,
		`z.toml:12:1: services.www.answers: want an integer, got a string`,
		`z.toml:14:27: services.www.backends[0].address: "nope" is not an IP address`,
		`z.toml:14:72: services.www.backends[1].weight: -1 is out of range 0..1000000 (0: standby)`,
		`z.toml:15:26: services.www.check.expect: bad status "2xx": want a code 100..599 or a range such as 200-399`,
		`z.toml:15:42: unknown key "services.www.check.pth"; did you mean "path"?`,
		`z.toml:17:1: unknown key "services.api.memebers"; did you mean "members"?`,
		`z.toml:19:50: unknown key "services.api.backends[0].rise": rise is a check setting; write it in the check table: check = { rise = … }`,
		`z.toml:19:64: services.api.backends[1]: backend name "a" is already used by backends[0]`,
		`z.toml:20:24: services.api.pools[0].backends: no backend named "zz" in this service`,
	}
	for run := range 20 {
		got := loadErrors(t, zone)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("run %d:\n got %q\nwant %q", run, got, want)
		}
	}
}
