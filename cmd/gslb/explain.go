package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

// explainRequest is one question to explain.
type explainRequest struct {
	name   string
	qtype  uint16
	client netip.Addr
	ecs    netip.Prefix // invalid: no client subnet option
}

func parseExplain(name, qtype, client, ecs string) (explainRequest, error) {
	var r explainRequest
	if name == "" {
		return r, errors.New("a name to explain is needed")
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return r, fmt.Errorf("%q is not a domain name", name)
	}
	r.name = dns.Fqdn(name)
	if qtype == "" {
		qtype = "A"
	}
	t, ok := dns.StringToType[strings.ToUpper(qtype)]
	if !ok {
		return r, fmt.Errorf("%q is not a record type", qtype)
	}
	r.qtype = t
	var err error
	if r.client, err = netip.ParseAddr(client); err != nil {
		return r, fmt.Errorf("-client %q: want an IP address", client)
	}
	if ecs != "" {
		p, err := netip.ParsePrefix(ecs)
		if err != nil {
			return r, fmt.Errorf("-ecs %q: want a subnet such as 192.0.2.0/24", ecs)
		}
		r.ecs = p.Masked()
	}
	return r, nil
}

// explain runs the question through the handler, as serving does, and
// writes the decision in plain words.
func explain(w io.Writer, h *dnsserver.Handler, r explainRequest) error {
	m := new(dns.Msg)
	m.SetQuestion(r.name, r.qtype)
	m.RecursionDesired = false
	desc := fmt.Sprintf("%s %s from %s", r.name, dns.TypeToString[r.qtype], r.client)
	if r.ecs.IsValid() {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(r.ecs.Bits()), Address: r.ecs.Addr().AsSlice()}
		if r.ecs.Addr().Is6() {
			e.Family = 2
		}
		o.Option = append(o.Option, e)
		m.Extra = append(m.Extra, o)
		desc += " with client subnet " + r.ecs.String()
	}
	reply, lines, err := h.Explain(m, r.client)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "query: %s\n", desc)
	for _, l := range lines {
		fmt.Fprintf(w, "%s\n", l)
	}
	ttl := ""
	if len(reply.Answer) > 0 {
		ttl = fmt.Sprintf(", TTL %d", reply.Answer[0].Header().Ttl)
	}
	fmt.Fprintf(w, "answer: %s%s%s\n", dns.RcodeToString[reply.Rcode], aaText(reply), ttl)
	for _, sec := range [][]dns.RR{reply.Answer, reply.Ns} {
		for _, rr := range sec {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(rr.String(), "\t", " "))
		}
	}
	return nil
}

func aaText(m *dns.Msg) string {
	if m.Authoritative {
		return " (authoritative)"
	}
	return ""
}

// explainCmd is `gslb explain`.
func explainCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "main configuration `file` (default: the bundled example)")
	server := fs.String("server", "", "ask a running gslb at this HTTP `URL` (e.g. http://127.0.0.1:9153), with its live health")
	client := fs.String("client", "", "the querying resolver's or client's `IP` address (required)")
	ecs := fs.String("ecs", "", "EDNS Client Subnet the resolver sends, e.g. 175.16.199.0/24")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gslb explain [-config FILE] [-server URL] -client IP [-ecs SUBNET] NAME [TYPE]\n\nExplain the answer to a query: the client's location, the policy, the\npools considered, the members with their health and weights, the answer\nand its ECS scope. Without -server, health is each check's start state.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || *client == "" {
		fs.Usage()
		return 2
	}
	qtype := "A"
	if fs.NArg() == 2 {
		qtype = fs.Arg(1)
	}
	req, err := parseExplain(fs.Arg(0), qtype, *client, *ecs)
	if err != nil {
		fmt.Fprintln(stderr, "gslb explain:", err)
		return 2
	}
	if *server != "" {
		q := url.Values{"name": {fs.Arg(0)}, "type": {qtype}, "client": {*client}}
		if *ecs != "" {
			q.Set("ecs", *ecs)
		}
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(strings.TrimSuffix(*server, "/") + "/api/v1/explain?" + q.Encode())
		if err != nil {
			fmt.Fprintln(stderr, "gslb explain:", err)
			return 1
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(stderr, "gslb explain: %s: %s", resp.Status, body)
			return 1
		}
		stdout.Write(body)
		return 0
	}
	snap, err := loadConfig(*config)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	loc, err := openGeo(*config, snap.Config, log)
	if err != nil {
		fmt.Fprintln(stderr, "gslb explain:", err)
		return 1
	}
	// No probes run here: every backend is in its check's start state.
	states := map[health.Spec]*health.State{}
	for _, s := range snap.Specs() {
		states[s] = health.StartState(s)
	}
	snap.Bind(states, nil, nil, nil)
	var l zones.Locator
	if loc != nil {
		l = loc
	}
	h := dnsserver.NewHandler(snap, dnsserver.Identity{}, l, log)
	fmt.Fprintln(stdout, "health: start state of each check (no probes run; use -server for live health)")
	if err := explain(stdout, h, req); err != nil {
		fmt.Fprintln(stderr, "gslb explain:", err)
		return 1
	}
	return 0
}
