package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/cluster"
	"github.com/gslb/gslb/cmd/gslb/example"
	"github.com/gslb/gslb/cmd/gslb/internal/web"
	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/audit"
	"github.com/gslb/gslb/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// app ties the parts of a running server together: the configuration,
// the DNS handler, the health checker, the admin overrides, the state
// directory, the file watcher and the HTTP side.
type app struct {
	log        *slog.Logger
	configPath string // "" for the bundled example
	state      stateDir
	reg        *prometheus.Registry
	h          *dnsserver.Handler
	checker    *health.Checker
	admin      *health.Admin
	audit      *audit.Trail // the audit trail: overrides, registrations, reloads
	// cluster is this instance's membership of its fleet (nil without
	// [cluster]); clusterDone closes when it has left.
	cluster     *cluster.Cluster
	clusterDone chan struct{}
	reports     *health.Reports
	registry    *health.Registry
	scaling     *zones.Scaling
	webhooks    *webhooks
	regTokens   atomic.Pointer[registrationTokens]
	rebuildKick chan struct{}
	// gone holds when registered backends were deregistered or ran out of
	// lease, for clearGoneOverrides.
	goneMu     sync.Mutex
	gone       map[string]time.Time
	scraper    *health.Scraper
	geo        *geo.Locator // nil without a GeoIP database
	steering   *zones.Steering
	answers    *zones.AnswerCounts
	rrl        *dnsserver.RRL
	dnsMetrics *dnsserver.Metrics
	allDown    *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	// reloadRequests counts what asked for a reload (sighup, api), merged
	// or not.
	reloadRequests *prometheus.CounterVec
	lastReload     prometheus.Gauge
	configInfo     *prometheus.GaugeVec
	web            *web.Server

	listening     atomic.Bool
	lastReloadErr atomic.Pointer[string]

	reloadMu sync.Mutex

	downMu sync.Mutex
	down   map[string]bool // services whose backends are all out of service
	// tls makes the HTTP side HTTPS ([http] tls_cert; nil: plain HTTP).
	tls *tls.Config
	// saveMu keeps the warm-start file to one writer.
	saveMu sync.Mutex
	// gc settles memory after each reload (serve sets it; nil in tests).
	gc *gcTuner
}

// appOptions are the settings of a run that come from the command line
// rather than the configuration.
type appOptions struct {
	identity dnsserver.Identity
	token    string // the admin API's bearer token ("": write API off)
	stateDir string // -state-dir ("": from the configuration)
	// statusTokens guard the status page and read API (none: open).
	statusTokens []string
}

// newApp assembles a server from a loaded snapshot: metrics on a registry
// of its own, GeoIP, the state directory and the admin overrides in it, the
// health checker, the DNS handler bound to the backends' health, and the
// HTTP side. Nothing listens yet and no probe runs until prepare.
func newApp(log *slog.Logger, configPath string, snap *zones.Snapshot, opt appOptions) (*app, error) {
	a := &app{
		log:        log,
		configPath: configPath,
		reg:        prometheus.NewRegistry(),
		down:       map[string]bool{},
	}
	a.initMetrics(snap.Config)
	a.configLoaded(snap)
	if err := a.initGeo(snap); err != nil {
		return nil, err
	}
	if err := a.initState(opt.stateDir, snap.Config, opt.identity); err != nil {
		return nil, err
	}
	var err error
	if snap, err = a.initRegistry(snap); err != nil {
		return nil, err
	}
	a.checker = health.NewChecker(log, a.reg, snap.Config.MaxProbesInFlight)
	a.checker.OnChange = a.healthChanged
	if a.cluster != nil {
		a.checker.Voter = a.cluster
		a.cluster.SetConfigHash(snap.ZonesHash)
		a.cluster.OnAdminMerged(func() {
			a.warnUnknownOverrides()
			a.checkAllDown()
		})
	}
	a.scraper = health.NewScraper(log, a.reg, nil, snap.Config.MaxProbesInFlight)
	a.reports = health.NewReports(health.MaxReports)
	a.steering = zones.NewSteering()
	a.steering.Signals = zones.LiveSignals(a.reports)
	a.scaling = zones.NewScaling()
	a.scaling.Signals = a.steering.Signals
	a.reg.MustRegister(a.scaling)
	a.webhooks = newWebhooks(log, a.reg)
	if err := a.readWebhookSecret(snap.Config); err != nil {
		return nil, err
	}
	if a.cluster != nil {
		a.steering.Fleet = a.cluster.FleetWeight
		a.cluster.ShareReports(a.reports)
		a.cluster.ShareRegistrations(a.registry)
	}
	a.warmStart(snap.Config.StateFileMax)

	a.h = dnsserver.NewHandler(snap, opt.identity, a.locator(), log)
	a.h.SetMetrics(a.dnsMetrics)
	a.h.SignatureCache().Register(a.reg)
	a.h.SetQueryLog(snap.Config.QueryLogSample)
	a.h.SetRRL(a.rrl)
	held, err := heldClock()
	if err != nil {
		return nil, err
	}
	if held != nil {
		log.Warn("test build: signatures are made for a held clock, not the system's", "held", held().UTC().Format(time.RFC3339))
		a.h.SetSigningClock(held)
	}
	a.web = a.newWeb(opt.token, opt.statusTokens)
	return a, nil
}

