package zones

import (
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/safefile"
)

// Defaults of the main configuration file, also documented in README.md.
const (
	DefaultDNSAddr4       = "127.0.0.1:8053"
	DefaultDNSAddr6       = "[::1]:8053"
	DefaultHTTPAddr       = "127.0.0.1:9153"
	DefaultUDPSize        = 1232
	DefaultTCPConnections = 1000
	DefaultTCPIdleTimeout = 10 * time.Second
	DefaultTTL            = 3600
	DefaultServiceTTL     = 30
	DefaultMaxTTL         = 604800
	// DefaultFileMax caps the main file and each zone file; DefaultGeoMax
	// each GeoIP database (a real City database is 100 MB and more).
	DefaultFileMax = 64 << 20
	DefaultGeoMax  = 1 << 30
	// DefaultReloadSettle is how long configuration files must stay quiet
	// before a change is loaded: a file written in two halves is never
	// read in between.
	DefaultReloadSettle = time.Second
	// The HTTP side's connection caps: room for browsers, Prometheus and
	// tools, far below the file descriptors DNS over TCP needs.
	DefaultHTTPMaxConns          = 1024
	DefaultHTTPMaxConnsPerClient = 64
)

// Config holds the settings of the main configuration file.
type Config struct {
	// File is the path the configuration was read from.
	File string

	// DNSAddrs are the addresses to answer DNS on, over UDP and TCP.
	DNSAddrs []string
	// HTTPAddr is the address of the HTTP side (metrics, status, API).
	HTTPAddr string

	// Identity answers CHAOS id.server and hostname.bind, and EDNS NSID:
	// "auto" (the default) means the host name, "" means never answered.
	Identity string
	// NSID tells whether EDNS NSID requests get the identity (RFC 5001).
	NSID bool
	// Version answers CHAOS version.bind: "" (the default) refuses it,
	// "auto" means the binary's version.
	Version string

	// AnswerCache tells whether each UDP reader keeps the replies that
	// are a function of what it can check (see dnsserver's cache.go).
	AnswerCache bool

	// UDPSize is the EDNS UDP payload size we advertise and use as the
	// upper bound of UDP answers.
	UDPSize uint16
	// TCPConnections caps concurrent TCP connections per listener.
	TCPConnections int
	// TCPIdleTimeout closes a TCP connection that sends nothing for so long.
	TCPIdleTimeout time.Duration

	// MinTTL and MaxTTL bound every TTL in every zone.
	MinTTL, MaxTTL uint32
	// DefaultTTL is the TTL of static records that name none.
	DefaultTTL uint32
	// ServiceTTL is the TTL of service answers that name none.
	ServiceTTL uint32

	// ZoneFiles are the zone files, resolved relative to File.
	ZoneFiles []string
	// ZoneFileMax and GeoFileMax cap the size of each zone file and each
	// GeoIP database, in bytes ([limits] zone_file_max_mib,
	// geoip_file_max_mib).
	ZoneFileMax, GeoFileMax int64
	// StateFileMax caps each file of the state directory gslb reads back
	// (admin overrides, warm start), in bytes ([limits] state_file_max_mib).
	StateFileMax int64
	// MaxCNAMEChain bounds a CNAME chain inside a zone, at load and when
	// answering ([limits] max_cname_chain).
	MaxCNAMEChain int
	// MemoryLimitMiB is the Go runtime's soft memory limit serve sets
	// ([limits] memory_limit_mib; 0: 90 % of the cgroup's limit, if any).
	MemoryLimitMiB int
	// ReloadSettle is how long the configuration and zone files must stay
	// unchanged before a change to them is loaded ([server] reload_settle).
	ReloadSettle time.Duration

	// AdminStateFile keeps admin overrides across restarts ("" for none);
	// AdminTokenFile holds the bearer token of the admin write API (""
	// turns the write API off). Both resolved relative to File.
	AdminStateFile string
	AdminTokenFile string
	// RegistrationTokensFile holds the registration tokens, each scoped
	// to one service ("" for none: no service takes registrations).
	RegistrationTokensFile string
	// WebhookSecretFile holds the shared secret that signs the scaling
	// webhooks ([webhooks] secret_file; "" for none: no service may name
	// webhooks).
	WebhookSecretFile string
	// StatusAuth makes the status page and the read API require a token:
	// the one in StatusTokenFile, or the admin token. TLSCert and TLSKey
	// (PEM files) make the HTTP side HTTPS. All resolved relative to File.
	StatusAuth      bool
	StatusTokenFile string
	TLSCert, TLSKey string
	// HTTPMaxConns and HTTPMaxConnsPerClient cap the HTTP side's
	// connections ([http] max_connections, max_connections_per_client).
	HTTPMaxConns, HTTPMaxConnsPerClient int
	// StateDir is [state] dir, the folder that holds everything gslb
	// writes, resolved relative to File ("" when the key is absent: the
	// command picks the default). docs/state.md describes its layout.
	StateDir string
	// keyAt is where the keys named in statedir.go's ErrorAt are written.
	keyAt map[string]pos
	// MaxProbesInFlight bounds the health probes running at once.
	MaxProbesInFlight int

	// GeoDatabase is the GeoIP2/GeoLite2 City or Country database and
	// GeoASNDatabase the optional ASN one, resolved relative to File.
	GeoDatabase, GeoASNDatabase string
	// ECS says whose EDNS Client Subnet options are used: ECSAll, or only
	// those from ECSTrusted resolver networks (none when empty).
	ECSAll     bool
	ECSTrusted []netip.Prefix

	// RRL holds response rate limiting: on by default with generous
	// limits (RRLAnswers and so on are responses per second per client
	// network; 0 turns a kind off).
	RRLEnabled                          bool
	RRLAnswers, RRLNXDomains, RRLErrors float64
	RRLSlip                             int
	RRLIPv4Prefix, RRLIPv6Prefix        int
	RRLExempt                           []netip.Prefix
	RRLTableSize                        int
	// TCPConnectionsPerClient caps one client address's concurrent TCP
	// connections; TCPQueriesPerConnection closes a connection after so
	// many queries (0: no limit).
	TCPConnectionsPerClient, TCPQueriesPerConnection int

	// LogFormat is "text" or "json", LogLevel "debug", "info", "warn" or
	// "error"; QueryLogSample logs one query in so many (0: none).
	LogFormat, LogLevel string
	QueryLogSample      uint64

	// Cluster is the [cluster] section: nil without one (an instance on
	// its own, as before clusters existed).
	Cluster *ClusterConfig
}

