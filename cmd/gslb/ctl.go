package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gslb/gslb/internal/audit"
	"github.com/gslb/gslb/zones"
)

// ctlOpts are the flags of gslb ctl.
type ctlOpts struct {
	config, server, tokenFile, caFile *string
	reason, forDur                    *string
	client, ecs                       *string
}

// ctlActions are the subcommands that set or clear backends' admin
// overrides, with the state each PUTs ("" clears with DELETE).
var ctlActions = map[string]string{
	"drain":      "drain",
	"undrain":    "",
	"force-up":   "up",
	"force-down": "down",
}

func ctlCommand() *command {
	return &command{
		name: "ctl",
		args: "status | backends [SERVICE] | drain|undrain|force-up|force-down TARGET | reload | explain NAME [TYPE]",
		summary: "control a running server through its HTTP API (status, backends, drain, undrain, force-up,\n" +
			"force-down, reload, explain)",
		help: "Talk to a running gslb's HTTP API, as rndc and gdnsdctl do.\n" +
			"  status                       the server's state, one line per service\n" +
			"  backends [SERVICE]           every backend with its health, admin state and share\n" +
			"  drain TARGET                 stop answering new clients with TARGET (-reason, -for)\n" +
			"  undrain TARGET               clear TARGET's admin override (drain, force-up or force-down)\n" +
			"  force-up TARGET              answer TARGET whatever its health says\n" +
			"  force-down TARGET            never answer TARGET\n" +
			"  reload                       reload the configuration, as SIGHUP does, and print its problems\n" +
			"  explain NAME [TYPE]          the server's explanation of an answer, with live health\n" +
			"TARGET is a whole service (www, or www.gslb.example.com: the zone's origin\n" +
			"may be left out), SERVICE/BACKEND, or SERVICE/POOL for every backend of a\n" +
			"pool (write SERVICE/pool:NAME or SERVICE/backend:NAME when a pool and a\n" +
			"backend share a name). The server is -server, else $GSLB_SERVER, else the\n" +
			"HTTP address of the configuration; the admin token is read from\n" +
			"-token-file, else $GSLB_TOKEN, else the configuration's [admin] token_file.",
		exit:  "0  done\n1  the server refused or could not be reached (the reason is on stderr)\n2  bad command line or unknown target",
		words: []string{"status", "backends", "drain", "undrain", "force-up", "force-down", "reload", "explain", "audit"},
		flags: func(fs *flag.FlagSet) any {
			return &ctlOpts{
				config:    configFlag(fs),
				server:    fs.String("server", "", "the server's HTTP `URL` (default: $GSLB_SERVER, else http:// and the configuration's [server] http)"),
				tokenFile: fs.String("token-file", "", "read the admin token from `FILE` (default: $GSLB_TOKEN, else the configuration's [admin] token_file)"),
				caFile:    fs.String("cacert", "", "trust the HTTPS server whose certificate (or its CA's) is in PEM `FILE` (default: the system's roots, and the configuration's [http] tls_cert)"),
				reason:    fs.String("reason", "", "`TEXT` saying why, for drain, force-up and force-down: shown in the status and the log"),
				forDur:    fs.String("for", "", "how long (a `DURATION`) an override lasts, e.g. 30m (default: until undrain)"),
				client:    fs.String("client", "", "for explain: the client's `IP` (default: this machine's address as the server sees it)"),
				ecs:       fs.String("ecs", "", "for explain: the EDNS Client `SUBNET`"),
			}
		},
		run: func(e *env, o any, args []string) int { return ctl(e, o.(*ctlOpts), args) },
	}
}

// ctlClient talks to a running server's API.
type ctlClient struct {
	base  string
	token string
	http  *http.Client
}

