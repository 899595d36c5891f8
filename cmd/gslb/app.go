package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/cmd/gslb/example"
	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// app ties the parts of a running server together: the configuration, the
// DNS handler, the health checker and the admin overrides.
type app struct {
	log        *slog.Logger
	configPath string // "" for the bundled example
	reg        *prometheus.Registry
	h          *dnsserver.Handler
	checker    *health.Checker
	admin      *health.Admin
	geo        *geo.Locator // nil without a GeoIP database
	adaptive   *zones.Adaptive
	answers    *zones.AnswerCounts
	rrl        *dnsserver.RRL
	dnsMetrics *dnsserver.Metrics
	allDown    *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	lastReload prometheus.Gauge
	configInfo *prometheus.GaugeVec

	listening     atomic.Bool
	lastReloadErr atomic.Pointer[string]

	reloadMu sync.Mutex

	downMu sync.Mutex
	down   map[string]bool // services whose backends are all out of service

	recent recentAnswers
}

func newApp(log *slog.Logger, configPath string, snap *zones.Snapshot) *app {
	a := &app{
		log:        log,
		configPath: configPath,
		reg:        prometheus.NewRegistry(),
		down:       map[string]bool{},
	}
	a.allDown = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gslb", Name: "all_down_answers_total",
		Help: "Answers given while every backend of a service's address family was out of service, by service and when_all_down policy.",
	}, []string{"service", "policy"})
	a.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gslb", Subsystem: "config", Name: "reloads_total",
		Help: "Configuration reloads by result (success, failure).",
	}, []string{"result"})
	a.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gslb", Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
		Help: "When the configuration in use was loaded, as a Unix time.",
	})
	a.configInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gslb", Subsystem: "config", Name: "info",
		Help: "The configuration in use: its content hash (1 for the current one).",
	}, []string{"hash"})
	a.reloads.WithLabelValues("success")
	a.reloads.WithLabelValues("failure")
	a.answers = zones.NewAnswerCounts()
	a.rrl = dnsserver.NewRRL(rrlConfig(snap.Config), snap.Config.RRLTableSize)
	a.dnsMetrics = dnsserver.NewMetrics()
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gslb", Name: "build_info",
		Help: "gslb's version, the commit it was built from and the Go version (always 1).",
	}, []string{"version", "commit", "goversion"})
	commit, gover := buildMeta()
	buildInfo.WithLabelValues(version, commit, gover).Set(1)
	a.reg.MustRegister(a.rrl, a.allDown, backendCollector{a}, a.reloads, a.lastReload, a.configInfo, a.answers, a.dnsMetrics,
		buildInfo, geoCollector{a}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.configLoaded(snap)
	a.checker = health.NewChecker(log, a.reg, snap.Config.MaxProbesInFlight)
	a.checker.OnChange = a.healthChanged
	a.admin = health.NewAdmin(snap.Config.AdminStateFile, log)
	a.adaptive = zones.NewAdaptive()
	return a
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
		return geo.Source{Path: p}, nil
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
	a.checker.SyncBind(s.Specs(), func(states map[health.Spec]*health.State) {
		s.Bind(states, a.admin, a.adaptive, a.allDown)
		s.BindAnswers(a.answers)
	})
}

// configLoaded updates the configuration metrics for the snapshot in use.
func (a *app) configLoaded(s *zones.Snapshot) {
	a.configInfo.Reset()
	a.configInfo.WithLabelValues(s.Hash).Set(1)
	a.lastReload.Set(float64(s.LoadedAt.UnixNano()) / 1e9)
}

// reload loads the configuration again and swaps it in if it is valid.
func (a *app) reload(why string) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	next, err := loadConfig(a.configPath)
	if err != nil {
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
		return
	}
	old := a.h.Snapshot()
	if next.Hash == old.Hash {
		a.log.Debug("configuration unchanged", "trigger", why)
		return
	}
	if !slices.Equal(next.Config.DNSAddrs, old.Config.DNSAddrs) || next.Config.HTTPAddr != old.Config.HTTPAddr {
		a.log.Warn("listen addresses changed in the configuration; they take effect on restart")
	}
	if next.Config.TCPConnections != old.Config.TCPConnections || next.Config.TCPIdleTimeout != old.Config.TCPIdleTimeout {
		a.log.Warn("limits.tcp_connections and limits.tcp_idle_timeout changed; they take effect on restart")
	}
	if next.Config.GeoDatabase != old.Config.GeoDatabase || next.Config.GeoASNDatabase != old.Config.GeoASNDatabase {
		a.log.Warn("[geo] database paths changed; they take effect on restart (a changed file is reloaded by itself)")
	}
	if next.Config.HasGeo() && a.geo == nil {
		a.log.Error("reload rejected: the new configuration needs a GeoIP database; restart to open one")
		return
	}
	if next.Config.AdminStateFile != old.Config.AdminStateFile || next.Config.AdminTokenFile != old.Config.AdminTokenFile || next.Config.MaxProbesInFlight != old.Config.MaxProbesInFlight {
		a.log.Warn("[admin] and [health] settings changed; they take effect on restart")
	}
	a.prepare(next)
	a.rrl.Configure(rrlConfig(next.Config))
	a.h.Swap(next)
	a.reloads.WithLabelValues("success").Inc()
	a.lastReloadErr.Store(nil)
	a.configLoaded(next)
	a.log.Info("configuration reloaded", "trigger", why, "zones", len(next.Zones), "services", len(next.Services()), "probes", a.checker.Running(), "config_hash", next.Hash)
	a.checkAllDown()
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

