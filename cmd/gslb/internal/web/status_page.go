package web

import (
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

// The status page (/) is for a person at a glance: a banner that is red
// when a backend is hard down, an overview of the page's services (state,
// serving of total, where the answers went in the last hour), then per
// service and pool a table of backends, which turns into cards on a narrow
// screen. It shows pageSize services a page (?page=N): what a page costs
// does not grow with the configuration, beyond one pass over every
// backend's state for the banner and a sort of the service names.

// pageSize is how many services a page of the status page shows.
const pageSize = 50

// Limits of what the page prints of long values; the full value is in a
// title= tooltip.
const (
	maxCheck   = 44  // a check URL
	maxError   = 160 // a last error
	maxReason  = 64  // a probe's reason in the strip's tooltip
	maxZones   = 8   // zones named in the header
	maxProblem = 12  // services named in the banner
	maxLegend  = 4   // backends named beside a service's chart
	stripLen   = 20  // probe results in the strip
	maxTipped  = 10  // failures in the strip with a tooltip
)

// pageView is what status.html renders.
type pageView struct {
	Version   string
	Config    configJSON
	GeoIP     *geoJSON
	Zones     []zoneJSON
	MoreZones int
	Now       time.Time

	Totals        totals
	Problems      []problemView
	MoreProblems  int
	Page, Pages   int
	First, Last   int // the page's services, 1-based
	Nav           []navLink
	Services      []serviceView
	BannerClass   string // "down" (red), "warn" (yellow) or ""
	BannerHeading string
}

// totals counts over every service, not the page's alone.
type totals struct {
	Services, Backends, Serving int
	// HardDown failed their health checks; Held are drained or forced
	// down by an operator; Pending wait for their first probe.
	HardDown, Held, Pending int
	// ServicesDown have no serving backend; ServicesDegraded some.
	ServicesDown, ServicesDegraded int
}

// problemView is a service with a backend out of service, linked to its
// section on its page.
type problemView struct {
	Name, Href, Text, Class string
}

// navLink is one link of the pager; Href "" for a gap ("…") or the
// current page.
type navLink struct {
	Label, Href string
	Current     bool
}

// serviceView is one service of the page.
type serviceView struct {
	Name, Anchor  string
	Policy        string
	Members       string
	Answers       int
	TTL           uint32
	WhenAllDown   string
	State         stateView
	Serving       int
	Total         int
	Chart         template.HTML
	Legend        []legendItem
	MoreLegend    int
	NoAnswersHour bool
	Pools         []poolView
}

// stateView is a state for people: text and a CSS class, so that colour is
// never the only sign.
type stateView struct{ Text, Class string }

// legendItem is one backend's colour and share of the last hour's answers.
type legendItem struct{ Class, Name, Share string }

// poolView is one pool's table.
type poolView struct {
	Name string
	Rows []rowView
}

// rowView is one backend of a pool.
type rowView struct {
	ID, Name, Address string
	State             stateView
	Badge, Note       string // the state's text as shown: "UP", "not probed yet"
	Since             string // "for 3m"
	Admin, AdminFull  string
	Fleet, FleetFull  string        // the fleet's verdict on the check, "" without one
	Check             template.HTML // shortened, with line breaks at / ? &
	CheckFull         string
	NoCheck           bool // check "none": no probes, RTT, errors
	Probes, Spark     template.HTML
	RTT               string
	Errors, Load      string
	Weight, WeightTip string
	WeightFleet       string // "by ns1": the fleet coordinator's weights
	// Registered, RegisteredFull: a registered backend's lifecycle and
	// lease, short and for the tooltip; "" for a configured one.
	Registered, RegisteredFull string
	Answers                    string
	AnswersTip                 string
	AnswersMuted               bool
	LastError                  string
	LastErrorFull              string
	LastErrorAge               string
	LastErrorClass             string // "err" (red, the backend is down) or "old"
}

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") },
}).Parse(statusHTML))

