package zones

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
)

const probeBase = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\n[records]\nns1 = { A = \"192.0.2.1\" }\n[services.www]\n"

// loadErrors loads zone and returns its errors as strings.
func loadErrors(t *testing.T, zone string) []string {
	t.Helper()
	_, err := loadText(t, zone)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	return got
}

func TestProbeErrors(t *testing.T) {
	four := "backends = [\n" +
		"  { name = \"a\", address = \"192.0.2.10\", check = { port = 8080 } },\n" +
		"  { name = \"b\", address = \"192.0.2.11\", check = { port = 8081 } },\n" +
		"  { name = \"c\", address = \"192.0.2.12\", check = { port = 8082 } },\n" +
		"  { name = \"d\", address = \"192.0.2.13\" },\n" +
		"]\n"
	cases := []struct {
		name string
		zone string
		want []string
	}{
		// issue 17 bug 5: once, where it is written, not once per backend.
		{"bad expect in the service's check", probeBase + "check = { type = \"http\", expect = \"2xx\" }\n" + four,
			[]string{`z.toml:7:26: services.www.check.expect: bad status "2xx": want a code 100..599 or a range such as 200-399`}},
		{"bad start in the service's check", probeBase + "check = { type = \"tcp\", port = 1, start = \"sideways\" }\n" + four,
			[]string{`z.toml:7:35: services.www.check.start: "sideways": want "pending", "up" or "down"`}},
		{"cross-field problem of the service's check: once", probeBase + "check = { type = \"http\", timeout = \"5s\" }\nbackends = [{ address = \"192.0.2.1\" }, { address = \"192.0.2.2\" }]\n",
			[]string{`z.toml:7:1: services.www.check: timeout 5s must be above 0 and below the interval 1s`}},
		{"values of the wrong type, all of them", probeBase + "check = { type = \"http\", port = \"80\", rise = 0, insecure = \"yes\" }\nbackends = [{ address = \"192.0.2.1\" }]\n",
			[]string{
				`z.toml:7:26: services.www.check.port: want an integer, got a string`,
				`z.toml:7:39: services.www.check.rise: 0 is out of range 1..100`,
				`z.toml:7:49: services.www.check.insecure: want true or false, got a string`,
			}},
		{"unknown key in a check", probeBase + "check = { type = \"http\", pth = \"/\" }\nbackends = [{ address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:7:26: unknown key "services.www.check.pth"; did you mean "path"?`}},
		{"inherited key of another kind", probeBase + "check = { type = \"http\", path = \"/x\" }\nbackends = [{ address = \"192.0.2.1\", check = { type = \"tcp\", port = 22 } }]\n",
			[]string{`z.toml:7:26: services.www.check: path does not apply to a tcp check (services.www.backends[0].check sets type = "tcp")`}},
		{"unknown type", probeBase + "check = { type = \"icmp\" }\nbackends = [{ address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:7:11: services.www.check.type: "icmp": want http, https, tcp, dns or none`}},
		{"bad query_type and rcode of a backend", probeBase + "backends = [{ address = \"192.0.2.1\", check = { type = \"dns\", query_name = \"x.\", query_type = \"AAA\", rcode = \"FINE\" } }]\n",
			[]string{
				`z.toml:7:81: services.www.backends[0].check.query_type: "AAA" is not a record type`,
				`z.toml:7:101: services.www.backends[0].check.rcode: "FINE" is not a DNS rcode`,
			}},
		{"headers that are not a table, or not strings", probeBase + "check = { type = \"http\", headers = 5 }\nbackends = [{ address = \"192.0.2.1\", check = { headers = { X-A = 1 } } }]\n",
			[]string{
				`z.toml:7:26: services.www.check.headers: want a table such as { X-Probe = "gslb" }, got an integer`,
				`z.toml:8:48: services.www.backends[0].check.headers: X-A: want a string, got an integer`,
			}},
		{"a table where a value belongs", probeBase + "geo = 5\nbackends = [{ address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:7:1: services.www.geo: want a table, got an integer`}},
		{"a value where an array belongs", probeBase + "backends = 5\n",
			[]string{`z.toml:7:1: services.www.backends: want an array, got an integer`}},
		{"type of the wrong type", probeBase + "check = { type = 5, path = \"/\" }\nbackends = [{ address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:7:11: services.www.check.type: want a string, got an integer`}},
		{"bad address in the service's check: once, at address", probeBase + "check = { type = \"tcp\", port = 1, address = \"db\" }\n" + four,
			[]string{`z.toml:7:35: services.www.check.address: "db": want an IP or IP:port`}},
		{"check that is not a table", probeBase + "check = \"http\"\nbackends = [{ address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:7:1: services.www.check: want a table such as { type = "http" }, got a string`}},
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

// TestProbeInheritance: a backend's check is the service's decoded first
// and the backend's over it, headers merged; type = "none" turns it off.
// (A backend of another type must not inherit keys of the service's type:
// see "inherited key of another kind" in TestProbeErrors.)
func TestProbeInheritance(t *testing.T) {
	s, err := loadText(t, probeBase+`check = { type = "http", port = 8080, path = "/health", interval = "2s", headers = { X-A = "1", X-B = "2" } }
backends = [
  { name = "plain", address = "192.0.2.10" },
  { name = "over", address = "192.0.2.11", check = { path = "/other", timeout = "1s", headers = { X-B = "3" } } },
  { name = "off", address = "192.0.2.13", check = { type = "none" } },
]
`)
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]health.Spec{}
	for _, b := range s.Zone("example.com.").Services[0].Backends {
		specs[b.Name] = b.Check
	}
	if c := specs["plain"]; c.Kind != "http" || c.Addr.String() != "192.0.2.10:8080" || c.HTTP.Path != "/health" || c.Interval != 2*time.Second || c.HTTP.Headers != health.Headers(map[string]string{"X-A": "1", "X-B": "2"}) {
		t.Errorf("plain: %+v", c)
	}
	if c := specs["over"]; c.HTTP.Path != "/other" || c.Timeout != time.Second || c.Interval != 2*time.Second || c.HTTP.Headers != health.Headers(map[string]string{"X-A": "1", "X-B": "3"}) {
		t.Errorf("over: %+v", c)
	}
	if c := specs["off"]; c.Kind != health.KindNone {
		t.Errorf("off: %+v", c)
	}
}