// initMetrics creates the server's own metrics, the answer counts, the
// response rate limiter and the DNS metrics, and registers them with the
// build information and the Go and process collectors on the app's
// registry.
func (a *app) initMetrics(c *zones.Config) {
	a.allDown = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gslb", Name: "all_down_answers_total",
		Help: "Answers given while every backend of a service's address family was out of service, by service and when_all_down policy.",
	}, []string{"service", "policy"})
	a.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gslb", Subsystem: "config", Name: "reloads_total",
		Help: "Configuration reloads by result (success, failure); a reload that finds the files unchanged is a success.",
	}, []string{"result"})
	a.reloadRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gslb", Subsystem: "config", Name: "reload_requests_total",
		Help: "Requests to reload the configuration by trigger (sighup, api); SIGHUPs in a burst are merged into at most two reloads.",
	}, []string{"trigger"})
	a.reloadRequests.WithLabelValues("sighup")
	a.reloadRequests.WithLabelValues("api")
	a.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gslb", Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
		Help: "When the configuration was last loaded successfully (at start, or a reload, unchanged files included), as a Unix time.",
	})
	a.configInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gslb", Subsystem: "config", Name: "info",
		Help: "The configuration in use: its content hash (1 for the current one).",
	}, []string{"hash"})
	a.reloads.WithLabelValues("success")
	a.reloads.WithLabelValues("failure")
	a.answers = zones.NewAnswerCounts()
	a.rrl = dnsserver.NewRRL(rrlConfig(c), c.RRLTableSize)
	a.dnsMetrics = dnsserver.NewMetrics()
	a.reg.MustRegister(a.rrl, a.allDown, zones.NewBackendCollector(a.snapshot), a.reloads, a.reloadRequests, a.lastReload, a.configInfo, a.answers, a.dnsMetrics,
		newBuildInfo(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// newBuildInfo is the gslb_build_info gauge, set to 1 for this binary.
func newBuildInfo() *prometheus.GaugeVec {
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gslb", Name: "build_info",
		Help: "gslb's version, the commit it was built from and the Go version (always 1).",
	}, []string{"version", "commit", "goversion"})
	commit, gover := buildMeta()
	buildInfo.WithLabelValues(version, commit, gover).Set(1)
	return buildInfo
}

// initGeo opens the configured GeoIP databases, if any, and registers
// their metrics. It warns of each service with policy nearest when the
// database is a Country one, which has no coordinates.
func (a *app) initGeo(snap *zones.Snapshot) error {
	var err error
	if a.geo, err = openGeo(a.configPath, snap.Config, a.log); err != nil {
		return err
	}
	if a.geo == nil {
		return nil
	}
	a.reg.MustRegister(a.geo)
	if t, _, _ := a.geo.DB(); strings.Contains(t, "Country") {
		for _, svc := range snap.Services() {
			if svc.Policy == zones.PolicyNearest {
				a.log.Warn("policy nearest needs coordinates, which a Country database lacks: pools are tried in the written order", "service", svc.Name, "database", t)
			}
		}
	}
	return nil
}