// statusPage serves the status page at /.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	view := s.pageView(page)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	if err := statusTemplate.Execute(w, view); err != nil {
		s.deps.Log.Error("status page", "err", err)
	}
}

// pageView builds page (1-based; out of range: the nearest page) of the
// status page from the snapshot in use.
func (s *Server) pageView(page int) pageView {
	snap := s.deps.Handler.Snapshot()
	now := s.now()
	v := pageView{
		Version: s.deps.Version,
		Now:     now.UTC(),
		Config: configJSON{
			File:            snap.Config.File,
			Hash:            snap.Hash,
			LoadedAt:        snap.LoadedAt.UTC(),
			LastReloadError: s.lastReloadError(),
		},
	}
	if s.deps.ConfigFile != "" {
		v.Config.File = s.deps.ConfigFile
	}
	if s.deps.Geo != nil {
		t, built, asn := s.deps.Geo.DB()
		v.GeoIP = &geoJSON{Type: t, BuildTime: built.UTC(), ASNType: asn}
	}
	for i, z := range snap.Zones {
		if i == maxZones {
			v.MoreZones = len(snap.Zones) - maxZones
			break
		}
		v.Zones = append(v.Zones, zoneJSON{Origin: z.Origin, Serial: z.SOA.Serial, DNSSEC: signingView(z, now)})
	}

	svcs := snap.Services()
	slices.SortStableFunc(svcs, func(a, b *zones.Service) int { return strings.Compare(a.Name, b.Name) })
	v.Pages = max(1, (len(svcs)+pageSize-1)/pageSize)
	v.Page = min(max(page, 1), v.Pages)

	// The banner and the problem list: every service, from atomics.
	var problems []problemView
	for i, svc := range svcs {
		c := countBackends(svc)
		v.Totals.Services++
		v.Totals.Backends += c.total
		v.Totals.Serving += c.serving
		v.Totals.HardDown += c.hardDown
		v.Totals.Held += c.held
		v.Totals.Pending += c.pending
		st := c.state()
		switch st.Class {
		case "down":
			if c.serving == 0 {
				v.Totals.ServicesDown++
			} else {
				v.Totals.ServicesDegraded++
			}
		case "warn", "pending":
			v.Totals.ServicesDegraded++
		}
		if c.serving < c.total {
			name := strings.TrimSuffix(svc.Name, ".")
			problems = append(problems, problemView{
				Name:  name,
				Href:  pageHref(i/pageSize+1) + "#" + anchor(name),
				Text:  c.summary(),
				Class: st.Class,
			})
		}
	}
	// Red before yellow, each in name order.
	slices.SortStableFunc(problems, func(a, b problemView) int {
		return boolInt(b.Class == "down") - boolInt(a.Class == "down")
	})
	if len(problems) > maxProblem {
		v.MoreProblems = len(problems) - maxProblem
		problems = problems[:maxProblem]
	}
	v.Problems = problems
	t := v.Totals
	switch {
	case t.HardDown > 0 || t.ServicesDown > 0:
		v.BannerClass = "down"
		v.BannerHeading = fmt.Sprintf("%s down: failing health checks", plural(t.HardDown, "backend"))
		if t.HardDown == 0 {
			v.BannerHeading = fmt.Sprintf("%s with no serving backend", plural(t.ServicesDown, "service"))
		}
	case t.Held > 0 || t.Pending > 0:
		v.BannerClass = "warn"
		parts := []string{}
		if t.Held > 0 {
			parts = append(parts, plural(t.Held, "backend")+" drained or forced down")
		}
		if t.Pending > 0 {
			parts = append(parts, plural(t.Pending, "backend")+" waiting for a first probe")
		}
		v.BannerHeading = strings.Join(parts, ", ")
	}

	// The page's services, in full.
	lo := (v.Page - 1) * pageSize
	hi := min(lo+pageSize, len(svcs))
	v.First, v.Last = min(lo+1, hi), hi
	mine := svcs[lo:hi]
	shares, live := s.sharesOf(mine)
	for _, svc := range mine {
		v.Services = append(v.Services, s.serviceView(svc, shares, live, now))
	}
	v.Nav = pager(v.Page, v.Pages)
	return v
}

