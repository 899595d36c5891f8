package main

import (
	"context"
	"crypto/tls"
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
	"github.com/prometheus/client_golang/prometheus"
)

// stringList is a flag that may be given several times.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// loadConfig loads the configuration file, or the bundled example when
// path is empty.
func loadConfig(path string) (*zones.Snapshot, error) { return loadConfigWith(path, nil) }

// loadConfigWith is loadConfig with the registered backends of reg.
func loadConfigWith(path string, reg zones.Registrations) (*zones.Snapshot, error) {
	opts := zones.LoadOptions{Registered: reg}
	if path == "" {
		return zones.LoadWith(zones.FSFiles(example.FS), example.ConfigFile, opts)
	}
	return zones.LoadWith(zones.OSFiles(), path, opts)
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

// serveFlags is the command line of gslb serve, completed from the
// configuration by fromConfig.
type serveFlags struct {
	config    string // "" for the bundled example
	dnsAddrs  stringList
	httpAddr  string // "" for no HTTP side once completed
	stateDir  string
	identity  string
	logFormat string
	logLevel  string
	why       string // which configuration, and why, for the start-up log
}

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "answer DNS queries (and serve the HTTP side: status, API, metrics)",
		help: "Answer DNS queries for the configured zones. SIGHUP or a change to a\n" +
			"configuration, zone or GeoIP file reloads; a configuration that does not\n" +
			"load is reported and the last good one keeps serving. SIGINT and SIGTERM\n" +
			"stop after answering the queries in flight. Without -config and without\n" +
			DefaultConfig + ", serve runs the bundled example (gslb.example.com on\n" +
			"127.0.0.1:8053) and says so.",
		exit: "0  stopped by SIGINT or SIGTERM\n1  the configuration is not valid, or a listener or the state directory failed\n2  bad command line or log setting",
		flags: func(fs *flag.FlagSet) any {
			f := &serveFlags{}
			fs.StringVar(&f.config, "config", "", "main configuration `FILE` (default: "+DefaultConfig+" if it exists, else the bundled example)")
			fs.Var(&f.dnsAddrs, "dns-addr", "answer DNS over UDP and TCP on `IP:PORT`, overriding [server] dns; repeat for several (default: from the config, else "+zones.DefaultDNSAddr4+" and "+zones.DefaultDNSAddr6+")")
			fs.StringVar(&f.httpAddr, "http-addr", "", "serve the HTTP side (/healthz, /readyz, /metrics, /api/v1/) on `IP:PORT`, overriding [server] http; \"off\" disables (default: from the config, else "+zones.DefaultHTTPAddr+")")
			fs.StringVar(&f.stateDir, "state-dir", "", "keep what gslb writes (admin overrides, ...) in `DIR`, overriding [state] dir (default: from the config, else a \"state\" folder beside it; see docs/state.md)")
			fs.StringVar(&f.identity, "id", "", "this instance's `ID` for CHAOS id.server/hostname.bind and NSID, overriding [identity] id (so that several instances can share one configuration)")
			fs.StringVar(&f.logFormat, "log-format", "", "log `FORMAT`: text or json (default: log.format in the config, else text)")
			fs.StringVar(&f.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error (default: log.level in the config, else info)")
			return f
		},
		run: func(e *env, o any, args []string) int {
			f := o.(*serveFlags)
			if len(args) > 0 {
				return usageError(e, "serve", "unexpected argument %q", args[0])
			}
			src := e.configFrom(f.config)
			f.config, f.why = src.path, src.why
			return serve(*f, e.stdout, e.stderr)
		},
	}
}

// fromConfig fills in what the command line left to the configuration:
// the log format and level and the DNS and HTTP addresses. An HTTP address
// of "off" becomes "", no HTTP side.
func (f *serveFlags) fromConfig(c *zones.Config) {
	if f.logFormat == "" {
		f.logFormat = c.LogFormat
	}
	if f.logLevel == "" {
		f.logLevel = c.LogLevel
	}
	if len(f.dnsAddrs) == 0 {
		f.dnsAddrs = c.DNSAddrs
	}
	if f.httpAddr == "" {
		f.httpAddr = c.HTTPAddr
	}
	if f.httpAddr == "off" {
		f.httpAddr = ""
	}
}

