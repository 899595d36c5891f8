package zones

import (
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
)

const registeredZone = `origin = "example.com."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "192.0.2.1" }
[services.api]
registration = true
max_registered = 3
check = { type = "http", port = 8080, path = "/health" }
backends = [{ name = "a", address = "10.0.0.1" }]
[services.geo]
registration = true
backends = [{ name = "eu1", address = "10.1.0.1" }, { name = "us1", address = "10.2.0.1" }]
pools = [{ name = "eu", backends = ["eu1"] }, { name = "us", backends = ["us1"] }]
[services.closed]
backends = [{ name = "x", address = "10.3.0.1" }]
[services.lease]
registration = true
backends = [{ name = "s", address = "10.4.0.1" }]
`

func reg(name, addr string, mod ...func(*RegisteredBackend)) RegisteredBackend {
	r := RegisteredBackend{Name: name, Address: netip.MustParseAddr(addr), Weight: 1}
	for _, m := range mod {
		m(&r)
	}
	return r
}

// TestRegisteredBackends: registered backends compile into their pools
// with the service's check (and its port and path override), and a
// registration that cannot join is left out with its reason.
func TestRegisteredBackends(t *testing.T) {
	regs := map[string][]RegisteredBackend{
		"api.example.com": {
			reg("web-7", "10.0.0.7", func(r *RegisteredBackend) { r.Weight, r.CheckPort, r.CheckPath = 2, 9000, "/ready" }),
			reg("a", "10.0.0.9"),   // a configured backend's name
			reg("dup", "10.0.0.1"), // a's address, in the same pool
			reg("web-8", "10.0.0.8"),
			reg("web-9", "10.0.0.10"),
			reg("web-10", "10.0.0.11"), // beyond max_registered = 3
		},
		"geo.example.com": {
			reg("eu2", "10.1.0.2", func(r *RegisteredBackend) { r.Pool = "eu" }),
			reg("where", "10.1.0.3"),
			reg("mars", "10.1.0.4", func(r *RegisteredBackend) { r.Pool = "mars" }),
		},
		"closed.example.com": {reg("sneaky", "10.3.0.2")},
		"lease.example.com":  {reg("held", "10.4.0.2"), reg("renewed", "10.4.0.3", func(r *RegisteredBackend) { r.Renewed = true })},
	}
	fsys := fstest.MapFS{"gslb.toml": {Data: []byte(mainConf)}, "z.toml": {Data: []byte(registeredZone)}}
	s, err := LoadWith(FSFiles(fsys), "gslb.toml", LoadOptions{Registered: func(svc string) []RegisteredBackend { return regs[svc] }})
	if err != nil {
		t.Fatal(err)
	}
	svc := func(name string) *Service {
		for _, x := range s.Services() {
			if x.Name == name {
				return x
			}
		}
		t.Fatalf("no service %s", name)
		return nil
	}
	members := func(p *Pool) string {
		var n []string
		for _, b := range p.Members {
			n = append(n, b.Name+"("+b.Source+")")
		}
		return strings.Join(n, " ")
	}
	api := svc("api.example.com.")
	if got := members(api.Pools[0]); got != "a(config) web-7(registered) web-8(registered) web-9(registered)" {
		t.Errorf("api's pool: %s", got)
	}
	w7 := api.Backends[1]
	if w7.ID != "api.example.com/web-7" || w7.Weight != 2 || w7.Check.Addr.String() != "10.0.0.7:9000" || w7.Check.HTTP.Path != "/ready" {
		t.Errorf("web-7: %s weight %v check %s %s", w7.ID, w7.Weight, w7.Check.Addr, w7.Check.HTTP.Path)
	}
	if b := api.Backends[2]; b.Check.Addr.String() != "10.0.0.8:8080" || b.Check.HTTP.Path != "/health" {
		t.Errorf("web-8's check: %s %s, want the service's", b.Check.Addr, b.Check.HTTP.Path)
	}
	geo := svc("geo.example.com.")
	if got := members(geo.Pools[0]); got != "eu1(config) eu2(registered)" {
		t.Errorf("geo's pool eu: %s", got)
	}
	if got := len(svc("closed.example.com.").Backends); got != 1 {
		t.Errorf("a service without registration = true took a registration: %d backends", got)
	}
	lease := svc("lease.example.com.")
	if held := lease.Backends[1]; held.Serving() || !held.Pending() {
		t.Errorf("a registration without a check, never renewed: serving %v pending %v", held.Serving(), held.Pending())
	}
	if renewed := lease.Backends[2]; !renewed.Serving() || renewed.Pending() {
		t.Errorf("a registration without a check, renewed: serving %v pending %v", renewed.Serving(), renewed.Pending())
	}
	if b := api.Backends[1]; b.held {
		t.Error("a registration with a check is held until its renewal: its probe decides")
	}
	want := map[string]string{
		"api.example.com/a":      `name "a" is a configured backend of the service`,
		"api.example.com/dup":    "address 10.0.0.1 is that of backend a in pool default",
		"api.example.com/web-10": "at most 3 registered backends",
		"geo.example.com/where":  "the service has 2 pools, name one: eu, us",
		"geo.example.com/mars":   `pool "mars": the service has no such pool`,
	}
	if len(s.Dropped) != len(want) {
		t.Errorf("dropped %v", s.Dropped)
	}
	for _, d := range s.Dropped {
		if w, ok := want[d.ID]; !ok || !strings.Contains(d.Reason, w) {
			t.Errorf("dropped %s: %q, want %q", d.ID, d.Reason, w)
		}
	}

	// Compiled again from what was read, whatever the files hold now.
	fsys["z.toml"] = &fstest.MapFile{Data: []byte("broken = [")}
	again, err := s.WithRegistered(func(svc string) []RegisteredBackend { return regs[svc][:1] })
	if err != nil {
		t.Fatal(err)
	}
	if got := len(again.Services()[0].Backends); got != 2 || again.Hash != s.Hash {
		t.Errorf("again: %d backends in api, hash %s (was %s)", got, again.Hash, s.Hash)
	}
}