// backendCounts is how a service's backends stand.
type backendCounts struct{ total, serving, hardDown, held, pending int }

// countBackends classifies svc's backends from their atomics.
func countBackends(svc *zones.Service) (c backendCounts) {
	for _, b := range svc.Backends {
		c.total++
		switch {
		case b.Serving():
			c.serving++
		case b.Override() != nil:
			c.held++
		case b.Pending():
			c.pending++
		default:
			c.hardDown++
		}
	}
	return c
}

// state is the service's state: OK when every backend serves; DOWN (red)
// when none does, or DEGRADED (red) when one failed its checks; DRAINED
// (yellow) when an operator holds some out; PENDING while backends wait
// for a first probe.
func (c backendCounts) state() stateView {
	switch {
	case c.serving == c.total:
		return stateView{"OK", "up"}
	case c.serving == 0 && c.pending == c.total:
		return stateView{"PENDING", "pending"}
	case c.serving == 0:
		return stateView{"DOWN", "down"}
	case c.hardDown > 0:
		return stateView{"DEGRADED", "down"}
	case c.held > 0:
		return stateView{"DRAINED", "warn"}
	}
	return stateView{"PENDING", "pending"}
}

// summary says what is out of service, for the banner.
func (c backendCounts) summary() string {
	var parts []string
	if c.hardDown > 0 {
		parts = append(parts, fmt.Sprintf("%d down", c.hardDown))
	}
	if c.held > 0 {
		parts = append(parts, fmt.Sprintf("%d drained or forced down", c.held))
	}
	if c.pending > 0 {
		parts = append(parts, fmt.Sprintf("%d pending", c.pending))
	}
	return fmt.Sprintf("%d of %d serving (%s)", c.serving, c.total, strings.Join(parts, ", "))
}

// serviceView is svc as the page shows it.
func (s *Server) serviceView(svc *zones.Service, shares map[string]float64, live map[answerKey]uint64, now time.Time) serviceView {
	name := strings.TrimSuffix(svc.Name, ".")
	c := countBackends(svc)
	sv := serviceView{
		Name: name, Anchor: anchor(name),
		Policy: svc.Policy, Members: svc.Members, Answers: svc.Answers, TTL: svc.TTL, WhenAllDown: svc.WhenAllDown,
		State: c.state(), Serving: c.serving, Total: c.total,
	}
	// The last hour, by backend in the order written.
	mineLive := map[answerKey]uint64{}
	for k, n := range live {
		if k.service == svc.Name {
			mineLive[k] = n
		}
	}
	series := make([][historyMinutes]uint32, len(svc.Backends))
	names := make([]string, len(svc.Backends))
	for i, b := range svc.Backends {
		names[i] = b.Name
		if live != nil {
			series[i] = s.recent.hour.series(svc.Name, b.Name, mineLive)
		}
	}
	sv.Chart, sv.Legend, sv.MoreLegend = hourChart(name, names, series, s.recent.hour.minutes())
	sv.NoAnswersHour = len(sv.Legend) == 0

	rows := map[*zones.Backend]rowView{}
	for _, b := range svc.Backends {
		r := rowOf(svc, b, shares, now)
		r.Fleet, r.FleetFull = fleetText(s.fleetView(b))
		if b.Source == zones.SourceRegistered && s.deps.Registry != nil {
			r.Registered, r.RegisteredFull = "registered", "registered through the API"
			if reg, ok := s.deps.Registry.Get(b.ID); ok {
				left := max(reg.Expires.Sub(now), 0).Round(time.Second)
				r.Registered = fmt.Sprintf("registered, %s · lease %v left", lifecycle(b), left)
				r.RegisteredFull = fmt.Sprintf("registered by %s at %s; renewed %d times, last at %s; lease %v, expires %s",
					reg.Source, reg.Registered.UTC().Format(time.RFC3339), reg.Renewals, reg.Renewed.UTC().Format(time.RFC3339), reg.Lease, reg.Expires.UTC().Format(time.RFC3339))
			}
		}
		rows[b] = r
	}
	for _, p := range svc.Pools {
		pv := poolView{Name: p.Name}
		for _, b := range p.Members {
			pv.Rows = append(pv.Rows, rows[b])
		}
		sv.Pools = append(sv.Pools, pv)
	}
	return sv
}

