package cluster

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/hlc"
)

// Defaults of Config.
const (
	DefaultPort      = 7946
	DefaultRejoin    = 2 * time.Second
	DefaultHeartbeat = time.Second
)

// Config is a member's place in its fleet: the [cluster] section.
type Config struct {
	// Name is the member's name, unique in the fleet.
	Name string
	// Bind is where memberlist listens (UDP and TCP); Advertise, if
	// valid, the address the others reach this member at.
	Bind, Advertise netip.AddrPort
	// Join lists the peers to join, "host:port" (a DNS name may stand for
	// several members).
	Join []string
	// Keys are the AES keys of the gossip (16, 24 or 32 bytes); the first
	// encrypts, every one decrypts (a rotation installs the new key
	// second, then first, then removes the old). None: plain text,
	// which only a loopback Bind may use.
	Keys [][]byte
	// Label is memberlist's cluster label: members with another label
	// are ignored (two fleets on one network).
	Label string
	// Profile is memberlist's timing preset: "lan" (the default), "wan"
	// or "local".
	Profile string
	// Rejoin is how often the peers of Join that are not members are
	// joined again: after a partition longer than memberlist remembers
	// dead members, this is what brings the two sides back together.
	Rejoin time.Duration
	// Heartbeat is how often a member sends its vote frame.
	Heartbeat time.Duration
	// Quorum is the rule of checks that name none (health.Decide): ""
	// is majority.
	Quorum string
}

// Cluster is this instance's membership in its fleet. It shares health
// votes (it is a health.Voter) and admin overrides with the other members.
type Cluster struct {
	cfg         Config
	log         *slog.Logger
	admin       *health.Admin
	ml          *memberlist.Memberlist
	queue       *memberlist.TransmitLimitedQueue
	incarnation uint64
	metrics     *metrics
	kick        chan struct{}
	configHash  atomic.Pointer[string]
	onAdmin     atomic.Pointer[func()]
	stopOnce    sync.Once

	mu      sync.Mutex
	local   map[uint64]*localVote
	changed map[uint64]byte // entries of the next frame
	seq     uint64
	remote  map[string]*table
	joined  bool // a join has succeeded once

	steering  map[string]*steerView // by member: its latest steering frames
	steerKick chan struct{}
	coord     atomic.Pointer[coordAt]
	reports   atomic.Pointer[health.Reports]  // nil: reports are not shared
	registry  atomic.Pointer[health.Registry] // nil: registrations are not shared
}

// localVote is this instance's latest result of a check.
type localVote struct {
	ok       bool
	at       time.Time
	interval time.Duration
	// From the last Vote: the aggregate disagreed with ok; too few fresh
	// votes.
	disagree, fallback bool
}

// table is what this instance knows of another member's votes.
type table struct {
	incarnation, seq uint64
	synced           bool      // votes is the member's table as of seq
	seen             time.Time // when its last frame arrived (local clock)
	skew             time.Duration
	configHash       string
	votes            map[uint64]bool
	asked            time.Time // when its full table was last asked for
}

// voterMemory is how long a member that sends nothing still counts as a
// voter (whose vote is missing): a partitioned side knows it is a side.
const voterMemory = 5 * time.Minute

// New starts listening as a member of the fleet described by cfg; Run
// joins the peers. admin is the store whose overrides the fleet shares.
func New(cfg Config, admin *health.Admin, logger *slog.Logger, reg prometheus.Registerer) (*Cluster, error) {
	if cfg.Name == "" {
		return nil, errors.New("cluster: a member needs a name")
	}
	if len(cfg.Keys) == 0 && !cfg.Bind.Addr().IsLoopback() {
		return nil, errors.New("cluster: no keyring: gossip in plain text is only for a loopback bind address")
	}
	if cfg.Rejoin <= 0 {
		cfg.Rejoin = DefaultRejoin
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	c := &Cluster{
		cfg:         cfg,
		log:         logger.With("component", "cluster"),
		admin:       admin,
		incarnation: uint64(time.Now().UnixNano()),
		kick:        make(chan struct{}, 1),
		local:       map[uint64]*localVote{},
		changed:     map[uint64]byte{},
		remote:      map[string]*table{},
		steering:    map[string]*steerView{},
		steerKick:   make(chan struct{}, 1),
	}
	empty := ""
	c.configHash.Store(&empty)
	var mc *memberlist.Config
	switch cfg.Profile {
	case "wan":
		mc = memberlist.DefaultWANConfig()
	case "local":
		mc = memberlist.DefaultLocalConfig()
	default:
		mc = memberlist.DefaultLANConfig()
	}
	mc.Name = cfg.Name
	mc.BindAddr = cfg.Bind.Addr().String()
	mc.BindPort = int(cfg.Bind.Port())
	if cfg.Advertise.IsValid() {
		mc.AdvertiseAddr = cfg.Advertise.Addr().String()
		mc.AdvertisePort = int(cfg.Advertise.Port())
	}
	if len(cfg.Keys) > 0 {
		kr, err := memberlist.NewKeyring(cfg.Keys, cfg.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("cluster: keyring: %w", err)
		}
		mc.Keyring = kr
	}
	mc.Label = cfg.Label
	mc.Delegate = delegate{c}
	mc.Events = events{c}
	mc.Logger = log.New(logWriter{c.log}, "", 0)
	c.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return c.numMembers() },
		RetransmitMult: mc.RetransmitMult,
	}
	c.metrics = newMetrics(c, reg)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.ml = ml
	admin.Replicate(hlc.New(cfg.Name, nil), c.adminChanged)
	return c, nil
}