// ctl is gslb ctl.
func ctl(e *env, o *ctlOpts, args []string) int {
	if len(args) == 0 {
		return usageError(e, "ctl", "a subcommand is needed: status, backends, drain, undrain, force-up, force-down, reload, explain or audit")
	}
	sub, args := args[0], args[1:]
	c, err := newCtlClient(e, o)
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 2
	}
	switch sub {
	case "status":
		if len(args) > 0 {
			return usageError(e, "ctl", "status takes no argument")
		}
		return c.status(e)
	case "backends":
		if len(args) > 1 {
			return usageError(e, "ctl", "backends takes one SERVICE at most")
		}
		return c.backends(e, args)
	case "reload":
		if len(args) > 0 {
			return usageError(e, "ctl", "reload takes no argument")
		}
		return c.reload(e)
	case "explain":
		if len(args) < 1 || len(args) > 2 {
			return usageError(e, "ctl", "explain takes NAME [TYPE]")
		}
		return c.explain(e, o, args)
	case "audit":
		if len(args) > 1 {
			return usageError(e, "ctl", "audit takes one SERVICE/BACKEND at most")
		}
		return c.audit(e, args)
	}
	state, ok := ctlActions[sub]
	if !ok {
		return usageError(e, "ctl", "unknown subcommand %q: want status, backends, drain, undrain, force-up, force-down, reload, explain or audit", sub)
	}
	if len(args) != 1 {
		return usageError(e, "ctl", "%s takes one TARGET: SERVICE, SERVICE/BACKEND or SERVICE/POOL", sub)
	}
	if state == "" && (*o.reason != "" || *o.forDur != "") {
		return usageError(e, "ctl", "undrain clears the override: -reason and -for do not apply")
	}
	return c.override(e, sub, state, args[0], *o.reason, *o.forDur)
}

// newCtlClient finds the server and the token: flags, then the
// environment, then the configuration.
func newCtlClient(e *env, o *ctlOpts) (*ctlClient, error) {
	c := &ctlClient{base: *o.server, http: &http.Client{Timeout: 10 * time.Second}}
	if c.base == "" {
		c.base = e.getenv("GSLB_SERVER")
	}
	tokenFile := *o.tokenFile
	ownCert := "" // the configuration's own certificate, trusted too
	if tokenFile == "" {
		c.token = strings.TrimSpace(e.getenv("GSLB_TOKEN"))
	}
	if c.base == "" || (tokenFile == "" && c.token == "") {
		src := e.configFrom(*o.config)
		var cfg *zones.Config
		var err error
		if src.path == "" {
			cfg = bundledConfig()
		} else if cfg, err = zones.LoadConfig(zones.OSFiles(), src.path); err != nil {
			if c.base == "" {
				return nil, fmt.Errorf("no -server, no $GSLB_SERVER, and %s does not load: %v", src.why, err)
			}
		}
		if cfg != nil {
			if c.base == "" {
				if cfg.HTTPAddr == "" || cfg.HTTPAddr == "off" {
					return nil, fmt.Errorf("%s has no HTTP side ([server] http is off): give -server URL", src.why)
				}
				c.base = "http://" + cfg.HTTPAddr
				if cfg.TLSCert != "" {
					c.base = "https://" + cfg.HTTPAddr
				}
			}
			if *o.caFile == "" {
				ownCert = cfg.TLSCert
			}
			if tokenFile == "" && c.token == "" {
				tokenFile = cfg.AdminTokenFile
			}
		}
	}
	if ca := *o.caFile; ca != "" || ownCert != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range []string{ca, ownCert} {
			if f == "" {
				continue
			}
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("-cacert: %v", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s holds no PEM certificate", f)
			}
		}
		c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	if tokenFile != "" {
		tok, err := readToken(tokenFile)
		if err != nil {
			return nil, err
		}
		c.token = tok
	}
	if !strings.Contains(c.base, "://") {
		c.base = "http://" + c.base
	}
	u, err := url.Parse(c.base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("-server %q: want a URL such as http://127.0.0.1:9153", c.base)
	}
	c.base = strings.TrimSuffix(c.base, "/")
	return c, nil
}

// bundledConfig is the bundled example's main configuration.
func bundledConfig() *zones.Config {
	snap, err := loadConfig("")
	if err != nil {
		return nil
	}
	return snap.Config
}

// do sends a request to the API and decodes a JSON answer into out (nil:
// the body is returned as is). A status other than 2xx is an error with
// the server's words.
func (c *ctlClient) do(method, path string, body any, out any) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot reach the server: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		var ae struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &ae) == nil && ae.Error != "" {
			return b, resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, ae.Error)
		}
		return b, resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return b, resp.StatusCode, fmt.Errorf("%s%s: not the JSON expected: %v", c.base, path, err)
		}
	}
	return b, resp.StatusCode, nil
}