// initState settles the state directory (stateFlag is -state-dir, "" for the
// configuration's) and loads the admin overrides kept in it. A state
// directory that was asked for must be usable; the default one may not be,
// and the overrides are then kept in memory only.
//
// With a [cluster] section it also makes the instance a member of its
// fleet, before the overrides are read, so that they are stamped by it.
func (a *app) initState(stateFlag string, c *zones.Config, id dnsserver.Identity) error {
	a.state = resolveState(a.configPath, stateFlag, c)
	if err := a.state.verify(c, true); err != nil {
		if a.state.explicit() {
			return err
		}
		// The default folder is a convenience: without it gslb still
		// serves, and says what it does not keep.
		a.log.Warn("no state directory: admin overrides are kept in memory only", "err", err.Error())
		a.state = stateDir{From: "none (default not usable)"}
	}
	if a.state.AdminFile == "" {
		a.log.Info("admin overrides are not persisted: no state directory", "state_dir", a.state.From)
	}
	file := ""
	if a.state.Dir != "" {
		file = filepath.Join(a.state.Dir, auditFile)
	}
	var err error
	if a.audit, err = audit.Open(file, 0, a.log); err != nil {
		return err
	}
	a.audit.Register(a.reg)
	a.admin = health.NewAdmin(a.state.AdminFile, c.StateFileMax, a.log)
	a.admin.Audit(a.audit)
	if c.Cluster != nil {
		if a.cluster, err = newCluster(c.Cluster, memberName(c, id), a.admin, a.log, a.reg); err != nil {
			return err
		}
	}
	if err := a.admin.LoadFile(); err != nil {
		return fmt.Errorf("admin overrides: %w", err)
	}
	return nil
}

// newWeb builds the HTTP side on the app's handler, admin overrides,
// answer counts, GeoIP and registry; token is the admin API's bearer token
// ("": write API off).
func (a *app) newWeb(token string, statusTokens []string) *web.Server {
	file := ""
	if a.configPath == "" {
		file = "(bundled example)"
	}
	var fleet web.Fleet
	if a.cluster != nil {
		fleet = a.cluster
	}
	return web.New(web.Deps{
		Handler:  a.h,
		Cluster:  fleet,
		Admin:    a.admin,
		Reports:  a.reports,
		Registry: a.registry,
		RegistrationToken: func(service, tok string) (string, bool) {
			return a.regTokens.Load().check(service, tok)
		},
		Token:           token,
		Answers:         a.answers,
		Geo:             a.geo,
		Gatherer:        a.reg,
		Ready:           a.notReady,
		LastReloadError: a.lastReloadError,
		Reload: func(trigger string) error {
			a.reloadRequests.WithLabelValues("api").Inc()
			return a.reload(trigger)
		},
		StatusTokens: statusTokens,
		Version:      version,
		ConfigFile:   file,
		Log:          a.log,
		Audit:        a.audit,
	})
}

// snapshot is the snapshot in use, nil before the handler exists.
func (a *app) snapshot() *zones.Snapshot {
	if a.h == nil {
		return nil
	}
	return a.h.Snapshot()
}

// lastReloadError is the error of the last rejected reload, "" when the
// last reload succeeded.
func (a *app) lastReloadError() string {
	if p := a.lastReloadErr.Load(); p != nil {
		return *p
	}
	return ""
}

// notReady says why the server is not ready, "" when it is: ready means
// the DNS listeners are bound and every probe has reported once. (That a
// configuration is loaded the HTTP side checks itself; the GeoIP database
// a configuration needs is open, or the app would not exist, and a reload
// that needs one the app lacks is rejected.)
func (a *app) notReady() string {
	if !a.listening.Load() {
		return "DNS listeners not bound yet"
	}
	if waiting := a.pendingBackends(); waiting > 0 {
		return fmt.Sprintf("waiting for the first health check of %d backend(s)", waiting)
	}
	return ""
}

// pendingBackends counts the probed backends of the snapshot in use
// without a first result.
func (a *app) pendingBackends() int {
	n := 0
	for _, svc := range a.h.Snapshot().Services() {
		for _, b := range svc.Backends {
			if st := b.State(); st != nil && !st.Probed() {
				n++
			}
		}
	}
	return n
}

// awaitFirstProbes waits until every probed backend has a first result,
// or limit has passed: how long it waited, whether there was anything to
// wait for, and how many are still pending.
func (a *app) awaitFirstProbes(limit time.Duration) (time.Duration, bool, int) {
	start := time.Now()
	n := a.pendingBackends()
	if n == 0 {
		return 0, false, 0
	}
	for n > 0 && time.Since(start) < limit {
		time.Sleep(5 * time.Millisecond)
		n = a.pendingBackends()
	}
	return time.Since(start), true, n
}

// firstProbeWait bounds the wait for the first results before answering:
// the longest first probe (a tenth of its interval, then its timeout),
// plus a margin, and at most 5 s.
func firstProbeWait(snap *zones.Snapshot) time.Duration {
	longest := time.Duration(0)
	for _, svc := range snap.Services() {
		for _, b := range svc.Backends {
			if st := b.State(); st != nil {
				sp := st.Spec()
				longest = max(longest, sp.Interval/10+sp.Timeout)
			}
		}
	}
	return min(longest+200*time.Millisecond, 5*time.Second)
}