// backendCollector exports the state of every backend of the current
// configuration: the label set follows the configuration.
type backendCollector struct{ a *app }

var (
	backendUpDesc = prometheus.NewDesc("gslb_backend_up",
		"Whether a backend gets answers (healthy or forced up, and not drained or forced down).",
		[]string{"service", "backend"}, nil)
	backendHealthyDesc = prometheus.NewDesc("gslb_backend_healthy",
		"Whether a backend's health checks pass, whatever its admin state.",
		[]string{"service", "backend"}, nil)
)

func (c backendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backendUpDesc
	ch <- backendHealthyDesc
}

func (c backendCollector) Collect(ch chan<- prometheus.Metric) {
	if c.a.h == nil {
		return
	}
	for _, svc := range c.a.h.Snapshot().Services() {
		name := strings.TrimSuffix(svc.Name, ".")
		for _, b := range svc.Backends {
			ch <- prometheus.MustNewConstMetric(backendUpDesc, prometheus.GaugeValue, b2f(b.Serving()), name, b.Name)
			healthy := b.State() == nil || b.State().Up()
			ch <- prometheus.MustNewConstMetric(backendHealthyDesc, prometheus.GaugeValue, b2f(healthy), name, b.Name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// background runs, until ctx is done, what keeps admin overrides current:
// the watch of the state file and the expiry of timed overrides.
func (a *app) background(ctx context.Context) {
	if f := a.admin.File(); f != "" {
		abs, _ := filepath.Abs(f)
		same := func(name string) bool { n, _ := filepath.Abs(name); return n == abs }
		run, err := zones.StartWatch(ctx, a.log, 200*time.Millisecond, func() []string { return []string{filepath.Dir(f)} }, same, func() {
			if err := a.admin.LoadFile(); err != nil {
				a.log.Error("admin state file rejected; overrides unchanged", "err", err)
			}
			a.warnUnknownOverrides()
			a.checkAllDown()
		})
		if err != nil {
			a.log.Warn("cannot watch the admin state file", "err", err)
		} else {
			go run()
		}
	}
	if a.geo != nil && a.configPath != "" {
		go func() {
			if err := a.geo.Watch(ctx, time.Second); err != nil {
				a.log.Warn("cannot watch the GeoIP database; it will not reload", "err", err)
			}
		}()
	}
	go func() {
		t := time.NewTicker(recentEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.sampleAnswers()
			}
		}
	}()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if a.admin.Expire(now) > 0 {
					a.checkAllDown()
				}
				// Adaptive weights follow the live signals once a second,
				// the default probe interval.
				a.adaptive.Step(a.h.Snapshot())
			}
		}
	}()
}

// geoCollector exports the GeoIP lookups and the database's build time.
type geoCollector struct{ a *app }

var (
	geoLookupsDesc = prometheus.NewDesc("gslb_geoip_lookups_total", "GeoIP lookups of client addresses.", nil, nil)
	geoMissesDesc  = prometheus.NewDesc("gslb_geoip_misses_total", "GeoIP lookups that found no location (the configured default answers).", nil, nil)
	geoBuildDesc   = prometheus.NewDesc("gslb_geoip_database_build_timestamp_seconds", "When the GeoIP database in use was built, as a Unix time.", []string{"type"}, nil)
)

func (c geoCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- geoLookupsDesc
	ch <- geoMissesDesc
	ch <- geoBuildDesc
}

func (c geoCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.a.geo
	if l == nil {
		return
	}
	lookups, misses := l.Stats()
	ch <- prometheus.MustNewConstMetric(geoLookupsDesc, prometheus.CounterValue, float64(lookups))
	ch <- prometheus.MustNewConstMetric(geoMissesDesc, prometheus.CounterValue, float64(misses))
	t, built, _ := l.DB()
	ch <- prometheus.MustNewConstMetric(geoBuildDesc, prometheus.GaugeValue, float64(built.Unix()), t)
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