// fleetText is a backend's check as the fleet sees it, short for the
// check cell and in full for its tooltip; "" without a fleet.
func fleetText(f *fleetJSON) (short, full string) {
	if f == nil {
		return "", ""
	}
	q := f.Quorum
	if q == "" {
		q = "the [cluster] default"
	}
	var votes []string
	for _, v := range f.Votes {
		x := v.Member + " fail"
		if v.Pass {
			x = v.Member + " pass"
		}
		if !v.Fresh {
			x += " (stale)"
		}
		votes = append(votes, x)
	}
	full = "quorum " + q + "; votes: " + strings.Join(votes, ", ")
	switch v := f.Verdict; {
	case v == nil:
		short = "fleet: no verdict yet"
	case v.Fallback:
		short = fmt.Sprintf("fleet: alone (%d of %d voting)", v.Votes, v.Voters)
		full += "; too few fresh votes: this instance's own result"
	default:
		short = fmt.Sprintf("fleet: %d/%d pass", v.Passing, v.Votes)
	}
	return short, full
}

// rowOf is backend b of svc as a row of its pool's table.
func rowOf(svc *zones.Service, b *zones.Backend, shares map[string]float64, now time.Time) rowView {
	bj := backendView(svc, b)
	st := backendState(bj)
	r := rowView{
		ID: bj.ID, Name: bj.Name, Address: bj.Address,
		State:     stateView{st.Text, st.Class},
		CheckFull: bj.Check,
		Probes:    probeStrip(bj.History),
		Spark:     sparkline(bj.History),
		RTT:       msText(bj.RTTSeconds),
		Errors:    "–",
		Load:      "–",
		Weight:    weightText(bj.Weight),
		Answers:   "–",
	}
	r.Badge, r.Note, _ = strings.Cut(st.Text, " (")
	r.Note = strings.TrimSuffix(r.Note, ")")
	r.Check = breakable(shorten(bj.Check, maxCheck))
	r.NoCheck = bj.Check == "none"
	if bj.LastProbe != nil {
		r.CheckFull += " · last probe " + ago(now, *bj.LastProbe)
	}
	if bj.Since != nil && bj.Check != "none" {
		r.Since = "for " + shortDuration(now.Sub(*bj.Since))
	}
	if a := bj.Admin; a != nil {
		r.AdminFull = a.Reason
		if a.Expires != nil {
			r.AdminFull += " (until " + a.Expires.Local().Format("2006-01-02 15:04 MST") + ")"
		}
		r.AdminFull = strings.TrimSpace(r.AdminFull + " · set by " + a.Source + " " + ago(now, a.Set))
		r.Admin = shorten(strings.TrimSpace(a.Reason), 60)
	}
	if bj.Check != "none" {
		r.Errors = fmt.Sprintf("%.0f%%", bj.ErrorRate*100)
	}
	if bj.Load != nil {
		r.Load = fmt.Sprintf("%.0f%%", *bj.Load*100)
	}
	r.WeightTip = "configured weight " + weightText(bj.Weight)
	if bj.EffectiveWeight != bj.Weight {
		r.Weight += " → " + weightText(bj.EffectiveWeight)
		r.WeightTip += ", effective " + weightText(bj.EffectiveWeight) + " (control law and slow start)"
	}
	if f := bj.Steering; f != nil {
		r.WeightTip += "; " + factorsTip(f)
		if f.Coordinator != "" {
			r.WeightFleet = "by " + f.Coordinator
			r.WeightTip += fmt.Sprintf("; multiplier %.3f of fleet coordinator %s", f.Multiplier, f.Coordinator)
			if f.CoordinatorTick != nil {
				r.WeightTip += " (its tick " + f.CoordinatorTick.UTC().Format("15:04:05") + ")"
			}
		}
	}
	share := shareOf(shares, b.ID)
	switch {
	case !bj.Serving:
		// Not serving now: no share as if it were.
		r.Answers, r.AnswersMuted = "not serving", true
		r.AnswersTip = "out of service now: gets no new answers"
		if share != nil && *share > 0 {
			r.AnswersTip += fmt.Sprintf(" (%.0f%% of the last minute's answers, before)", *share*100)
		}
	case share != nil:
		r.Answers = fmt.Sprintf("%.0f%%", *share*100)
		r.AnswersTip = "share of the service's answers in the last minute"
	default:
		r.AnswersTip = "the service gave no answers in the last minute"
	}
	if e := bj.LastError; e != "" {
		r.LastErrorFull = e
		r.LastError = shorten(e, maxError)
		r.LastErrorAge = "earlier"
		for i := len(bj.History) - 1; i >= 0; i-- {
			if h := bj.History[i]; !h.OK {
				r.LastErrorAge = ago(now, h.At)
				r.LastErrorFull = h.At.Local().Format("2006-01-02 15:04:05 MST") + ": " + e
				break
			}
		}
		r.LastErrorClass = "old"
		if !bj.Healthy {
			r.LastErrorClass = "err"
		}
	}
	return r
}