// openGeo opens the configured GeoIP databases; for the bundled example
// they are read from the binary.
func openGeo(configPath string, cfg *zones.Config, log *slog.Logger) (*geo.Locator, error) {
	if !cfg.HasGeo() {
		return nil, nil
	}
	src := func(p string) (geo.Source, error) {
		if p == "" {
			return geo.Source{}, nil
		}
		if configPath == "" {
			b, err := example.FS.ReadFile(p)
			return geo.Source{Bytes: b}, err
		}
		return geo.Source{Path: p, Max: cfg.GeoFileMax}, nil
	}
	loc, err := src(cfg.GeoDatabase)
	if err != nil {
		return nil, err
	}
	asn, err := src(cfg.GeoASNDatabase)
	if err != nil {
		return nil, err
	}
	return geo.NewLocator(loc, asn, log)
}

// locator returns the GeoIP locator as the query path takes it: a nil
// interface, not a nil pointer, without one.
func (a *app) locator() zones.Locator {
	if a.geo == nil {
		return nil
	}
	return a.geo
}

// prepare binds a freshly loaded snapshot to the running health checks,
// starting probes for new backends and stopping those of removed ones.
func (a *app) prepare(s *zones.Snapshot) {
	// Bound before the new probes start: a probe's first result reads the
	// backends it concerns.
	s.BindScrapes(a.scraper.Sync(s.ScrapeSpecs()))
	a.checker.SyncBind(s.Specs(), func(states map[health.Spec]*health.State) {
		s.Bind(states, a.admin, a.steering, a.allDown)
		s.InheritHealth(a.snapshot())
		s.BindAnswers(a.answers)
	})
}

// configLoaded updates the configuration metrics for the snapshot in use.
func (a *app) configLoaded(s *zones.Snapshot) {
	a.configInfo.Reset()
	a.configInfo.WithLabelValues(s.Hash).Set(1)
	if a.cluster != nil {
		a.cluster.SetConfigHash(s.ZonesHash)
	}
	a.lastReload.Set(float64(s.LoadedAt.UnixNano()) / 1e9)
}

// reload loads the configuration again and swaps it in if it is valid and
// can take effect without a restart. Every rejection goes through reject.
func (a *app) reload(why string) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	old := a.h.Snapshot()
	next, err := loadConfigWith(a.configPath, a.registered)
	var toks registrationTokens
	if err == nil {
		toks, err = readRegistrationTokens(next.Config.RegistrationTokensFile)
	}
	if a.gc != nil {
		// Whatever becomes of it, the load left garbage, and a swap
		// leaves the old snapshot: give both back to the system.
		defer a.gc.settleSoon(300 * time.Millisecond)
	}
	if err == nil {
		err = a.liveChange(next)
	}
	if err != nil {
		a.reject(why, err)
		return err
	}
	a.reloads.WithLabelValues("success").Inc()
	a.regTokens.Store(&toks) // the file is not in the hash: read at every reload
	if err := a.readWebhookSecret(next.Config); err != nil {
		a.log.Error("webhook secret not read again; the last one stays in use", "err", err)
	}
	if next.Hash == old.Hash {
		// The files are the configuration in use again (an edit undone
		// after a rejected reload, or a SIGHUP with nothing changed): no
		// error stands. The load counts as a success all the same; a
		// changed configuration sets the time in configLoaded.
		a.lastReload.SetToCurrentTime()
		if a.lastReloadErr.Swap(nil) != nil {
			a.log.Info("configuration unchanged; the last reload error no longer applies", "trigger", why, "config_hash", old.Hash)
		} else {
			a.log.Debug("configuration unchanged", "trigger", why)
		}
		return nil
	}
	a.warnRestartOnly(old, next)
	a.prepare(next)
	a.rrl.Configure(rrlConfig(next.Config))
	a.h.Swap(next)
	a.lastReloadErr.Store(nil)
	a.configLoaded(next)
	a.log.Info("configuration reloaded", "trigger", why, "zones", len(next.Zones), "services", len(next.Services()), "probes", a.checker.Running(), "config_hash", next.Hash)
	by, from := audit.SplitSource(why)
	a.audit.Record(audit.Entry{Action: audit.Reload, By: by, From: from, Detail: map[string]string{"result": "applied", "config_hash": next.Hash, "was": old.Hash}})
	a.logWarnings(next)
	a.checkAllDown()
	return nil
}

