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

// explainOpts are the flags of gslb explain.
type explainOpts struct {
	config, server, client, ecs *string
}

func explainCommand() *command {
	return &command{
		name:    "explain",
		args:    "NAME [TYPE]",
		summary: "explain the answer a client gets, step by step",
		help: "Explain the answer to a query: the client's location, the policy, the\n" +
			"pools considered, the members with their health and the factors of their\n" +
			"effective weights, random draws with each member's chance, the answer\n" +
			"(NOERROR, NODATA, NXDOMAIN, a referral) and its ECS scope. Without\n" +
			"-server no probe runs: health is each check's start state.",
		exit: "0  explained\n1  the configuration or the server failed\n2  bad command line or question",
		flags: func(fs *flag.FlagSet) any {
			return &explainOpts{
				config: configFlag(fs),
				server: fs.String("server", "", "ask a running gslb at this HTTP `URL` (e.g. http://127.0.0.1:9153), with its live health"),
				client: fs.String("client", "", "the querying resolver's or client's `IP` address (required)"),
				ecs:    fs.String("ecs", "", "EDNS Client `SUBNET` the resolver sends, e.g. 175.16.199.0/24"),
			}
		},
		run: func(e *env, o any, args []string) int { return explainCmd(e, o.(*explainOpts), args) },
	}
}

// explainCmd is `gslb explain`.
func explainCmd(e *env, o *explainOpts, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	server, client, ecs := o.server, o.client, o.ecs
	switch {
	case len(args) == 0:
		return usageError(e, "explain", "a name to explain is needed: gslb explain -client IP NAME [TYPE]")
	case len(args) > 2:
		return usageError(e, "explain", "unexpected argument %q: want NAME [TYPE]", args[2])
	case *client == "":
		return usageError(e, "explain", "-client IP is needed: the address of the resolver (or client) asking, e.g. -client 192.0.2.1")
	}
	qtype := "A"
	if len(args) == 2 {
		qtype = args[1]
	}
	req, err := web.ParseQuestion(args[0], qtype, *client, *ecs)
	if err != nil {
		fmt.Fprintln(stderr, "gslb explain:", err)
		return 2
	}
	src := e.configFrom(*o.config)
	config := &src.path
	if *server != "" {
		q := url.Values{"name": {args[0]}, "type": {qtype}, "client": {*client}}
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