// ctlStatus is what ctl reads of GET /api/v1/status.
type ctlStatus struct {
	Version string `json:"version"`
	Config  struct {
		File            string    `json:"file"`
		Hash            string    `json:"hash"`
		LoadedAt        time.Time `json:"loaded_at"`
		LastReloadError *string   `json:"last_reload_error"`
	} `json:"config"`
	Zones []struct {
		Origin string `json:"origin"`
		Serial uint32 `json:"serial"`
	} `json:"zones"`
	Services []ctlService `json:"services"`
}

type ctlService struct {
	Name    string `json:"name"`
	Policy  string `json:"policy"`
	Members string `json:"members"`
	Pools   []struct {
		Name     string   `json:"name"`
		Backends []string `json:"backends"`
	} `json:"pools"`
	Backends []ctlBackend `json:"backends"`
}

type ctlBackend struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Address         string   `json:"address"`
	Serving         bool     `json:"serving"`
	Healthy         bool     `json:"healthy"`
	Pending         bool     `json:"pending"`
	LastError       string   `json:"last_error"`
	Weight          float64  `json:"weight"`
	EffectiveWeight float64  `json:"effective_weight"`
	AnswerShare     *float64 `json:"answer_share"`
	Admin           *struct {
		State   string     `json:"state"`
		Reason  string     `json:"reason"`
		Expires *time.Time `json:"expires"`
	} `json:"admin"`
}

