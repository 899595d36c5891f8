package cluster

import (
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the cluster's Prometheus series. Member labels are bounded
// by the fleet's size; a member forgotten loses its series.
type metrics struct {
	c                  *Cluster
	messages, bytes    *prometheus.CounterVec
	drops              *prometheus.CounterVec
	members            *prometheus.Desc
	skew, configDiffer *prometheus.Desc
	votes, disagree    *prometheus.Desc
	fallback           *prometheus.Desc
	coordinator        *prometheus.Desc
	steerAlone         *prometheus.Desc
}

func newMetrics(c *Cluster, reg prometheus.Registerer) *metrics {
	m := &metrics{
		c: c,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslb_cluster_messages_total",
			Help: "Messages of gslb's own (votes, admin changes, push/pull state) sent to and received from other members, by kind and direction; memberlist's own probes and gossip are not counted.",
		}, []string{"kind", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslb_cluster_bytes_total",
			Help: "Bytes of those messages, before memberlist's encryption and framing.",
		}, []string{"kind", "direction"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslb_cluster_messages_dropped_total",
			Help: "Messages from other members dropped, by reason (malformed, unknown kind, old incarnation).",
		}, []string{"reason"}),
		members: prometheus.NewDesc("gslb_cluster_members",
			"Members of the fleet as this instance sees them, by state: alive and suspect (memberlist), gone (sent votes in the last 5 minutes but no longer a member: dead, left or on the other side of a partition). This instance counts as alive.",
			[]string{"state"}, nil),
		skew: prometheus.NewDesc("gslb_cluster_clock_skew_seconds",
			"Another member's wall clock minus this one's, from its last vote frame (plus the frame's one-way delay). Expiries of overrides happen by each member's clock.",
			[]string{"member"}, nil),
		configDiffer: prometheus.NewDesc("gslb_cluster_config_differs",
			"1 when another member serves a configuration with a different hash than this one.",
			[]string{"member"}, nil),
		votes: prometheus.NewDesc("gslb_cluster_voters_fresh",
			"Members whose votes are fresh (this one included).",
			nil, nil),
		disagree: prometheus.NewDesc("gslb_cluster_checks_disagreeing",
			"Checks whose last result here differs from the fleet's verdict (a path broken from this site only, or a backend seen failing elsewhere).",
			nil, nil),
		fallback: prometheus.NewDesc("gslb_cluster_checks_alone",
			"Checks decided by this instance alone at their last probe: fewer than a majority of the voters were fresh (a partition, peers down).",
			nil, nil),
		coordinator: prometheus.NewDesc("gslb_cluster_steering_coordinator",
			"1 while this member is the coordinator whose steering (the control laws' effective weights) the fleet follows.",
			nil, nil),
		steerAlone: prometheus.NewDesc("gslb_cluster_steering_alone",
			"1 while this member follows a coordinator it has no fresh steering from, and steers from its own signals.",
			nil, nil),
	}
	// Every series that can exist exists from the start, at 0.
	for _, kind := range []string{"votes", "full votes", "want votes", "admin", "push", "steering", "reports", "registrations"} {
		for _, dir := range []string{"sent", "received"} {
			m.messages.WithLabelValues(kind, dir)
			m.bytes.WithLabelValues(kind, dir)
		}
	}
	for _, reason := range []string{"empty", "malformed", "unknown kind", "old incarnation"} {
		m.drops.WithLabelValues(reason)
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.bytes, m.drops, m)
	}
	return m
}

func (m *metrics) sent(kind string, n int) {
	m.messages.WithLabelValues(kind, "sent").Inc()
	m.bytes.WithLabelValues(kind, "sent").Add(float64(n))
}

func (m *metrics) received(kind string, n int) {
	m.messages.WithLabelValues(kind, "received").Inc()
	m.bytes.WithLabelValues(kind, "received").Add(float64(n))
}

func (m *metrics) dropped(reason string) { m.drops.WithLabelValues(reason).Inc() }

// Describe sends the computed series' descriptions.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.members, m.skew, m.configDiffer, m.votes, m.disagree, m.fallback, m.coordinator, m.steerAlone} {
		ch <- d
	}
}