// backendState names a backend's state for people: text and a CSS class.
func backendState(b backendJSON) (s struct{ Text, Class string }) {
	switch {
	case b.Admin != nil && b.Admin.State == health.AdminDrain:
		s.Text, s.Class = "DRAINED", "drain"
	case b.Admin != nil && b.Admin.State == health.AdminDown:
		s.Text, s.Class = "FORCED DOWN", "drain"
	case b.Admin != nil && b.Admin.State == health.AdminUp:
		s.Text, s.Class = "FORCED UP", "forced"
	case b.Pending:
		s.Text, s.Class = "PENDING", "pending"
	case !b.Healthy:
		s.Text, s.Class = "DOWN", "down"
	case !b.Probed && b.Check != "none":
		s.Text, s.Class = "UP (not probed yet)", "pending"
	default:
		s.Text, s.Class = "UP", "up"
	}
	return s
}

// palette is how many colours the chart cycles through (CSS .c0 to .c7).
const palette = 8

// hourChart draws a service's last hour as a stacked area of each
// backend's share of the answers, minute by minute, as an inline SVG of
// one path per backend; minutes without answers stay blank. It returns the
// legend: the backends with the most answers, with their shares of the
// hour, and how many more answered. Of the hour, the last known minutes
// are covered (since start): the minutes before are lighter.
func hourChart(service string, names []string, series [][historyMinutes]uint32, known int) (template.HTML, []legendItem, int) {
	const w, h, step = historyMinutes * 10, 100, 10
	var totals [historyMinutes]uint64
	sum := make([]uint64, len(series))
	var all uint64
	for i, s := range series {
		for j, n := range s {
			totals[j] += uint64(n)
			sum[i] += uint64(n)
		}
		all += sum[i]
	}
	type entry struct {
		i int
		n uint64
	}
	var order []entry
	for i, n := range sum {
		if n > 0 {
			order = append(order, entry{i, n})
		}
	}
	slices.SortStableFunc(order, func(a, b entry) int {
		switch {
		case a.n > b.n:
			return -1
		case a.n < b.n:
			return 1
		}
		return 0
	})
	var legend []legendItem
	var desc strings.Builder
	for k, e := range order {
		share := fmt.Sprintf("%.0f%%", float64(e.n)/float64(all)*100)
		if k < maxLegend {
			legend = append(legend, legendItem{Class: fmt.Sprintf("c%d", e.i%palette), Name: names[e.i], Share: share})
		}
		if k > 0 {
			desc.WriteString(", ")
		}
		desc.WriteString(names[e.i] + " " + share)
	}
	more := max(0, len(order)-maxLegend)

	var b strings.Builder
	label := "no answers in the last hour"
	if all > 0 {
		label = "answers of the last hour by backend: " + desc.String()
	}
	known = min(max(known, 1), historyMinutes)
	if known < historyMinutes {
		label += fmt.Sprintf(" (counted for the last %d min, since gslb started)", known)
	}
	fmt.Fprintf(&b, `<svg class="hour" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s"><title>%s</title><rect class="bg" x="%d" width="%d" height="%d"/>`,
		w, h, template.HTMLEscapeString(service+": "+label), template.HTMLEscapeString(label), (historyMinutes-known)*step, known*step, h)
	if all > 0 {
		// Backend k's path is the area under the cumulative share of
		// backends 0..k; drawn from the last, each covers the ones below.
		cum := make([][historyMinutes]int, len(series))
		for j := range historyMinutes {
			var acc uint64
			for i := range series {
				acc += uint64(series[i][j])
				if totals[j] > 0 {
					cum[i][j] = int(math.Round(float64(acc) / float64(totals[j]) * h))
				}
			}
		}
		for i := len(series) - 1; i >= 0; i-- {
			if sum[i] == 0 {
				continue
			}
			fmt.Fprintf(&b, `<path class="c%d" d="M0 %d`, i%palette, h)
			prev := h
			for j := range historyMinutes {
				y := h - cum[i][j]
				if y != prev {
					if j > 0 {
						fmt.Fprintf(&b, "H%d", j*step)
					}
					fmt.Fprintf(&b, "V%d", y)
					prev = y
				}
			}
			fmt.Fprintf(&b, `H%dV%dZ"/>`, w, h)
		}
	}
	b.WriteString(`</svg>`)
	// Every value printed is a number formatted here or escaped above.
	return template.HTML(b.String()), legend, more
}