// Cluster defaults.
const (
	DefaultClusterPort   = 7946
	DefaultClusterRejoin = 2 * time.Second
)

// ClusterConfig is the [cluster] section: this instance's place in a
// fleet of gslb instances (docs/cluster.md).
type ClusterConfig struct {
	// Name is the member's name ("": the identity, else the host name).
	Name string
	// Bind is where the gossip listens (UDP and TCP), Advertise the
	// address the others reach it at (invalid: the bind address).
	Bind, Advertise netip.AddrPort
	// Join are the peers, "host:port" or "host" (the default port).
	Join []string
	// KeyringFile holds the gossip's AES keys, base64, one per line, the
	// first in use (resolved relative to File). Insecure allows none on
	// a loopback bind address.
	KeyringFile string
	Insecure    bool
	// Label keeps fleets on one network apart; Profile is memberlist's
	// timing preset (lan, wan, local); Rejoin how often missing peers
	// are joined again.
	Label, Profile string
	Rejoin         time.Duration
	// Quorum is the rule of the checks that name none.
	Quorum string
}

// HasGeo reports whether a GeoIP database is configured.
func (c *Config) HasGeo() bool { return c.GeoDatabase != "" }

// TrustECS reports whether an ECS option from a resolver at addr is used.
func (c *Config) TrustECS(addr netip.Addr) bool {
	if c.ECSAll {
		return true
	}
	for _, p := range c.ECSTrusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// configDoc is the main file as written. Range tags are checked by
// errs.values, with the hint in parentheses after the range.
type configDoc struct {
	Zones  stringArray `toml:"zones"`
	Server struct {
		DNS         []addrPort `toml:"dns"`
		HTTP        tomlString `toml:"http"`
		AnswerCache tomlBool   `toml:"answer_cache"`
		Settle      duration   `toml:"reload_settle"`
	} `toml:"server"`
	Identity struct {
		ID      tomlString `toml:"id"`
		NSID    tomlBool   `toml:"nsid"`
		Version tomlString `toml:"version"`
	} `toml:"identity"`
	Limits struct {
		UDPSize        tomlInt  `toml:"edns_udp_size" range:"512..65535"`
		TCPConnections tomlInt  `toml:"tcp_connections" range:"1..1048576"`
		TCPIdleTimeout duration `toml:"tcp_idle_timeout"`
		TCPPerClient   tomlInt  `toml:"tcp_connections_per_client" range:"1..1048576"`
		TCPQueries     tomlInt  `toml:"tcp_queries_per_connection" range:"0.." hint:"0: no limit"`
		MinTTL         seconds  `toml:"min_ttl"`
		MaxTTL         seconds  `toml:"max_ttl"`
		ZoneFileMax    tomlInt  `toml:"zone_file_max_mib" range:"1..4096"`
		GeoFileMax     tomlInt  `toml:"geoip_file_max_mib" range:"1..65536"`
		StateFileMax   tomlInt  `toml:"state_file_max_mib" range:"1..4096"`
		MaxCNAMEChain  tomlInt  `toml:"max_cname_chain" range:"1..16"`
		MemoryLimit    tomlInt  `toml:"memory_limit_mib" range:"0..1048576" hint:"0: 90% of the container's limit, if any"`
	} `toml:"limits"`
	Defaults struct {
		TTL        seconds `toml:"ttl"`
		ServiceTTL seconds `toml:"service_ttl"`
	} `toml:"defaults"`
	Admin struct {
		StateFile              tomlString `toml:"state_file"`
		TokenFile              tomlString `toml:"token_file"`
		RegistrationTokensFile tomlString `toml:"registration_tokens_file"`
	} `toml:"admin"`
	Webhooks struct {
		SecretFile tomlString `toml:"secret_file"`
	} `toml:"webhooks"`
	HTTP struct {
		StatusAuth      tomlBool   `toml:"status_auth"`
		StatusTokenFile tomlString `toml:"status_token_file"`
		TLSCert         tomlString `toml:"tls_cert"`
		TLSKey          tomlString `toml:"tls_key"`
		MaxConns        tomlInt    `toml:"max_connections" range:"1..1000000"`
		MaxPerClient    tomlInt    `toml:"max_connections_per_client" range:"1..1000000"`
	} `toml:"http"`
	Health struct {
		MaxInFlight tomlInt `toml:"max_in_flight" range:"1..100000"`
	} `toml:"health"`
	State struct {
		Dir tomlString `toml:"dir"`
	} `toml:"state"`
	RRL struct {
		Enabled    tomlBool   `toml:"enabled"`
		Answers    tomlNumber `toml:"responses_per_second" range:"0..1000000" hint:"responses per second; 0: no limit"`
		NXDomains  tomlNumber `toml:"nxdomains_per_second" range:"0..1000000" hint:"responses per second; 0: no limit"`
		Errors     tomlNumber `toml:"errors_per_second" range:"0..1000000" hint:"responses per second; 0: no limit"`
		Slip       tomlInt    `toml:"slip" range:"0..100" hint:"0: never send a truncated reply"`
		IPv4Prefix tomlInt    `toml:"ipv4_prefix" range:"8..32"`
		IPv6Prefix tomlInt    `toml:"ipv6_prefix" range:"16..128"`
		Exempt     networks   `toml:"exempt"`
		TableSize  tomlInt    `toml:"table_size" range:"1024..16777216"`
	} `toml:"rrl"`
	Log struct {
		Format      tomlString `toml:"format"`
		Level       tomlString `toml:"level"`
		QuerySample tomlInt    `toml:"query_sample" range:"0.." hint:"0: off; N logs one query in N"`
	} `toml:"log"`
	Geo struct {
		Database    tomlString `toml:"database"`
		ASNDatabase tomlString `toml:"asn_database"`
		ECS         ecsTrust   `toml:"ecs"`
	} `toml:"geo"`
	Cluster struct {
		Name      tomlString  `toml:"name"`
		Bind      tomlString  `toml:"bind"`
		Advertise tomlString  `toml:"advertise"`
		Join      stringArray `toml:"join"`
		Keyring   tomlString  `toml:"keyring"`
		Insecure  tomlBool    `toml:"insecure"`
		Label     tomlString  `toml:"label"`
		Profile   tomlString  `toml:"profile"`
		Rejoin    duration    `toml:"rejoin_interval"`
		Quorum    quorumRule  `toml:"quorum"`
	} `toml:"cluster"`
}

// Files reads configuration files. OSFiles reads the file system; FSFiles
// reads an fs.FS such as the example embedded in the binary.
type Files interface {
	// ReadFile reads a file of at most limit bytes (0: no limit); a file
	// that is not regular, or larger, is an error.
	ReadFile(name string, limit int64) ([]byte, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Glob(pattern string) ([]string, error)
}

type osFiles struct{}

func (osFiles) ReadFile(name string, limit int64) ([]byte, error) {
	return safefile.Read(name, limit)
}
func (osFiles) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// Mode tells a file's permission bits (private keys must be its owner's
// alone).
func (osFiles) Mode(name string) (fs.FileMode, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}
func (osFiles) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// OSFiles reads configuration from the file system.
func OSFiles() Files { return osFiles{} }

type fsFiles struct{ fsys fs.FS }

func (f fsFiles) ReadFile(name string, limit int64) ([]byte, error) {
	b, err := fs.ReadFile(f.fsys, name)
	if err == nil && limit > 0 && int64(len(b)) > limit {
		return nil, fmt.Errorf("%s, over the limit of %s", safefile.Size(int64(len(b))), safefile.Size(limit))
	}
	return b, err
}
func (f fsFiles) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(f.fsys, name) }
func (f fsFiles) Mode(name string) (fs.FileMode, error) {
	fi, err := fs.Stat(f.fsys, name)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}
func (f fsFiles) Glob(pattern string) ([]string, error) { return fs.Glob(f.fsys, pattern) }

// FSFiles reads configuration from fsys, with paths relative to its root.
func FSFiles(fsys fs.FS) Files { return fsFiles{fsys} }

// defaultConfig is the configuration of a main file that sets nothing.
func defaultConfig(file string) *Config {
	return &Config{
		File:           file,
		DNSAddrs:       []string{DefaultDNSAddr4, DefaultDNSAddr6},
		HTTPAddr:       DefaultHTTPAddr,
		Identity:       "auto",
		NSID:           true,
		UDPSize:        DefaultUDPSize,
		AnswerCache:    true,
		TCPConnections: DefaultTCPConnections,
		TCPIdleTimeout: DefaultTCPIdleTimeout,
		MaxTTL:         DefaultMaxTTL,
		DefaultTTL:     DefaultTTL,
		ZoneFileMax:    DefaultFileMax,
		StateFileMax:   DefaultFileMax,
		MaxCNAMEChain:  DefaultMaxCNAMEChain,

		HTTPMaxConns:          DefaultHTTPMaxConns,
		HTTPMaxConnsPerClient: DefaultHTTPMaxConnsPerClient,
		GeoFileMax:            DefaultGeoMax,
		ReloadSettle:          DefaultReloadSettle,
		ServiceTTL:            DefaultServiceTTL,

		MaxProbesInFlight:       health.DefaultMaxInFlight,
		TCPConnectionsPerClient: 64,
		TCPQueriesPerConnection: 10000,

		// Response rate limiting: on, generous, local clients exempt
		// (their source cannot be spoofed from outside).
		RRLEnabled: true, RRLAnswers: 200, RRLNXDomains: 50, RRLErrors: 50, RRLSlip: 2,
		RRLIPv4Prefix: 24, RRLIPv6Prefix: 56, RRLTableSize: 1 << 18,
		RRLExempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		ECSAll:    true,

		LogFormat: "text",
		LogLevel:  "info",
	}
}

// parseConfig decodes the main configuration file. Problems are appended to
// list; the returned Config is usable only when none were added.
func parseConfig(files Files, file string, src []byte, list *ErrorList) *Config {
	var doc configDoc
	e, md, ok := decodeFile(file, src, &doc, list)
	if !ok {
		return nil
	}
	unknownKeys(e, md, configSchema, nil)
	c := defaultConfig(file)
	if doc.Server.DNS != nil {
		c.DNSAddrs = nil
		for _, a := range doc.Server.DNS {
			if a.ok() {
				c.DNSAddrs = append(c.DNSAddrs, a.v.String())
			}
		}
		if len(doc.Server.DNS) == 0 {
			e.key([]string{"server", "dns"}, "no address given; leave the key out for the defaults")
		}
	}
	if h := doc.Server.HTTP; h.ok() {
		c.HTTPAddr = h.v
		if _, err := netip.ParseAddrPort(h.v); h.v != "" && err != nil {
			e.key([]string{"server", "http"}, "%q is not an IP:port address (\"\" turns the HTTP side off)", h.v)
		}
	}
	doc.Server.AnswerCache.to(&c.AnswerCache)
	doc.Identity.ID.to(&c.Identity)
	doc.Identity.NSID.to(&c.NSID)
	doc.Identity.Version.to(&c.Version)

	lim := &doc.Limits
	toInt(&lim.UDPSize, &c.UDPSize)
	toInt(&lim.TCPConnections, &c.TCPConnections)
	toInt(&lim.TCPPerClient, &c.TCPConnectionsPerClient)
	toInt(&lim.TCPQueries, &c.TCPQueriesPerConnection)
	if t := lim.TCPIdleTimeout; t.ok() && t.v < 100*time.Millisecond {
		e.key([]string{"limits", "tcp_idle_timeout"}, "%v is too short (at least 100ms)", t.v)
	}
	lim.TCPIdleTimeout.to(&c.TCPIdleTimeout)
	var mib int
	if toInt(&lim.ZoneFileMax, &mib); mib > 0 {
		c.ZoneFileMax = int64(mib) << 20
	}
	mib = 0
	if toInt(&lim.GeoFileMax, &mib); mib > 0 {
		c.GeoFileMax = int64(mib) << 20
	}
	mib = 0
	if toInt(&lim.StateFileMax, &mib); mib > 0 {
		c.StateFileMax = int64(mib) << 20
	}
	toInt(&lim.MaxCNAMEChain, &c.MaxCNAMEChain)
	toInt(&lim.MemoryLimit, &c.MemoryLimitMiB)
	if d := doc.Server.Settle; d.ok() && (d.v < 0 || d.v > time.Minute) {
		e.key([]string{"server", "reload_settle"}, "%v: want 0 to 1m", d.v)
	}
	doc.Server.Settle.to(&c.ReloadSettle)
	lim.MinTTL.to(&c.MinTTL)
	lim.MaxTTL.to(&c.MaxTTL)
	doc.Defaults.TTL.to(&c.DefaultTTL)
	doc.Defaults.ServiceTTL.to(&c.ServiceTTL)
	if c.MinTTL > c.MaxTTL {
		e.at([]string{"limits", "min_ttl"}, "limits.min_ttl (%d) is above limits.max_ttl (%d)", c.MinTTL, c.MaxTTL)
	}
	for _, k := range []struct {
		v    uint32
		path []string
	}{{c.DefaultTTL, []string{"defaults", "ttl"}}, {c.ServiceTTL, []string{"defaults", "service_ttl"}}} {
		if k.v < c.MinTTL || k.v > c.MaxTTL {
			e.key(k.path, "%d is outside limits.min_ttl..limits.max_ttl (%d..%d)", k.v, c.MinTTL, c.MaxTTL)
		}
	}

	rel := func(s tomlString) string {
		if !s.ok() || s.v == "" || filepath.IsAbs(s.v) {
			return s.v
		}
		return filepath.Join(filepath.Dir(file), s.v)
	}
	c.AdminStateFile = rel(doc.Admin.StateFile)
	c.AdminTokenFile = rel(doc.Admin.TokenFile)
	c.RegistrationTokensFile = rel(doc.Admin.RegistrationTokensFile)
	c.WebhookSecretFile = rel(doc.Webhooks.SecretFile)
	c.StateDir = rel(doc.State.Dir)
	h := &doc.HTTP
	h.StatusAuth.to(&c.StatusAuth)
	toInt(&h.MaxConns, &c.HTTPMaxConns)
	toInt(&h.MaxPerClient, &c.HTTPMaxConnsPerClient)
	c.StatusTokenFile = rel(h.StatusTokenFile)
	c.TLSCert, c.TLSKey = rel(h.TLSCert), rel(h.TLSKey)
	if (c.TLSCert == "") != (c.TLSKey == "") && len(h.TLSCert.problems)+len(h.TLSKey.problems) == 0 {
		missing, given := "tls_key", []string{"http", "tls_cert"}
		if c.TLSCert == "" {
			missing, given = "tls_cert", []string{"http", "tls_key"}
		}
		e.key(given, "HTTPS needs both tls_cert and tls_key: add http.%s", missing)
	}
	if c.StatusAuth && c.StatusTokenFile == "" && c.AdminTokenFile == "" {
		e.key([]string{"http", "status_auth"}, "needs a token: set http.status_token_file (a read token) or admin.token_file")
	}
	if c.StatusTokenFile != "" && !c.StatusAuth {
		e.key([]string{"http", "status_token_file"}, "is read only with http.status_auth = true")
	}
	c.keyAt = map[string]pos{KeyStateDir: e.pos.of([]string{"state", "dir"}), KeyAdminStateFile: e.pos.of([]string{"admin", "state_file"})}
	toInt(&doc.Health.MaxInFlight, &c.MaxProbesInFlight)

	r := &doc.RRL
	r.Enabled.to(&c.RRLEnabled)
	r.Answers.to(&c.RRLAnswers)
	r.NXDomains.to(&c.RRLNXDomains)
	r.Errors.to(&c.RRLErrors)
	toInt(&r.Slip, &c.RRLSlip)
	toInt(&r.IPv4Prefix, &c.RRLIPv4Prefix)
	toInt(&r.IPv6Prefix, &c.RRLIPv6Prefix)
	toInt(&r.TableSize, &c.RRLTableSize)
	if r.Exempt.set {
		c.RRLExempt = r.Exempt.v
	}

	if f := doc.Log.Format; f.ok() && f.v != "" {
		if f.v != "text" && f.v != "json" {
			e.key([]string{"log", "format"}, "%q: want \"text\" or \"json\"", f.v)
		}
		c.LogFormat = f.v
	}
	if lv := doc.Log.Level; lv.ok() && lv.v != "" {
		switch lv.v {
		case "debug", "info", "warn", "error":
		default:
			e.key([]string{"log", "level"}, "%q: want debug, info, warn or error", lv.v)
		}
		c.LogLevel = lv.v
	}
	toInt(&doc.Log.QuerySample, &c.QueryLogSample)

	c.GeoDatabase = rel(doc.Geo.Database)
	c.GeoASNDatabase = rel(doc.Geo.ASNDatabase)
	if c.GeoASNDatabase != "" && c.GeoDatabase == "" {
		e.at([]string{"geo", "asn_database"}, "geo.asn_database needs geo.database (a City or Country database) too")
	}
	if ecs := doc.Geo.ECS; ecs.set {
		c.ECSAll, c.ECSTrusted = ecs.all, ecs.v
	}

	if md.IsDefined("cluster") {
		c.Cluster = parseCluster(e, &doc, rel)
	}
	c.ZoneFiles = zoneFiles(files, e, file, doc.Zones)
	return c
}

// parseCluster checks the [cluster] section.
func parseCluster(e *errs, doc *configDoc, rel func(tomlString) string) *ClusterConfig {
	d := &doc.Cluster
	cc := &ClusterConfig{Bind: netip.AddrPortFrom(netip.IPv4Unspecified(), DefaultClusterPort), Profile: "lan", Rejoin: DefaultClusterRejoin}
	at := func(key string) []string { return []string{"cluster", key} }
	d.Name.to(&cc.Name)
	if len(cc.Name) > 128 {
		e.key(at("name"), "%d characters: at most 128", len(cc.Name))
	}
	addr := func(key string, s tomlString, dst *netip.AddrPort) {
		if !s.ok() || s.v == "" {
			return
		}
		a, err := netip.ParseAddrPort(s.v)
		if err != nil {
			if ip, err2 := netip.ParseAddr(s.v); err2 == nil {
				a, err = netip.AddrPortFrom(ip, DefaultClusterPort), nil
			}
		}
		if err != nil {
			e.key(at(key), "%q is not an IP address or IP:port", s.v)
			return
		}
		*dst = a
	}
	addr("bind", d.Bind, &cc.Bind)
	addr("advertise", d.Advertise, &cc.Advertise)
	if cc.Advertise.IsValid() && cc.Advertise.Addr().IsUnspecified() {
		e.key(at("advertise"), "%v: the others cannot reach an unspecified address", cc.Advertise)
	}
	for i, p := range d.Join.v {
		host, port, err := net.SplitHostPort(p)
		if err != nil {
			host, port = p, strconv.Itoa(DefaultClusterPort)
		}
		if n, perr := strconv.Atoi(port); host == "" || strings.ContainsAny(host, " /") || perr != nil || n < 1 || n > 65535 {
			e.at(d.Join.path(at("join"), i), "cluster.join: %q is not host:port or host", p)
			continue
		}
		cc.Join = append(cc.Join, net.JoinHostPort(host, port))
	}
	cc.KeyringFile = rel(d.Keyring)
	d.Insecure.to(&cc.Insecure)
	switch {
	case cc.KeyringFile == "" && !cc.Insecure:
		e.key(at("bind"), "a cluster needs a keyring (cluster.keyring, made by gslb cluster keygen); insecure = true allows none on a loopback address only")
	case cc.KeyringFile == "" && !cc.Bind.Addr().IsLoopback():
		e.key(at("insecure"), "gossip in plain text is for a loopback bind address only, not %v: give cluster.keyring", cc.Bind.Addr())
	case cc.KeyringFile != "" && cc.Insecure:
		e.key(at("insecure"), "insecure = true with a keyring: leave one out")
	}
	d.Label.to(&cc.Label)
	if p := d.Profile; p.ok() && p.v != "" {
		switch p.v {
		case "lan", "wan", "local":
			cc.Profile = p.v
		default:
			e.key(at("profile"), "%q: want \"lan\", \"wan\" or \"local\"", p.v)
		}
	}
	if r := d.Rejoin; r.ok() && (r.v < 100*time.Millisecond || r.v > time.Hour) {
		e.key(at("rejoin_interval"), "%v: want 100ms to 1h", r.v)
	}
	d.Rejoin.to(&cc.Rejoin)
	d.Quorum.to(&cc.Quorum)
	return cc
}

// zoneFiles expands the zones entries of the main file.
func zoneFiles(files Files, e *errs, file string, zones stringArray) []string {
	if len(zones.v) == 0 && len(zones.problems) == 0 {
		e.key([]string{"zones"}, "no zone files given (e.g. zones = [\"zones/*.toml\"])")
	}
	var out []string
	seen := map[string]bool{}
	for i, z := range zones.v {
		p := z
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		matches, err := expandZonePath(files, p)
		where := zones.path([]string{"zones"}, i)
		if err != nil {
			e.at(where, "zones: %v", err)
			continue
		}
		if len(matches) == 0 {
			e.at(where, "zones: %q matches no zone file", z)
			continue
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// expandZonePath turns a zones entry into files: a file stands for itself, a
// directory for every *.toml in it, anything else is a glob pattern.
func expandZonePath(files Files, p string) ([]string, error) {
	if entries, err := files.ReadDir(p); err == nil {
		var out []string
		for _, d := range entries {
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".toml") {
				out = append(out, filepath.Join(p, d.Name()))
			}
		}
		sort.Strings(out)
		return out, nil
	}
	if strings.ContainsAny(p, "*?[") {
		m, err := files.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %v", p, err)
		}
		sort.Strings(m)
		return m, nil
	}
	return []string{p}, nil
}

// unknownKeys reports every key the decoder did not use: a typo must never
// be silently ignored. Only the outermost unknown key of a subtree is named,
// and none for which skip (if not nil) is true.
func unknownKeys(e *errs, md toml.MetaData, sch schema, skip func(toml.Key) bool) {
	und := md.Undecoded()
	bad := map[string]bool{}
	for _, k := range und {
		bad[k.String()] = true
	}
	done := map[string]bool{}
	for _, k := range und {
		// A key inside an array of tables is listed once per element
		// it is in; written finds every element at once.
		if skip != nil && skip(k) || done[k.String()] {
			continue
		}
		done[k.String()] = true
		parentUnknown := false
		for n := 1; n < len(k); n++ {
			if bad[k[:n].String()] {
				parentUnknown = true
				break
			}
		}
		if parentUnknown {
			continue
		}
		paths := e.pos.written(k)
		if len(paths) == 0 {
			paths = [][]string{k}
		}
		for _, p := range paths {
			e.at(p, "%s", unknownKey(p, sch.keysAt(p[:len(p)-1])))
		}
	}
}