// Collect computes the series from the member's state.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	c := m.c
	s := c.Status()
	counts := map[string]float64{"alive": 0, "suspect": 0, "gone": 0}
	for _, p := range s.Members {
		counts[p.State]++
		if p.Name == c.cfg.Name {
			continue
		}
		if p.HasFrame {
			ch <- prometheus.MustNewConstMetric(m.skew, prometheus.GaugeValue, p.ClockSkew.Seconds(), p.Name)
			ch <- prometheus.MustNewConstMetric(m.configDiffer, prometheus.GaugeValue, b2f(p.ConfigDiffers), p.Name)
		}
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.members, prometheus.GaugeValue, n, state)
	}
	ch <- prometheus.MustNewConstMetric(m.votes, prometheus.GaugeValue, float64(s.FreshVoters))
	ch <- prometheus.MustNewConstMetric(m.disagree, prometheus.GaugeValue, float64(s.Disagreeing))
	ch <- prometheus.MustNewConstMetric(m.fallback, prometheus.GaugeValue, float64(s.Alone))
	ch <- prometheus.MustNewConstMetric(m.coordinator, prometheus.GaugeValue, b2f(s.Coordinator == c.cfg.Name))
	ch <- prometheus.MustNewConstMetric(m.steerAlone, prometheus.GaugeValue, b2f(s.SteeringAlone))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Status is what the API and the status page show of the fleet.
type Status struct {
	Name        string   `json:"name"`
	Addr        string   `json:"addr"`
	Members     []Member `json:"members"`
	FreshVoters int      `json:"fresh_voters"`
	Disagreeing int      `json:"checks_disagreeing"`
	Alone       int      `json:"checks_alone"`
	// Coordinator is the member whose steering the fleet follows;
	// SteeringAlone is true when this member has nothing fresh from it
	// and steers from its own signals.
	Coordinator   string `json:"coordinator"`
	SteeringAlone bool   `json:"steering_alone"`
}

// Member is one member of the fleet as this instance sees it.
type Member struct {
	Name  string `json:"name"`
	Addr  string `json:"addr,omitempty"`
	State string `json:"state"` // alive, suspect, gone
	// From its last vote frame:
	HasFrame      bool          `json:"-"`
	LastFrame     time.Time     `json:"last_frame,omitzero"`
	Fresh         bool          `json:"votes_fresh"`
	Votes         int           `json:"votes"`
	ClockSkew     time.Duration `json:"clock_skew_ns"`
	ConfigHash    string        `json:"config_hash,omitempty"`
	ConfigDiffers bool          `json:"config_differs"`
}

// Status returns the fleet as this instance sees it, itself first.
func (c *Cluster) Status() Status {
	now := time.Now()
	own := *c.configHash.Load()
	s := Status{Name: c.cfg.Name, Addr: c.Addr().String(), Coordinator: c.Coordinator()}
	s.Members = append(s.Members, Member{Name: c.cfg.Name, Addr: s.Addr, State: "alive", Fresh: true, ConfigHash: own})
	alive := map[string]*memberlist.Node{}
	for _, n := range c.ml.Members() {
		alive[n.Name] = n
	}
	stateOf := func(n *memberlist.Node) string {
		if n.State == memberlist.StateSuspect {
			return "suspect"
		}
		return "alive"
	}
	c.mu.Lock()
	s.Members[0].Votes = len(c.local)
	for _, lv := range c.local {
		if lv.disagree {
			s.Disagreeing++
		}
		if lv.fallback {
			s.Alone++
		}
	}
	if s.Coordinator != c.cfg.Name {
		v := c.steering[s.Coordinator]
		s.SteeringAlone = v == nil || v.configHash != own || now.Sub(v.seen) > c.freshFor()
	}
	s.FreshVoters = 1
	seen := map[string]bool{c.cfg.Name: true}
	for name, t := range c.remote {
		seen[name] = true
		p := Member{Name: name, State: "gone", HasFrame: true, LastFrame: t.seen, Votes: len(t.votes), ClockSkew: t.skew, ConfigHash: t.configHash}
		p.Fresh = t.synced && now.Sub(t.seen) <= c.freshFor()
		p.ConfigDiffers = t.configHash != own
		if n, ok := alive[name]; ok {
			p.State, p.Addr = stateOf(n), n.Address()
		}
		if p.Fresh {
			s.FreshVoters++
		}
		s.Members = append(s.Members, p)
	}
	c.mu.Unlock()
	for name, n := range alive {
		if !seen[name] {
			s.Members = append(s.Members, Member{Name: name, Addr: n.Address(), State: stateOf(n)})
		}
	}
	slices.SortFunc(s.Members[1:], func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return s
}