// probeStrip draws the last stripLen probe results, oldest first, as an
// inline SVG: a mark each, failures red, the last maxTipped of them with
// their time and reason as a tooltip.
func probeStrip(h []historyJSON) template.HTML {
	if len(h) > stripLen {
		h = h[len(h)-stripLen:]
	}
	fails := 0
	for _, s := range h {
		if !s.OK {
			fails++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="probes" width="%d" height="14" viewBox="0 0 %d 14" role="img" aria-label="last %d probes, oldest first: %d ok, %d failed">`,
		stripLen*5, stripLen*5, len(h), len(h)-fails, fails)
	untipped := fails - maxTipped // the oldest failures, without a tooltip
	for i, s := range h {
		if s.OK {
			fmt.Fprintf(&b, `<rect x="%d"/>`, i*5)
			continue
		}
		if untipped > 0 {
			fmt.Fprintf(&b, `<rect class="f" x="%d"/>`, i*5)
			untipped--
			continue
		}
		tip := s.At.Local().Format("15:04:05") + " failed"
		if s.Reason != "" {
			tip += ": " + shorten(s.Reason, maxReason)
		}
		fmt.Fprintf(&b, `<rect class="f" x="%d"><title>%s</title></rect>`, i*5, template.HTMLEscapeString(tip))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// sparkline draws the RTT of the recent successful probes as an inline SVG.
func sparkline(h []historyJSON) template.HTML {
	const w, ht = 80.0, 20.0
	var pts []float64
	for _, s := range h {
		if s.OK {
			pts = append(pts, s.DurationSeconds)
		}
	}
	if len(pts) < 2 {
		return template.HTML(`<svg class="spark" width="80" height="20" role="img" aria-label="no RTT data yet"></svg>`)
	}
	hi := 0.0
	for _, p := range pts {
		hi = math.Max(hi, p)
	}
	if hi == 0 {
		hi = 1
	}
	var b strings.Builder
	for i, p := range pts {
		x := float64(i) / float64(len(pts)-1) * (w - 2)
		y := ht - 2 - p/hi*(ht-4)
		fmt.Fprintf(&b, "%.0f,%.1f ", x+1, y)
	}
	last := pts[len(pts)-1] * 1000
	// Every value printed is a number formatted here: nothing to escape.
	return template.HTML(fmt.Sprintf(`<svg class="spark" width="80" height="20" viewBox="0 0 80 20" role="img" aria-label="RTT of the last %d probes, latest %.1f ms, max %.1f ms"><title>RTT of the last %d probes: latest %.1f ms, max %.1f ms</title><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="%s"/></svg>`,
		len(pts), last, hi*1000, len(pts), last, hi*1000, strings.TrimSpace(b.String())))
}

// pager is the links to the pages around page of pages: the first, the
// last, and two either side of the current one, with gaps between.
func pager(page, pages int) []navLink {
	if pages <= 1 {
		return nil
	}
	var out []navLink
	if page > 1 {
		out = append(out, navLink{Label: "‹ prev", Href: pageHref(page - 1)})
	}
	last := 0
	for p := 1; p <= pages; p++ {
		if p != 1 && p != pages && (p < page-2 || p > page+2) {
			continue
		}
		if last != 0 && p > last+1 {
			out = append(out, navLink{Label: "…"})
		}
		out = append(out, navLink{Label: strconv.Itoa(p), Href: pageHref(p), Current: p == page})
		last = p
	}
	if page < pages {
		out = append(out, navLink{Label: "next ›", Href: pageHref(page + 1)})
	}
	return out
}

// pageHref links to a page of the status page.
func pageHref(p int) string {
	if p <= 1 {
		return "/"
	}
	return "/?" + url.Values{"page": {strconv.Itoa(p)}}.Encode()
}

// breakable escapes s for HTML with a line break opportunity (<wbr>)
// before every / ? & after the scheme's "://", so that a URL wraps between
// its parts rather than inside a port or a word.
func breakable(s string) template.HTML {
	var b strings.Builder
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	b.WriteString(template.HTMLEscapeString(s[:start]))
	for j := start + 1; j < len(s); j++ {
		if c := s[j]; c == '/' || c == '?' || c == '&' {
			b.WriteString(template.HTMLEscapeString(s[start:j]))
			b.WriteString("<wbr>")
			start = j
		}
	}
	b.WriteString(template.HTMLEscapeString(s[start:]))
	return template.HTML(b.String())
}

// anchor is the id of a service's section.
func anchor(name string) string { return "svc-" + name }

// shorten cuts s to at most n characters, ending in "…" when cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ago is how long before now t was: "42s ago", "3m ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return shortDuration(now.Sub(t)) + " ago"
}

// shortDuration is d in its largest whole unit: 42s, 5m, 3h, 2d.
func shortDuration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// msText is a duration in seconds as milliseconds, "–" for none.
func msText(sec float64) string {
	if sec == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", sec*1000)
}

// weightText is a weight with three significant digits.
func weightText(f float64) string { return fmt.Sprintf("%.3g", f) }

// plural is n and a noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// factorsTip is what shaped a backend's effective weight, in words, for
// the weight's tooltip: the law's signals, share and target, and slow
// start.
func factorsTip(f *steeringJSON) string {
	var parts []string
	if f.Law != "" {
		sig := "load none (neutral)"
		if f.SmoothedLoad != nil {
			sig = fmt.Sprintf("load %.2f", *f.SmoothedLoad)
		}
		lat := "latency none (neutral)"
		if f.SmoothedLatency != nil {
			lat = fmt.Sprintf("latency %.1f ms", *f.SmoothedLatency*1000)
		}
		parts = append(parts, fmt.Sprintf("%s: %s, %s, errors %.0f%%, share %.1f%% (target %.1f%%)", f.Law, sig, lat, f.ErrorRate*100, f.Share*100, f.Target*100))
	}
	if f.Ramp < 1 {
		parts = append(parts, fmt.Sprintf("slow start %.0f%%, %.0fs left", f.Ramp*100, f.RampLeftSeconds))
	}
	if len(parts) == 0 {
		return "no law or ramp acting"
	}
	return strings.Join(parts, "; ")
}
