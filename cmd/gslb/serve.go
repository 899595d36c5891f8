package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gslb/gslb/cmd/gslb/example"
	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/zones"
)

// stringList is a flag that may be given several times.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// loadConfig loads the configuration file, or the bundled example when
// path is empty.
func loadConfig(path string) (*zones.Snapshot, error) {
	if path == "" {
		return zones.Load(zones.FSFiles(example.FS), example.ConfigFile)
	}
	return zones.Load(zones.OSFiles(), path)
}

// newLogger builds the process logger.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad -log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad -log-format %q: want text or json", format)
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "main configuration `file` (default: the bundled example, embedded in the binary)")
	var dnsAddrs stringList
	fs.Var(&dnsAddrs, "dns-addr", "answer DNS over UDP and TCP on `IP:PORT`; repeat for several (default: from the config, else "+zones.DefaultDNSAddr4+" and "+zones.DefaultDNSAddr6+")")
	httpAddr := fs.String("http-addr", "", "serve the HTTP side (/healthz, /readyz, /metrics, /api/v1/) on `IP:PORT`; \"off\" disables (default: from the config, else "+zones.DefaultHTTPAddr+")")
	stateDirFlag := fs.String("state-dir", "", "keep what gslb writes (admin overrides, ...) in `DIR`, overriding [state] dir (default: from the config, else a \"state\" folder beside it; see docs/state.md)")
	identity := fs.String("id", "", "this instance's identity for CHAOS id.server/hostname.bind and NSID, overriding [identity] id (so that several instances can share one configuration)")
	logFormat := fs.String("log-format", "", "log format: text or json (default: log.format in the config, else text)")
	logLevel := fs.String("log-level", "", "log level: debug, info, warn or error (default: log.level in the config, else info)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gslb serve [-config FILE] [-state-dir DIR] [-dns-addr IP:PORT ...] [-http-addr IP:PORT]\n\nAnswer DNS queries. SIGHUP or a change to a configuration file reloads;\nSIGINT and SIGTERM stop after answering the queries in flight.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gslb serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	snap, err := loadConfig(*config)
	if err != nil {
		printErrors(stderr, err)
		fmt.Fprintln(stderr, "gslb serve: configuration not valid; nothing started")
		return 1
	}
	if os.Getenv("GOGC") == "" {
		// The query path allocates a few small objects per query; with the
		// default GOGC of 100 the collector's pauses showed as a p99 of
		// 2.3 ms at 20,000 q/s on one CPU, with 400 as 0.66 ms, for a few
		// MiB more heap. GOGC in the environment overrides it.
		debug.SetGCPercent(400)
	}
	// One UDP reader per processor the runtime was given; then one
	// processor more. A reader waiting for queries blocks in recvmmsg and
	// holds its processor in a system call: with no processor idle, the
	// runtime's monitor takes it back every time (and wakes every 20 us
	// while it does), and a reader woken by a query can wait for a
	// processor behind other goroutines (20 ms stalls on one CPU). The
	// spare one removes both. GOMAXPROCS in the environment overrides it.
	readers := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(readers + 1)
	}
	if *logFormat == "" {
		*logFormat = snap.Config.LogFormat
	}
	if *logLevel == "" {
		*logLevel = snap.Config.LogLevel
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		return 2
	}
	source := *config
	if source == "" {
		source = "bundled example"
	}
	if len(dnsAddrs) == 0 {
		dnsAddrs = snap.Config.DNSAddrs
	}
	if *httpAddr == "" {
		*httpAddr = snap.Config.HTTPAddr
	}
	if *httpAddr == "off" {
		*httpAddr = ""
	}

	token, err := readToken(snap.Config.AdminTokenFile)
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		return 1
	}
	host, _ := os.Hostname()
	a, err := newApp(log, *config, snap, appOptions{
		identity: dnsserver.Identity{Hostname: host, Version: "gslb " + version, ID: *identity},
		token:    token,
		stateDir: *stateDirFlag,
	})
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		fmt.Fprintln(stderr, "gslb serve: nothing started")
		return 1
	}
	a.prepare(snap) // before the first query: binds backends to their health
	defer a.checker.Stop()
	a.warnUnknownOverrides()
	srv := dnsserver.NewServer(a.h, dnsAddrs, dnsserver.Limits{
		TCPConnections:          snap.Config.TCPConnections,
		TCPConnectionsPerClient: snap.Config.TCPConnectionsPerClient,
		TCPQueriesPerConnection: snap.Config.TCPQueriesPerConnection,
		TCPIdleTimeout:          snap.Config.TCPIdleTimeout,
		UDPReaders:              readers,
	}, log)
	if err := srv.Start(); err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		return 1
	}
	a.listening.Store(true)

	var hs *http.Server
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintf(stderr, "gslb serve: HTTP listener %s: %v\n", *httpAddr, err)
			srv.Shutdown(context.Background())
			return 1
		}
		hs = &http.Server{
			Handler:           a.web,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
		}
		go hs.Serve(ln)
		*httpAddr = ln.Addr().String()
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Watching starts before the start-up line: a change made right after
	// it is seen.
	a.background(ctx)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	var names []string
	for _, z := range snap.Zones {
		names = append(names, z.Origin)
	}
	var bound []string
	for _, ap := range srv.Addrs() {
		bound = append(bound, ap.String())
	}
	writeAPI := "off"
	if token != "" {
		writeAPI = "on"
	}
	log.Info("gslb started", "version", version, "config", source, "dns", strings.Join(bound, " "),
		"http", *httpAddr, "zones", strings.Join(names, " "), "services", len(snap.Services()), "backends", countBackends(snap),
		"probes", a.checker.Running(), "geoip", geoSummary(a.geo), "state_dir", stateSummary(a.state), "admin_state_file", a.state.AdminFile, "admin_write_api", writeAPI,
		"config_hash", snap.Hash)
	if len(snap.Zones) > 0 && len(bound) > 0 {
		ap := srv.Addrs()[0]
		try := snap.Zones[0].Origin
		for i, svc := range snap.Zones[0].Services {
			if i == 0 || strings.HasPrefix(svc.Name, "www.") {
				try = svc.Name
			}
		}
		fmt.Fprintf(stdout, "gslb answers DNS on %s (UDP and TCP)", strings.Join(bound, ", "))
		if *httpAddr != "" {
			fmt.Fprintf(stdout, ", HTTP on http://%s/", *httpAddr)
		}
		ip := ap.Addr()
		if ip.IsUnspecified() {
			// Listening on every address: loopback is one of them.
			if ip.Is4() {
				ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
			} else {
				ip = netip.IPv6Loopback()
			}
		}
		fmt.Fprintf(stdout, "\ntry: dig @%s -p %d %s\n", ip, ap.Port(), try)
	}

	for sig := range sigs {
		if sig == syscall.SIGHUP {
			if *config == "" {
				log.Info("SIGHUP: the bundled example does not change; nothing to reload")
				continue
			}
			log.Info("SIGHUP: reloading the configuration")
			go a.reload("SIGHUP")
			continue
		}
		log.Info("shutting down", "signal", sig.String())
		break
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if hs != nil {
		hs.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish in time", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// geoSummary describes the GeoIP databases for the start-up log.
func geoSummary(l *geo.Locator) string {
	if l == nil {
		return "none"
	}
	t, built, asn := l.DB()
	s := fmt.Sprintf("%s built %s", t, built.UTC().Format("2006-01-02"))
	if asn != "" {
		s += " + " + asn
	}
	return s
}

// stateSummary is the state directory for the start-up log.
func stateSummary(s stateDir) string {
	if s.Dir == "" {
		return s.From
	}
	return s.Dir + " (" + s.From + ")"
}

// countBackends counts the backends of every service.
func countBackends(s *zones.Snapshot) int {
	n := 0
	for _, svc := range s.Services() {
		n += len(svc.Backends)
	}
	return n
}