func (c *Cluster) numMembers() int {
	if c.ml == nil {
		return 1
	}
	return c.ml.NumMembers()
}

// Addr is where the member listens for gossip.
func (c *Cluster) Addr() netip.AddrPort {
	n := c.ml.LocalNode()
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}

// Name is the member's name.
func (c *Cluster) Name() string { return c.cfg.Name }

// OnAdminMerged sets f to be called after admin changes from the fleet
// were applied (the server then re-checks its all-down policies).
func (c *Cluster) OnAdminMerged(f func()) { c.onAdmin.Store(&f) }

// SetConfigHash tells the fleet which configuration this member serves
// (the hash of its files): members serving another are flagged.
func (c *Cluster) SetConfigHash(h string) {
	if len(h) > maxHash {
		h = h[:maxHash]
	}
	c.configHash.Store(&h)
}

// Run joins the peers and keeps the member in the fleet until ctx is
// done: the heartbeat of vote frames, the re-join of missing peers. It
// then leaves the fleet (the others see it go at once rather than
// after a failure detection) and stops.
func (c *Cluster) Run(ctx context.Context) {
	go c.rejoinLoop(ctx)
	c.sendLoop(ctx)
	c.shutdown()
}

// shutdown leaves the fleet and stops memberlist, once (memberlist
// panics on a Leave after its Shutdown).
func (c *Cluster) shutdown() {
	c.stopOnce.Do(func() {
		if err := c.ml.Leave(time.Second); err != nil {
			c.log.Warn("leaving the cluster", "err", err)
		}
		if err := c.ml.Shutdown(); err != nil {
			c.log.Warn("stopping the cluster member", "err", err)
		}
	})
}

// rejoinLoop joins the configured peers that are not members, at once
// and then every Rejoin.
func (c *Cluster) rejoinLoop(ctx context.Context) {
	if len(c.cfg.Join) == 0 {
		return
	}
	t := time.NewTicker(c.cfg.Rejoin)
	defer t.Stop()
	for {
		c.rejoin(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rejoin joins the peers whose addresses are not those of a member.
func (c *Cluster) rejoin(ctx context.Context) {
	members := map[string]bool{}
	for _, n := range c.ml.Members() {
		members[net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))] = true
	}
	var missing []string
	for _, p := range c.cfg.Join {
		host, port, err := net.SplitHostPort(p)
		if err != nil {
			continue
		}
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			c.log.Debug("cannot resolve a peer", "peer", p, "err", err)
			continue
		}
		for _, a := range addrs {
			if ap := net.JoinHostPort(a, port); !members[ap] {
				missing = append(missing, ap)
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	n, err := c.ml.Join(missing)
	c.mu.Lock()
	first := n > 0 && !c.joined
	c.joined = c.joined || n > 0
	c.mu.Unlock()
	switch {
	case first:
		c.log.Info("joined the cluster", "peers", n, "members", c.ml.NumMembers())
	case n > 0:
		c.log.Info("rejoined peers", "peers", n, "members", c.ml.NumMembers())
	case err != nil:
		c.log.Debug("peers not reachable", "peers", missing, "err", err)
	}
}

// logWriter turns memberlist's log lines ("[WARN] memberlist: ...")
// into structured records at their level.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	line := string(p)
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	level := slog.LevelInfo
	for _, l := range []struct {
		tag   string
		level slog.Level
	}{{"[DEBUG] ", slog.LevelDebug}, {"[INFO] ", slog.LevelInfo}, {"[WARN] ", slog.LevelWarn}, {"[ERR] ", slog.LevelError}} {
		if len(line) >= len(l.tag) && line[:len(l.tag)] == l.tag {
			level, line = l.level, line[len(l.tag):]
			break
		}
	}
	w.log.Log(context.Background(), level, line)
	return len(p), nil
}