// source names the configuration for the start-up log.
func (f *serveFlags) source() string {
	if f.why != "" {
		return f.why
	}
	if f.config == "" {
		return "bundled example"
	}
	return f.config
}

// serve runs gslb serve: it answers DNS, and HTTP, until SIGINT or SIGTERM,
// reloading on SIGHUP, and returns the exit code: 2 for a bad command line
// or log setting, 1 when the server cannot start or does not stop in time.
func serve(f serveFlags, stdout, stderr io.Writer) int {
	snap, err := loadConfig(f.config)
	if err != nil {
		printErrors(stderr, err)
		fmt.Fprintln(stderr, "gslb serve: configuration not valid; nothing started")
		return 1
	}
	readers, memLimit := tuneRuntime(snap.Config)
	f.fromConfig(snap.Config)
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		return 2
	}
	a, token, ok := buildServeApp(log, f, snap, stderr)
	if !ok {
		return 1
	}
	a.prepare(snap) // before the first query: binds backends to their health
	defer a.checker.Stop()
	defer a.scraper.Stop()
	a.warnUnknownOverrides()
	srv, err := startDNS(a, snap.Config, f.dnsAddrs, readers)
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		return 1
	}
	hs, httpAddr, err := startHTTP(a.web, f.httpAddr, a.tls, httpConnCap(snap.Config.HTTPMaxConns), snap.Config.HTTPMaxConnsPerClient, a.reg)
	if err != nil {
		fmt.Fprintf(stderr, "gslb serve: HTTP listener %s: %v\n", f.httpAddr, err)
		srv.Shutdown(context.Background())
		return 1
	}
	// After the HTTP side: a check may probe this server's own /healthz.
	serveDNS(a, srv)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Watching starts before the start-up line: a change made right after
	// it is seen.
	a.background(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if f.config == "" {
		a.log.Warn("serving the bundled example: " + f.source() + "; give -config FILE or write " + DefaultConfig + " for your own zones")
	}
	a.logStarted(snap, f.source(), srv.Addrs(), httpAddr, token != "")
	live, gogc := a.gc.settle()
	log.Info("go runtime", "memory_limit", memLimit, "live_heap_mib", live>>20, "gogc", gogc, "gomaxprocs", runtime.GOMAXPROCS(0))
	a.logWarnings(snap)
	printTry(stdout, snap, srv.Addrs(), httpAddr)
	// SIGHUPs in a burst reload once at once and once after it.
	hup := newCoalescer(max(200*time.Millisecond, snap.Config.ReloadSettle), 10*time.Second, func(why string) { a.reload(why) })
	go hup.Run(ctx)
	waitForStop(log, a, f.config, sigs, hup)
	cancel()
	a.leaveCluster()
	a.saveSteering() // the next process starts warm
	return shutdown(log, srv, hs)
}

// tuneRuntime sets the memory limit and the number of processors for a
// DNS server, unless GOMEMLIMIT and GOMAXPROCS in the environment say
// otherwise, and returns how many UDP readers to run. The collector's
// target comes later, from the live heap (gcTuner).
func tuneRuntime(c *zones.Config) (readers int, memLimit string) {
	limit, memLimit := memoryLimit(c.MemoryLimitMiB, os.Getenv, readSmall)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	// One UDP reader per processor the runtime was given; then one
	// processor more. A reader waiting for queries blocks in recvmmsg and
	// holds its processor in a system call: with no processor idle, the
	// runtime's monitor takes it back every time (and wakes every 20 us
	// while it does), and a reader woken by a query can wait for a
	// processor behind other goroutines (20 ms stalls on one CPU). The
	// spare one removes both. GOMAXPROCS in the environment overrides it.
	readers = runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(readers + 1)
	}
	return readers, memLimit
}