// logWarnings logs the settings of s that do nothing.
func (a *app) logWarnings(s *zones.Snapshot) {
	for _, w := range s.Warnings {
		a.log.Warn(strings.TrimPrefix(w.Msg, "warning: "), "file", w.File, "line", w.Line, "col", w.Col)
	}
}

// liveChange returns why next cannot replace the snapshot in use in this
// process, nil when it can: what a reload cannot do is a rejection, logged
// and counted as any other.
func (a *app) liveChange(next *zones.Snapshot) error {
	if next.Config.HasGeo() && a.geo == nil {
		return zones.ErrorList{{File: next.Config.File, Msg: "[geo] database: the configuration needs a GeoIP database, which only a restart opens"}}
	}
	return nil
}

// reject logs a rejected reload with every problem, counts it as a
// failure and keeps its error for the status, until a reload succeeds.
func (a *app) reject(why string, err error) {
	var list zones.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			a.log.Error("reload rejected: "+e.Error(), "file", e.File, "line", e.Line, "col", e.Col)
		}
	} else {
		a.log.Error("reload rejected: " + err.Error())
	}
	a.reloads.WithLabelValues("failure").Inc()
	msg := err.Error()
	a.lastReloadErr.Store(&msg)
	a.log.Error("reload failed; still serving the previous configuration", "trigger", why, "err_count", max(1, len(list)), "config_hash", a.h.Snapshot().Hash)
	by, from := audit.SplitSource(why)
	first := msg
	if len(list) > 0 {
		first = list[0].Error()
	}
	a.audit.Record(audit.Entry{Action: audit.Reload, By: by, From: from, Detail: map[string]string{"result": "rejected", "errors": strconv.Itoa(max(1, len(list))), "first_error": first}})
}

// warnRestartOnly logs the settings that changed but take effect only on
// restart.
func (a *app) warnRestartOnly(old, next *zones.Snapshot) {
	o, n := old.Config, next.Config
	if !slices.Equal(n.DNSAddrs, o.DNSAddrs) || n.HTTPAddr != o.HTTPAddr {
		a.log.Warn("listen addresses changed in the configuration; they take effect on restart")
	}
	if n.TCPConnections != o.TCPConnections || n.TCPIdleTimeout != o.TCPIdleTimeout {
		a.log.Warn("limits.tcp_connections and limits.tcp_idle_timeout changed; they take effect on restart")
	}
	if n.GeoDatabase != o.GeoDatabase || n.GeoASNDatabase != o.GeoASNDatabase {
		a.log.Warn("[geo] database paths changed; they take effect on restart (a changed file is reloaded by itself)")
	}
	if n.AdminStateFile != o.AdminStateFile || n.AdminTokenFile != o.AdminTokenFile || n.MaxProbesInFlight != o.MaxProbesInFlight || n.StateDir != o.StateDir {
		a.log.Warn("[admin], [state] and [health] settings changed; they take effect on restart")
	}
	if !reflect.DeepEqual(n.Cluster, o.Cluster) {
		a.log.Warn("[cluster] settings changed; they take effect on restart")
	}
}

// memberName is the name of this instance in its fleet unless [cluster]
// name gives one: the -id flag, the configured identity, the host name.
func memberName(c *zones.Config, id dnsserver.Identity) string {
	switch {
	case id.ID != "":
		return id.ID
	case c.Identity != "" && c.Identity != "auto":
		return c.Identity
	case id.Hostname != "":
		return id.Hostname
	}
	h, _ := os.Hostname()
	return h
}

// leaveCluster waits (at most 3 s) for the instance to have left its
// fleet after the background context ended.
func (a *app) leaveCluster() {
	if a.clusterDone == nil {
		return
	}
	select {
	case <-a.clusterDone:
	case <-time.After(3 * time.Second):
		a.log.Warn("leaving the cluster took too long")
	}
}

// healthChanged logs a probe target's transition with the backends it
// stands for, then any service that lost or regained all its backends.
func (a *app) healthChanged(st *health.State, r health.Result) {
	var ids []string
	for _, svc := range a.h.Snapshot().Services() {
		for _, b := range svc.Backends {
			if b.State() == st {
				ids = append(ids, b.ID)
			}
		}
	}
	state := "down"
	if st.Up() {
		state = "up"
	}
	succ, fail := st.Consecutive()
	a.log.Info("backend health changed", "backends", strings.Join(ids, " "), "state", state, "reason", r.Reason,
		"check", st.Spec().String(), "successes", succ, "failures", fail)
	a.checkAllDown()
}

