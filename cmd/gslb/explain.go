package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gslb/gslb/cmd/gslb/internal/web"
	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

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
	req, err := web.ParseQuestion(fs.Arg(0), qtype, *client, *ecs)
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
	// No probes run here: every backend counts as healthy, except those
	// whose check starts down (a pending one would answer nothing).
	states := map[health.Spec]*health.State{}
	for _, s := range snap.Specs() {
		as := s
		if as.Start == health.StartPending {
			as.Start = health.StartUp
		}
		states[s] = health.StartState(as)
	}
	snap.Bind(states, nil, nil, nil)
	var l zones.Locator
	if loc != nil {
		l = loc
	}
	h := dnsserver.NewHandler(snap, dnsserver.Identity{}, l, log)
	fmt.Fprintln(stdout, "health: no probes run: every backend counts as healthy unless its check says start = \"down\" (use -server for live health)")
	if err := web.Explain(stdout, h, req); err != nil {
		fmt.Fprintln(stderr, "gslb explain:", err)
		return 1
	}
	return 0
}