// buildServeApp reads the admin token and assembles the server with the
// identity of this instance. It returns false, having said why on stderr,
// when either fails.
func buildServeApp(log *slog.Logger, f serveFlags, snap *zones.Snapshot, stderr io.Writer) (*app, string, bool) {
	token, err := readToken(snap.Config.AdminTokenFile)
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		return nil, "", false
	}
	statusTokens, tlsConf, err := httpSecrets(snap.Config)
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		return nil, "", false
	}
	host, _ := os.Hostname()
	a, err := newApp(log, f.config, snap, appOptions{
		identity:     dnsserver.Identity{Hostname: host, Version: "gslb " + version, ID: f.identity},
		token:        token,
		stateDir:     f.stateDir,
		statusTokens: statusTokens,
	})
	if err != nil {
		fmt.Fprintln(stderr, "gslb serve:", err)
		fmt.Fprintln(stderr, "gslb serve: nothing started")
		return nil, "", false
	}
	a.tls = tlsConf
	// The query path allocates a few small objects per query; with
	// the default GOGC of 100 on a small heap the collector's pauses
	// showed as a p99 of 2.3 ms at 20,000 q/s on one CPU, with 400 as
	// 0.66 ms. gcTuner fits GOGC to the live heap after every load.
	a.gc = &gcTuner{log: log, fixed: os.Getenv("GOGC") != ""}
	return a, token, true
}

// startDNS binds the DNS listeners on addrs with the configured limits;
// serveDNS starts answering on them.
func startDNS(a *app, c *zones.Config, addrs []string, readers int) (*dnsserver.Server, error) {
	srv := dnsserver.NewServer(a.h, addrs, dnsserver.Limits{
		TCPConnections:          c.TCPConnections,
		TCPConnectionsPerClient: c.TCPConnectionsPerClient,
		TCPQueriesPerConnection: c.TCPQueriesPerConnection,
		TCPIdleTimeout:          c.TCPIdleTimeout,
		UDPReaders:              readers,
	}, a.log)
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	return srv, nil
}

// serveDNS waits (bounded) for the first health check of every probed
// backend, starts answering with the app's handler and marks the app
// listening for its readiness. Until the first results, a service whose
// backends are all pending could only answer NODATA (or its fallback),
// which resolvers cache: a restarted member of a fleet would hand out
// empty answers for its first milliseconds. Queries that arrive meanwhile
// wait in the sockets and are answered once the results are in.
func serveDNS(a *app, srv *dnsserver.Server) {
	if d, waited, pending := a.awaitFirstProbes(firstProbeWait(a.h.Snapshot())); pending > 0 {
		a.log.Warn("answering before the first health check of every backend", "waited", d.Round(time.Millisecond), "pending", pending)
	} else if waited {
		a.log.Info("first health checks in before answering", "waited", d.Round(time.Millisecond))
	}
	srv.Serve()
	registerTCPMetrics(a.reg, srv)
	a.listening.Store(true)
}

// registerTCPMetrics exports the DNS server's TCP connection counts.
func registerTCPMetrics(reg prometheus.Registerer, srv *dnsserver.Server) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "gslb", Subsystem: "dns", Name: "tcp_connections",
			Help: "DNS connections over TCP open now, over every listener.",
		}, func() float64 { n, _, _ := srv.TCPStats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "gslb", Subsystem: "dns", Name: "tcp_refused_total",
			Help: "DNS connections over TCP closed at once: [limits] tcp_connections reached with no idle connection to close, or the client at tcp_connections_per_client.",
		}, func() float64 { _, n, _ := srv.TCPStats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "gslb", Subsystem: "dns", Name: "tcp_evicted_total",
			Help: "Idle DNS connections over TCP closed to make room for another client when the table was full (the oldest of the client with most).",
		}, func() float64 { _, _, n := srv.TCPStats(); return float64(n) }),
	)
}