// checkAllDown logs services that have just lost, or regained, every
// backend of an address family: when_all_down applies per family.
func (a *app) checkAllDown() {
	snap := a.h.Snapshot()
	a.downMu.Lock()
	defer a.downMu.Unlock()
	for _, svc := range snap.Services() {
		name := strings.TrimSuffix(svc.Name, ".")
		for _, fam := range []struct {
			name string
			v6   bool
		}{{"IPv4", false}, {"IPv6", true}} {
			down, ok := svc.AllDownFamily(fam.v6)
			key := name + " " + fam.name
			if !ok || down == a.down[key] {
				continue
			}
			a.down[key] = down
			if down {
				a.log.Warn("every backend of the service is out of service", "service", name, "family", fam.name, "when_all_down", svc.WhenAllDown)
			} else {
				a.log.Info("the service has a serving backend again", "service", name, "family", fam.name)
			}
		}
	}
}

// warnUnknownOverrides logs admin overrides that name no backend of the
// configuration: a typo in the state file, or a backend since removed.
func (a *app) warnUnknownOverrides() {
	known := map[string]bool{}
	for _, svc := range a.h.Snapshot().Services() {
		for _, b := range svc.Backends {
			known[b.ID] = true
		}
	}
	for id := range a.admin.List() {
		if !known[id] {
			a.log.Warn("admin override for a backend the configuration does not have", "backend", id)
		}
	}
}

// background starts, until ctx is done, what keeps the server current:
// the one file watcher (configuration and zone files, admin overrides,
// GeoIP databases), the expiry of timed overrides, the steered weights and
// the answer samples of the status. The watches are set up before it
// returns, so that no change made afterwards is missed.
func (a *app) background(ctx context.Context) {
	if err := a.startWatcher(ctx); err != nil {
		a.log.Warn("cannot watch files; reload with SIGHUP", "err", err)
	}
	go a.web.Run(ctx)
	go a.expireOverrides(ctx)
	if a.cluster != nil {
		a.clusterDone = make(chan struct{})
		go func() {
			defer close(a.clusterDone)
			a.cluster.Run(ctx)
		}()
		go a.followFleet(ctx)
	}
	go a.rebuildRegistered(ctx)
	go a.webhooks.Run(ctx)
	go func() {
		// The control laws and slow start move the weights once a
		// second, the default probe interval, on the second of the wall
		// clock: the members of a fleet step at the same instants.
		t := time.NewTimer(untilNextSecond(time.Now()))
		defer t.Stop()
		saved := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				now := time.Now()
				t.Reset(untilNextSecond(now))
				tick := now.Truncate(time.Second)
				snap := a.h.Snapshot()
				a.steering.Step(snap, tick, time.Second)
				if a.cluster != nil {
					a.cluster.PublishSteering(tick, a.steering.Weights())
				}
				a.scale(snap, tick)
				a.reports.Prune(now)
				for _, g := range a.registry.Expire(now) {
					a.log.Warn("registered backend removed: its lease ran out", "backend", g.ID, "renewed", g.Renewed.UTC().Format(time.RFC3339Nano), "lease", g.Lease)
				}
				a.clearGoneOverrides(now)
				if now.Sub(saved) >= warmStartEvery {
					a.saveSteering()
					saved = now
				}
			}
		}
	}()
}

// readWebhookSecret reads [webhooks] secret_file, which signs the
// scaling webhooks.
func (a *app) readWebhookSecret(c *zones.Config) error {
	s, err := readTokenFile("webhook secret file", c.WebhookSecretFile)
	if err != nil {
		return err
	}
	a.webhooks.setSecret(s)
	return nil
}

// scale steps the pools' scalers and sends their events: in a fleet the
// steering coordinator sends them (every member decides, and the events'
// keys agree; one sends).
func (a *app) scale(snap *zones.Snapshot, tick time.Time) {
	member, send := "", true
	if a.cluster != nil {
		member = a.cluster.Name()
		send = a.cluster.Coordinator() == member
	}
	for _, ev := range a.scaling.Step(snap, tick) {
		a.log.Info("scale event", "service", ev.Service, "pool", ev.Pool, "action", ev.Action, "from", ev.From, "to", ev.To, "utilization", ev.Utilization, "id", ev.Key, "sent", send && len(ev.Webhooks) > 0)
		if send && len(ev.Webhooks) > 0 {
			a.webhooks.Send(ev, member, ev.Webhooks)
		}
	}
}

// registrationsFile is the registry's file in the state directory.
const registrationsFile = "registrations.json"