// TestCheckRegistration: what the registration API answers 400 with.
func TestCheckRegistration(t *testing.T) {
	s, err := loadText(t, registeredZone)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Service{}
	for _, x := range s.Services() {
		byName[strings.Split(x.Name, ".")[0]] = x
	}
	cases := []struct {
		svc string
		r   RegisteredBackend
		err string
	}{
		{"api", reg("web-1", "10.0.0.5"), ""},
		{"geo", reg("eu2", "10.1.0.2", func(r *RegisteredBackend) { r.Pool = "eu" }), ""},
		{"closed", reg("web-1", "10.3.0.5"), "service closed.example.com does not take registrations (registration = true)"},
		{"api", reg("web 1", "10.0.0.5"), `name "web 1": use 1 to 64 letters, digits, '.', '_' or '-'`},
		{"api", reg("a", "10.0.0.5"), `name "a" is a configured backend of the service`},
		{"api", RegisteredBackend{Name: "x", Weight: 1}, "address: want an IP address"},
		{"api", reg("x", "0.0.0.0"), "address 0.0.0.0: an unspecified, multicast or link-local address cannot be answered"},
		{"api", reg("x", "ff02::1"), "address ff02::1: an unspecified, multicast or link-local address cannot be answered"},
		{"api", reg("x", "10.0.0.5", func(r *RegisteredBackend) { r.Weight = -1 }), "weight -1: want 0..1000000 (0: standby)"},
		{"api", reg("x", "10.0.0.5", func(r *RegisteredBackend) { r.Capacity = 2e9 }), "capacity 2e+09: want 0..1000000000"},
		{"api", reg("x", "10.0.0.5", func(r *RegisteredBackend) { r.CheckPath = "ready" }), `check.path "ready" must start with /`},
		{"geo", reg("x", "10.1.0.9"), "pool: the service has 2 pools, name one: eu, us"},
		{"geo", reg("x", "10.1.0.9", func(r *RegisteredBackend) { r.Pool = "mars" }), `pool "mars": the service has no such pool`},
	}
	for _, c := range cases {
		err := CheckRegistration(byName[c.svc], c.r)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.err {
			t.Errorf("%s %s: %q, want %q", c.svc, c.r.Name, got, c.err)
		}
	}
}

// TestMaxRegisteredNeedsRegistration: the bound alone is a mistake.
func TestMaxRegisteredNeedsRegistration(t *testing.T) {
	_, err := loadText(t, strings.Replace(registeredZone, "[services.closed]\n", "[services.closed]\nmax_registered = 5\n", 1))
	if err == nil || !strings.Contains(err.Error(), "max_registered applies with registration = true only") {
		t.Errorf("err %v", err)
	}
}

// TestScaleConfig: the scale table's mistakes, each with its position.
func TestScaleConfig(t *testing.T) {
	base := "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n[services.api]\nbackends = [{ name = \"a\", address = \"192.0.2.10\" }]\n"
	cases := []struct{ scale, err string }{
		{`scale = { low = 0.8, high = 0.5 }`, "z.toml:9:1: services.api.scale: low 0.8 and high 0.5: want 0 < low < high <= 10"},
		{`scale = { min = 5, max = 2 }`, "z.toml:9:1: services.api.scale: min 5 and max 2: want 1 <= min <= max <= 10000"},
		{`scale = { cooldown = "10ms" }`, "z.toml:9:1: services.api.scale: cooldown 10ms: want 1s..24h"},
		{`scale = { webhooks = ["ftp://x/y"] }`, `z.toml:9:11: services.api.scale.webhooks: "ftp://x/y": want an http or https URL`},
		{`scale = { webhooks = ["https://autoscaler.example/hook"] }`, "z.toml:9:11: services.api.scale.webhooks: webhooks are signed: set [webhooks] secret_file in the main file"},
		{`scale = { low = 0.4, high = 0.8, min = 2, max = 20, cooldown = "2m", stabilization = "10m", warmup = "30s" }`, ""},
	}
	for _, c := range cases {
		s, err := loadText(t, base+c.scale+"\n")
		got := ""
		if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, c.err) || (c.err == "" && got != "") {
			t.Errorf("%s: %q, want %q", c.scale, got, c.err)
		}
		if c.err == "" {
			sp := s.Services()[0].Scale
			if sp == nil || sp.Low != 0.4 || sp.Min != 2 || sp.Stabilization.Minutes() != 10 {
				t.Errorf("%s: %+v", c.scale, sp)
			}
		}
	}
}