// startHTTP listens on addr and serves h there, returning the server and
// the address bound; with addr "" there is no HTTP side: nil and "".
func startHTTP(h http.Handler, addr string, tlsConf *tls.Config, maxConns, perClient int, reg prometheus.Registerer) (*http.Server, string, error) {
	if addr == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	ll := newLimitListener(ln, maxConns, perClient)
	ln = ll
	if reg != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "gslb", Subsystem: "http", Name: "connections_refused_total",
			Help: "HTTP connections closed at once because [http] max_connections or max_connections_per_client was reached.",
		}, func() float64 { return float64(ll.Refused()) }))
	}
	scheme := "http://"
	if tlsConf != nil {
		ln, scheme = tls.NewListener(ln, tlsConf), "https://"
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go hs.Serve(ln)
	return hs, scheme + ln.Addr().String(), nil
}

// logStarted logs the start-up line: what is served, where, and with what.
func (a *app) logStarted(snap *zones.Snapshot, source string, dns []netip.AddrPort, httpAddr string, writeAPI bool) {
	var names []string
	for _, z := range snap.Zones {
		names = append(names, z.Origin)
	}
	api := "off"
	if writeAPI {
		api = "on"
	}
	a.log.Info("gslb started", "version", version, "config", source, "dns", strings.Join(addrStrings(dns), " "),
		"http", httpAddr, "zones", strings.Join(names, " "), "services", len(snap.Services()), "backends", countBackends(snap),
		"probes", a.checker.Running(), "geoip", geoSummary(a.geo), "state_dir", stateSummary(a.state), "admin_state_file", a.state.AdminFile, "admin_write_api", api,
		"config_hash", snap.Hash)
}

// printTry tells the person who started gslb where it answers and gives a
// dig command line to try, on the first address bound, for a service of the
// first zone (a www. one if there is one). It prints nothing without a zone
// or a DNS listener.
func printTry(stdout io.Writer, snap *zones.Snapshot, dns []netip.AddrPort, httpAddr string) {
	if len(snap.Zones) == 0 || len(dns) == 0 {
		return
	}
	try := snap.Zones[0].Origin
	for i, svc := range snap.Zones[0].Services {
		if i == 0 || strings.HasPrefix(svc.Name, "www.") {
			try = svc.Name
		}
	}
	fmt.Fprintf(stdout, "gslb answers DNS on %s (UDP and TCP)", strings.Join(addrStrings(dns), ", "))
	if httpAddr != "" {
		fmt.Fprintf(stdout, ", HTTP on %s/", httpAddr)
	}
	ap := dns[0]
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

// addrStrings formats bound addresses as IP:PORT.
func addrStrings(aps []netip.AddrPort) []string {
	var s []string
	for _, ap := range aps {
		s = append(s, ap.String())
	}
	return s
}

// waitForStop handles signals until SIGINT or SIGTERM: SIGHUP reloads the
// configuration in the background, except the bundled example (config ""),
// which does not change.
func waitForStop(log *slog.Logger, a *app, config string, sigs <-chan os.Signal, hup *coalescer) {
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			a.reloadRequests.WithLabelValues("sighup").Inc()
			if config == "" {
				log.Info("SIGHUP: the bundled example does not change; nothing to reload")
				continue
			}
			if hup.Request("SIGHUP") {
				log.Info("SIGHUP: reloading the configuration")
			} else {
				log.Debug("SIGHUP: merged into the reload already pending")
			}
			continue
		}
		log.Info("shutting down", "signal", sig.String())
		return
	}
}

// shutdown stops the HTTP side, if any, then the DNS listeners, giving the
// requests and queries in flight 5 s in all to finish. It returns the exit
// code: 1 when the DNS side did not finish in time.
func shutdown(log *slog.Logger, srv *dnsserver.Server, hs *http.Server) int {
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