// initRegistry reads the registration tokens and the registrations kept
// in the state directory, and returns snap compiled with them.
func (a *app) initRegistry(snap *zones.Snapshot) (*zones.Snapshot, error) {
	toks, err := readRegistrationTokens(snap.Config.RegistrationTokensFile)
	if err != nil {
		return nil, err
	}
	a.regTokens.Store(&toks)
	file := ""
	if a.state.Dir != "" {
		file = filepath.Join(a.state.Dir, registrationsFile)
	}
	a.registry = health.NewRegistry(file, a.log)
	a.registry.Audit(a.audit)
	a.gone = map[string]time.Time{}
	a.registry.OnGone(func(id string) {
		a.goneMu.Lock()
		a.gone[id] = time.Now()
		a.goneMu.Unlock()
	})
	a.registry.Register(a.reg, func() []string {
		var out []string
		if a.h == nil {
			return nil
		}
		for _, svc := range a.h.Snapshot().Services() {
			if svc.Registration {
				out = append(out, strings.ToLower(strings.TrimSuffix(svc.Name, ".")))
			}
		}
		return out
	})
	if err := a.registry.Load(time.Now(), snap.Config.StateFileMax); err != nil {
		return nil, fmt.Errorf("registrations: %w", err)
	}
	a.rebuildKick = make(chan struct{}, 1)
	a.registry.OnChange(func() {
		select {
		case a.rebuildKick <- struct{}{}:
		default:
		}
	})
	if n := len(a.registry.All()); n > 0 {
		next, err := snap.WithRegistered(a.registered)
		if err != nil {
			return nil, err
		}
		a.log.Info("registered backends restored", "backends", n, "file", file)
		a.logDropped(next)
		snap = next
	}
	// Overrides of registered backends that went while the server was
	// down (a restart keeps the overrides, not the deregistrations).
	known := map[string]bool{}
	registering := map[string]bool{}
	for _, svc := range snap.Services() {
		registering[strings.ToLower(strings.TrimSuffix(svc.Name, "."))] = svc.Registration
		for _, b := range svc.Backends {
			known[b.ID] = true
		}
	}
	now := time.Now()
	for id := range a.admin.List() {
		service, _, _ := strings.Cut(id, "/")
		if _, ok := a.registry.Get(id); !ok && !known[id] && registering[service] {
			a.gone[id] = now
		}
	}
	return snap, nil
}

// goneKeep is how long the admin override (the drain) of a registered
// backend that is gone stays: until every member has compiled it out of
// its answers (clearing it earlier would answer the backend again for
// the moments before), then it is cleared, so that neither the state
// file fills with the drains of instances long gone nor a backend
// registered later under the name is drained.
const goneKeep = 30 * time.Second

// clearGoneOverrides clears the overrides of registered backends gone for
// goneKeep that were set before they went.
func (a *app) clearGoneOverrides(now time.Time) {
	a.goneMu.Lock()
	var due []string
	for id, at := range a.gone {
		if now.Sub(at) >= goneKeep {
			if o := a.admin.Get(id); o != nil && !o.Set.After(at) {
				due = append(due, id)
			}
			delete(a.gone, id)
		}
	}
	a.goneMu.Unlock()
	for _, id := range due {
		if err := a.admin.Set(id, nil, "deregistration"); err != nil {
			a.log.Error("admin override of a deregistered backend not cleared", "backend", id, "err", err)
		}
	}
}

// registered gives the compiler the registered backends of a service.
func (a *app) registered(service string) []zones.RegisteredBackend {
	regs := a.registry.Of(service)
	out := make([]zones.RegisteredBackend, 0, len(regs))
	for _, r := range regs {
		addr, err := netip.ParseAddr(r.Address)
		if err != nil {
			continue
		}
		out = append(out, zones.RegisteredBackend{Name: r.Name, Address: addr, Pool: r.Pool, Weight: r.Weight,
			Capacity: r.Capacity, CheckPort: r.CheckPort, CheckPath: r.CheckPath, Renewed: r.Renewals > 0})
	}
	return out
}

// logDropped logs the registrations a snapshot left out.
func (a *app) logDropped(s *zones.Snapshot) {
	for _, d := range s.Dropped {
		a.log.Warn("registered backend not answered", "backend", d.ID, "reason", d.Reason)
	}
}