// audit prints the latest records of the audit trail (of one backend
// when args names it), oldest first.
func (c *ctlClient) audit(e *env, args []string) int {
	path := "/api/v1/audit?limit=1000"
	if len(args) == 1 {
		path += "&backend=" + url.QueryEscape(args[0])
	}
	var out struct {
		File    string        `json:"file"`
		Records []audit.Entry `json:"records"`
	}
	if _, _, err := c.do("GET", path, nil, &out); err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 1
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tBACKEND\tBY\tFROM\tDETAIL")
	for _, r := range out.Records {
		from := r.From
		if r.Via != "" {
			from = strings.TrimSpace(from + " via " + r.Via)
		}
		keys := slices.Sorted(maps.Keys(r.Detail))
		detail := make([]string, 0, len(keys))
		for _, k := range keys {
			detail = append(detail, k+"="+strconv.Quote(r.Detail[k]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Action, dash(r.Backend), r.By, dash(from), strings.Join(detail, " "))
	}
	tw.Flush()
	if out.File == "" {
		fmt.Fprintln(e.stderr, "gslb ctl: the server keeps no audit file (no state directory): these are the records in its memory")
	}
	return 0
}

// dash is s, or "-" for nothing.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *ctlClient) getStatus() (*ctlStatus, error) {
	var st ctlStatus
	if _, _, err := c.do("GET", "/api/v1/status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// status prints the server's state: configuration, zones, one line per
// service.
func (c *ctlClient) status(e *env) int {
	st, err := c.getStatus()
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "server %s, gslb %s\n", c.base, st.Version)
	fmt.Fprintf(e.stdout, "config %s, hash %s, loaded %s\n", st.Config.File, st.Config.Hash, st.Config.LoadedAt.UTC().Format(time.RFC3339))
	if st.Config.LastReloadError != nil {
		fmt.Fprintf(e.stdout, "last reload REJECTED (still serving the previous configuration):\n%s\n", indent(*st.Config.LastReloadError, "  "))
	}
	for _, z := range st.Zones {
		fmt.Fprintf(e.stdout, "zone %s serial %d\n", z.Origin, z.Serial)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPOLICY\tSERVING\tSTATE")
	for _, s := range st.Services {
		serving, down, admin := 0, 0, 0
		for _, b := range s.Backends {
			if b.Serving {
				serving++
			}
			if !b.Healthy && !b.Pending {
				down++
			}
			if b.Admin != nil {
				admin++
			}
		}
		state := "ok"
		switch {
		case serving == 0:
			state = "DOWN: nothing serving"
		case down > 0 || admin > 0:
			var parts []string
			if down > 0 {
				parts = append(parts, fmt.Sprintf("%d unhealthy", down))
			}
			if admin > 0 {
				parts = append(parts, fmt.Sprintf("%d with an admin override", admin))
			}
			state = "degraded: " + strings.Join(parts, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%d/%d\t%s\n", s.Name, s.Policy, s.Members, serving, len(s.Backends), state)
	}
	tw.Flush()
	return 0
}

// backends prints every backend, or a service's.
func (c *ctlClient) backends(e *env, args []string) int {
	st, err := c.getStatus()
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 1
	}
	services := st.Services
	if len(args) == 1 {
		s, err := findService(st, args[0])
		if err != nil {
			fmt.Fprintln(e.stderr, "gslb ctl:", err)
			return 2
		}
		services = []ctlService{*s}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tADDRESS\tHEALTH\tADMIN\tSERVING\tWEIGHT\tSHARE")
	for _, s := range services {
		for _, b := range s.Backends {
			health := "up"
			switch {
			case b.Pending:
				health = "pending"
			case !b.Healthy:
				health = "down"
				if b.LastError != "" {
					health += " (" + b.LastError + ")"
				}
			}
			admin := "-"
			if b.Admin != nil {
				admin = b.Admin.State
				if b.Admin.Reason != "" {
					admin += " (" + b.Admin.Reason + ")"
				}
				if b.Admin.Expires != nil {
					admin += " until " + b.Admin.Expires.UTC().Format(time.RFC3339)
				}
			}
			share := "-"
			if b.AnswerShare != nil && b.Serving {
				share = fmt.Sprintf("%.1f%%", 100**b.AnswerShare)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%g/%.3g\t%s\n", b.ID, b.Address, health, admin, yesNo(b.Serving), b.Weight, b.EffectiveWeight, share)
		}
	}
	tw.Flush()
	return 0
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// findService finds a service by its full name or by its name relative
// to its zone's origin.
func findService(st *ctlStatus, name string) (*ctlService, error) {
	want := strings.ToLower(strings.TrimSuffix(name, "."))
	var found []int
	var names []string
	for i, s := range st.Services {
		full := strings.ToLower(strings.TrimSuffix(s.Name, "."))
		names = append(names, full)
		if full == want {
			return &st.Services[i], nil
		}
		for _, z := range st.Zones {
			if full == want+"."+strings.ToLower(strings.TrimSuffix(z.Origin, ".")) {
				found = append(found, i)
			}
		}
	}
	switch len(found) {
	case 1:
		return &st.Services[found[0]], nil
	case 0:
		msg := fmt.Sprintf("no service %q", name)
		short := make([]string, 0, len(names))
		for _, n := range names {
			short = append(short, strings.SplitN(n, ".", 2)[0])
		}
		if s := zones.Closest(want, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if s := zones.Closest(want, short); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if len(names) > 0 && len(names) <= 10 {
			msg += "; the services are " + strings.Join(names, ", ")
		}
		return nil, errors.New(msg)
	}
	var amb []string
	for _, i := range found {
		amb = append(amb, strings.TrimSuffix(st.Services[i].Name, "."))
	}
	return nil, fmt.Errorf("%q is a service in several zones: write one of %s", name, strings.Join(amb, ", "))
}

// resolveTarget turns a TARGET into the backends it means.
func resolveTarget(st *ctlStatus, target string) ([]ctlBackend, string, error) {
	svcName, rest, hasRest := strings.Cut(target, "/")
	s, err := findService(st, svcName)
	if err != nil {
		return nil, "", err
	}
	if !hasRest {
		return s.Backends, "service " + strings.TrimSuffix(s.Name, "."), nil
	}
	kind, name, typed := strings.Cut(rest, ":")
	if !typed {
		kind, name = "", rest
	} else if kind != "pool" && kind != "backend" {
		return nil, "", fmt.Errorf("%q: write SERVICE/pool:NAME or SERVICE/backend:NAME", target)
	}
	var backend *ctlBackend
	for i, b := range s.Backends {
		if b.Name == name {
			backend = &s.Backends[i]
		}
	}
	poolIdx := -1
	for i, p := range s.Pools {
		if p.Name == name {
			poolIdx = i
		}
	}
	if kind == "" && backend != nil && poolIdx >= 0 {
		return nil, "", fmt.Errorf("%q is both a backend and a pool of %s: write %s/backend:%s or %s/pool:%s", name, strings.TrimSuffix(s.Name, "."), svcName, name, svcName, name)
	}
	if backend != nil && kind != "pool" {
		return []ctlBackend{*backend}, "backend " + backend.ID, nil
	}
	if poolIdx >= 0 && kind != "backend" {
		var out []ctlBackend
		for _, bn := range s.Pools[poolIdx].Backends {
			for _, b := range s.Backends {
				if b.Name == bn {
					out = append(out, b)
				}
			}
		}
		return out, fmt.Sprintf("pool %s of %s", name, strings.TrimSuffix(s.Name, ".")), nil
	}
	var cands []string
	for _, b := range s.Backends {
		cands = append(cands, b.Name)
	}
	for _, p := range s.Pools {
		cands = append(cands, p.Name)
	}
	sort.Strings(cands)
	msg := fmt.Sprintf("%s has no backend or pool %q", strings.TrimSuffix(s.Name, "."), name)
	if c := zones.Closest(name, cands); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	} else if len(cands) <= 20 {
		msg += "; it has " + strings.Join(cands, ", ")
	}
	return nil, "", errors.New(msg)
}

// override sets (state up, down or drain) or clears ("") the admin
// override of every backend of target.
func (c *ctlClient) override(e *env, verb, state, target, reason, forDur string) int {
	st, err := c.getStatus()
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 1
	}
	list, what, err := resolveTarget(st, target)
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 2
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stderr, "gslb ctl: %s has no backends\n", what)
		return 2
	}
	failed := 0
	for _, b := range list {
		svc, name, _ := strings.Cut(b.ID, "/")
		path := "/api/v1/backends/" + url.PathEscape(svc) + "/" + url.PathEscape(name) + "/admin"
		var err error
		if state == "" {
			_, _, err = c.do("DELETE", path, nil, nil)
		} else {
			body := map[string]string{"state": state}
			if reason != "" {
				body["reason"] = reason
			}
			if forDur != "" {
				body["for"] = forDur
			}
			_, _, err = c.do("PUT", path, body, nil)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "gslb ctl: %s %s: %v\n", verb, b.ID, err)
			failed++
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", b.ID, verbDone(verb))
	}
	if failed > 0 {
		fmt.Fprintf(e.stderr, "gslb ctl: %s of %s: %d of %d backend(s) failed\n", verb, what, failed, len(list))
		return 1
	}
	fmt.Fprintf(e.stdout, "%s: %s (%d backend(s))\n", what, verbDone(verb), len(list))
	return 0
}

// verbDone is the past of a ctl action.
func verbDone(verb string) string {
	switch verb {
	case "drain":
		return "drained"
	case "undrain":
		return "override cleared"
	case "force-up":
		return "forced up"
	case "force-down":
		return "forced down"
	}
	return verb
}

// reload asks the server to reload and prints the outcome.
func (c *ctlClient) reload(e *env) int {
	var out struct {
		Status     string   `json:"status"`
		ConfigHash string   `json:"config_hash"`
		Problems   []string `json:"problems"`
	}
	b, code, err := c.do("POST", "/api/v1/reload", nil, &out)
	if code == http.StatusUnprocessableEntity && json.Unmarshal(b, &out) == nil {
		for _, p := range out.Problems {
			fmt.Fprintln(e.stderr, p)
		}
		fmt.Fprintf(e.stderr, "gslb ctl: reload rejected (%d problem(s)); still serving configuration %s\n", len(out.Problems), out.ConfigHash)
		return 1
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "reloaded: serving configuration %s\n", out.ConfigHash)
	return 0
}

// explain prints the server's explanation of an answer.
func (c *ctlClient) explain(e *env, o *ctlOpts, args []string) int {
	q := url.Values{"name": {args[0]}}
	if len(args) == 2 {
		q.Set("type", args[1])
	}
	if *o.client != "" {
		q.Set("client", *o.client)
	}
	if *o.ecs != "" {
		q.Set("ecs", *o.ecs)
	}
	b, _, err := c.do("GET", "/api/v1/explain?"+q.Encode(), nil, nil)
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb ctl:", err)
		return 1
	}
	e.stdout.Write(b)
	return 0
}