// rebuildRegistered compiles the snapshot in use again with the current
// registrations and swaps it in, after the changes of 100 ms have been
// gathered.
func (a *app) rebuildRegistered(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.rebuildKick:
		}
		time.Sleep(100 * time.Millisecond)
		a.reloadMu.Lock()
		next, err := a.h.Snapshot().WithRegistered(a.registered)
		if err != nil {
			// The bytes compiled before: only a bug gets here.
			a.log.Error("cannot compile the registered backends", "err", err)
			a.reloadMu.Unlock()
			continue
		}
		a.prepare(next)
		a.h.Swap(next)
		a.reloadMu.Unlock()
		a.logDropped(next)
		a.checkAllDown()
	}
}

// untilNextSecond is the time from now to the next whole second of the
// wall clock.
func untilNextSecond(now time.Time) time.Duration {
	return now.Truncate(time.Second).Add(time.Second).Sub(now)
}

// followFleet applies the steering of the fleet's coordinator as it
// arrives (at most every 20 ms: a tick's frames arrive together).
func (a *app) followFleet(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.cluster.SteeringArrived():
		}
		time.Sleep(20 * time.Millisecond)
		a.steering.Follow()
	}
}

// expireOverrides clears each timed override at its expiry, to the
// millisecond, so that the members of a fleet, whose clocks agree, clear
// it at the same instant. It looks at the next expiry at least every
// 250 ms: one set meanwhile, by the API or the fleet, is seen by then.
func (a *app) expireOverrides(ctx context.Context) {
	const poll = 250 * time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if a.admin.Expire(now) > 0 {
			a.checkAllDown()
		}
		wait := poll
		if next := a.admin.NextExpiry(); !next.IsZero() {
			wait = min(wait, max(time.Until(next), 0))
		}
		t.Reset(wait)
	}
}

// startWatcher sets up the file watcher and runs it until ctx is done.
// The bundled example is in the binary: nothing of it is watched.
func (a *app) startWatcher(ctx context.Context) error {
	w, err := zones.NewWatcher(a.log, 200*time.Millisecond)
	if err != nil {
		return err
	}
	add := func(wt zones.Watch) {
		if err := w.Add(wt); err != nil {
			a.log.Warn("cannot watch files; they will not reload by themselves", "files", wt.Name, "err", err)
		}
	}
	adminFile := a.admin.File()
	if a.configPath != "" {
		isAdmin := zones.FileMatch(adminFile)
		add(zones.Watch{
			Name: "configuration",
			Dirs: func() []string { return a.h.Snapshot().Dirs() },
			// Any *.toml, so that a new zone file in a zone folder is
			// seen; not the admin overrides, should they share a folder.
			Match:   func(p string) bool { return filepath.Ext(p) == ".toml" && !isAdmin(p) },
			Changed: func() { a.reload("file change") },
			// A file must stay quiet this long: one written in two
			// halves is never loaded in between.
			Debounce: a.h.Snapshot().Config.ReloadSettle,
		})
	}
	if adminFile != "" {
		add(zones.Watch{
			Name:  "admin overrides",
			Dirs:  func() []string { return []string{filepath.Dir(adminFile)} },
			Match: zones.FileMatch(adminFile),
			Changed: func() {
				if err := a.admin.LoadFile(); err != nil {
					a.log.Error("admin state file rejected; overrides unchanged", "err", err)
				}
				a.warnUnknownOverrides()
				a.checkAllDown()
			},
		})
	}
	if a.geo != nil && len(a.geo.Files()) > 0 {
		files := a.geo.Files()
		add(zones.Watch{
			Name: "GeoIP database",
			Dirs: func() []string {
				var dirs []string
				for _, f := range files {
					dirs = append(dirs, filepath.Dir(f))
				}
				return dirs
			},
			Match: zones.FileMatch(files...),
			Changed: func() {
				if err := a.geo.Reload(); err != nil {
					a.log.Error("GeoIP database reload failed; still using the previous one", "err", err)
				}
			},
			// geoipupdate writes a large file: wait for it to settle.
			Debounce: time.Second,
		})
	}
	go w.Run(ctx)
	return nil
}

// rrlConfig turns the [rrl] settings into the limiter's; disabled means
// every limit 0.
func rrlConfig(c *zones.Config) dnsserver.RRLConfig {
	r := dnsserver.RRLConfig{Slip: uint64(c.RRLSlip), IPv4Prefix: c.RRLIPv4Prefix, IPv6Prefix: c.RRLIPv6Prefix, Exempt: c.RRLExempt}
	if c.RRLEnabled {
		r.Answers, r.NXDomains, r.Errors = c.RRLAnswers, c.RRLNXDomains, c.RRLErrors
	}
	return r
}
