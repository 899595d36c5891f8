package zones

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gslb/gslb/health"
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

	// AdminStateFile keeps admin overrides across restarts ("" for none);
	// AdminTokenFile holds the bearer token of the admin write API (""
	// turns the write API off). Both resolved relative to File.
	AdminStateFile string
	AdminTokenFile string
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

type configDoc struct {
	Zones  []string `toml:"zones"`
	Server struct {
		DNS         []string `toml:"dns"`
		HTTP        *string  `toml:"http"`
		AnswerCache *bool    `toml:"answer_cache"`
	} `toml:"server"`
	Identity struct {
		ID      *string `toml:"id"`
		NSID    *bool   `toml:"nsid"`
		Version *string `toml:"version"`
	} `toml:"identity"`
	Limits struct {
		UDPSize        *int64 `toml:"edns_udp_size"`
		TCPConnections *int64 `toml:"tcp_connections"`
		TCPIdleTimeout any    `toml:"tcp_idle_timeout"`
		TCPPerClient   *int64 `toml:"tcp_connections_per_client"`
		TCPQueries     *int64 `toml:"tcp_queries_per_connection"`
		MinTTL         any    `toml:"min_ttl"`
		MaxTTL         any    `toml:"max_ttl"`
	} `toml:"limits"`
	Defaults struct {
		TTL        any `toml:"ttl"`
		ServiceTTL any `toml:"service_ttl"`
	} `toml:"defaults"`
	Admin struct {
		StateFile string `toml:"state_file"`
		TokenFile string `toml:"token_file"`
	} `toml:"admin"`
	Health struct {
		MaxInFlight *int64 `toml:"max_in_flight"`
	} `toml:"health"`
	State struct {
		Dir string `toml:"dir"`
	} `toml:"state"`
	RRL struct {
		Enabled    *bool    `toml:"enabled"`
		Answers    any      `toml:"responses_per_second"`
		NXDomains  any      `toml:"nxdomains_per_second"`
		Errors     any      `toml:"errors_per_second"`
		Slip       *int64   `toml:"slip"`
		IPv4Prefix *int64   `toml:"ipv4_prefix"`
		IPv6Prefix *int64   `toml:"ipv6_prefix"`
		Exempt     []string `toml:"exempt"`
		TableSize  *int64   `toml:"table_size"`
	} `toml:"rrl"`
	Log struct {
		Format      string `toml:"format"`
		Level       string `toml:"level"`
		QuerySample *int64 `toml:"query_sample"`
	} `toml:"log"`
	Geo struct {
		Database    string `toml:"database"`
		ASNDatabase string `toml:"asn_database"`
		ECS         any    `toml:"ecs"`
	} `toml:"geo"`
}

// Files reads configuration files. OSFiles reads the file system; FSFiles
// reads an fs.FS such as the example embedded in the binary.
type Files interface {
	ReadFile(name string) ([]byte, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Glob(pattern string) ([]string, error)
}

type osFiles struct{}

func (osFiles) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }
func (osFiles) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFiles) Glob(pattern string) ([]string, error)      { return filepath.Glob(pattern) }

// OSFiles reads configuration from the file system.
func OSFiles() Files { return osFiles{} }

type fsFiles struct{ fsys fs.FS }

func (f fsFiles) ReadFile(name string) ([]byte, error)       { return fs.ReadFile(f.fsys, name) }
func (f fsFiles) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(f.fsys, name) }
func (f fsFiles) Glob(pattern string) ([]string, error)      { return fs.Glob(f.fsys, pattern) }

// FSFiles reads configuration from fsys, with paths relative to its root.
func FSFiles(fsys fs.FS) Files { return fsFiles{fsys} }

// parseConfig decodes the main configuration file. Problems are appended to
// list; the returned Config is usable only when none were added.
func parseConfig(files Files, file string, src []byte, list *ErrorList) *Config {
	idx, deep := indexPositions(file, src)
	if deep != nil {
		*list = append(*list, deep)
		return nil
	}
	var doc configDoc
	md, err := toml.Decode(string(src), &doc)
	if err != nil {
		*list = append(*list, tomlError(file, err))
		return nil
	}
	e := &errs{file: file, pos: idx, list: list}
	unknownKeys(e, md)

	c := &Config{
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
		ServiceTTL:     DefaultServiceTTL,
	}
	if doc.Server.DNS != nil {
		c.DNSAddrs = nil
		for i, a := range doc.Server.DNS {
			if _, err := netip.ParseAddrPort(a); err != nil {
				e.at([]string{"server", "dns", fmt.Sprintf("[%d]", i)}, "server.dns: %q is not an IP:port address (use [::1]:53 for IPv6)", a)
				continue
			}
			c.DNSAddrs = append(c.DNSAddrs, a)
		}
		if len(doc.Server.DNS) == 0 {
			e.at([]string{"server", "dns"}, "server.dns: no address given; leave the key out for the defaults")
		}
	}
	if doc.Server.HTTP != nil {
		c.HTTPAddr = *doc.Server.HTTP
		if c.HTTPAddr != "" {
			if _, err := netip.ParseAddrPort(c.HTTPAddr); err != nil {
				e.at([]string{"server", "http"}, "server.http: %q is not an IP:port address (\"\" turns the HTTP side off)", c.HTTPAddr)
			}
		}
	}
	if doc.Identity.ID != nil {
		c.Identity = *doc.Identity.ID
	}
	if doc.Identity.NSID != nil {
		c.NSID = *doc.Identity.NSID
	}
	if doc.Identity.Version != nil {
		c.Version = *doc.Identity.Version
	}
	if v := doc.Server.AnswerCache; v != nil {
		c.AnswerCache = *v
	}
	if v := doc.Limits.UDPSize; v != nil {
		if *v < 512 || *v > 65535 {
			e.at([]string{"limits", "edns_udp_size"}, "limits.edns_udp_size: %d is out of range 512..65535", *v)
		} else {
			c.UDPSize = uint16(*v)
		}
	}
	if v := doc.Limits.TCPConnections; v != nil {
		if *v < 1 || *v > 1<<20 {
			e.at([]string{"limits", "tcp_connections"}, "limits.tcp_connections: %d is out of range 1..%d", *v, 1<<20)
		} else {
			c.TCPConnections = int(*v)
		}
	}
	if v := doc.Limits.TCPIdleTimeout; v != nil {
		d, err := duration(v)
		switch {
		case err != nil:
			e.at([]string{"limits", "tcp_idle_timeout"}, "limits.tcp_idle_timeout: %v", err)
		case d < 100*time.Millisecond:
			e.at([]string{"limits", "tcp_idle_timeout"}, "limits.tcp_idle_timeout: %v is too short (at least 100ms)", d)
		default:
			c.TCPIdleTimeout = d
		}
	}
	ttl := func(v any, dst *uint32, path ...string) {
		if v == nil {
			return
		}
		s, err := seconds(v)
		if err != nil {
			e.at(path, "%s: %v", strings.Join(path, "."), err)
			return
		}
		*dst = s
	}
	ttl(doc.Limits.MinTTL, &c.MinTTL, "limits", "min_ttl")
	ttl(doc.Limits.MaxTTL, &c.MaxTTL, "limits", "max_ttl")
	ttl(doc.Defaults.TTL, &c.DefaultTTL, "defaults", "ttl")
	ttl(doc.Defaults.ServiceTTL, &c.ServiceTTL, "defaults", "service_ttl")
	if c.MinTTL > c.MaxTTL {
		e.at([]string{"limits", "min_ttl"}, "limits.min_ttl (%d) is above limits.max_ttl (%d)", c.MinTTL, c.MaxTTL)
	}
	for _, k := range []struct {
		v    uint32
		path []string
	}{{c.DefaultTTL, []string{"defaults", "ttl"}}, {c.ServiceTTL, []string{"defaults", "service_ttl"}}} {
		if k.v < c.MinTTL || k.v > c.MaxTTL {
			e.at(k.path, "%s: %d is outside limits.min_ttl..limits.max_ttl (%d..%d)", strings.Join(k.path, "."), k.v, c.MinTTL, c.MaxTTL)
		}
	}

	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(file), p)
	}
	c.AdminStateFile = rel(doc.Admin.StateFile)
	c.AdminTokenFile = rel(doc.Admin.TokenFile)
	c.StateDir = rel(doc.State.Dir)
	c.keyAt = map[string]pos{KeyStateDir: e.pos.of([]string{"state", "dir"}), KeyAdminStateFile: e.pos.of([]string{"admin", "state_file"})}
	c.MaxProbesInFlight = health.DefaultMaxInFlight
	if v := doc.Health.MaxInFlight; v != nil {
		if *v < 1 || *v > 100000 {
			e.at([]string{"health", "max_in_flight"}, "health.max_in_flight: %d is out of range 1..100000", *v)
		} else {
			c.MaxProbesInFlight = int(*v)
		}
	}

	c.TCPConnectionsPerClient, c.TCPQueriesPerConnection = 64, 10000
	if v := doc.Limits.TCPPerClient; v != nil {
		if *v < 1 || *v > 1<<20 {
			e.at([]string{"limits", "tcp_connections_per_client"}, "limits.tcp_connections_per_client: %d is out of range 1..%d", *v, 1<<20)
		}
		c.TCPConnectionsPerClient = int(*v)
	}
	if v := doc.Limits.TCPQueries; v != nil {
		if *v < 0 {
			e.at([]string{"limits", "tcp_queries_per_connection"}, "limits.tcp_queries_per_connection: %d: want 0 (no limit) or more", *v)
		}
		c.TCPQueriesPerConnection = int(*v)
	}

	// Response rate limiting: on, generous, local clients exempt (their
	// source cannot be spoofed from outside).
	c.RRLEnabled, c.RRLAnswers, c.RRLNXDomains, c.RRLErrors, c.RRLSlip = true, 200, 50, 50, 2
	c.RRLIPv4Prefix, c.RRLIPv6Prefix, c.RRLTableSize = 24, 56, 1<<18
	c.RRLExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	r := doc.RRL
	if r.Enabled != nil {
		c.RRLEnabled = *r.Enabled
	}
	for _, f := range []struct {
		v   any
		dst *float64
		key string
	}{{r.Answers, &c.RRLAnswers, "responses_per_second"}, {r.NXDomains, &c.RRLNXDomains, "nxdomains_per_second"}, {r.Errors, &c.RRLErrors, "errors_per_second"}} {
		if f.v == nil {
			continue
		}
		x, ok := f.v.(int64)
		fx, okf := f.v.(float64)
		switch {
		case ok && x >= 0 && x <= 1000000:
			*f.dst = float64(x)
		case okf && fx >= 0 && fx <= 1000000:
			*f.dst = fx
		default:
			e.at([]string{"rrl", f.key}, "rrl.%s: want a number of responses per second, 0..1000000 (0: no limit)", f.key)
		}
	}
	if v := r.Slip; v != nil {
		if *v < 0 || *v > 100 {
			e.at([]string{"rrl", "slip"}, "rrl.slip: %d is out of range 0..100 (0: never send a truncated reply)", *v)
		}
		c.RRLSlip = int(*v)
	}
	if v := r.IPv4Prefix; v != nil {
		if *v < 8 || *v > 32 {
			e.at([]string{"rrl", "ipv4_prefix"}, "rrl.ipv4_prefix: %d is out of range 8..32", *v)
		}
		c.RRLIPv4Prefix = int(*v)
	}
	if v := r.IPv6Prefix; v != nil {
		if *v < 16 || *v > 128 {
			e.at([]string{"rrl", "ipv6_prefix"}, "rrl.ipv6_prefix: %d is out of range 16..128", *v)
		}
		c.RRLIPv6Prefix = int(*v)
	}
	if r.Exempt != nil {
		c.RRLExempt = nil
		for i, x := range r.Exempt {
			p, err := netip.ParsePrefix(x)
			if err != nil {
				e.at([]string{"rrl", "exempt", fmt.Sprintf("[%d]", i)}, "rrl.exempt[%d]: %q is not a network such as \"192.0.2.0/24\"", i, x)
				continue
			}
			c.RRLExempt = append(c.RRLExempt, p.Masked())
		}
	}
	if v := r.TableSize; v != nil {
		if *v < 1024 || *v > 1<<24 {
			e.at([]string{"rrl", "table_size"}, "rrl.table_size: %d is out of range 1024..%d", *v, 1<<24)
		}
		c.RRLTableSize = int(*v)
	}

	c.LogFormat, c.LogLevel = "text", "info"
	if f := doc.Log.Format; f != "" {
		if f != "text" && f != "json" {
			e.at([]string{"log", "format"}, "log.format: %q: want \"text\" or \"json\"", f)
		}
		c.LogFormat = f
	}
	if lv := doc.Log.Level; lv != "" {
		switch lv {
		case "debug", "info", "warn", "error":
		default:
			e.at([]string{"log", "level"}, "log.level: %q: want debug, info, warn or error", lv)
		}
		c.LogLevel = lv
	}
	if n := doc.Log.QuerySample; n != nil {
		if *n < 0 {
			e.at([]string{"log", "query_sample"}, "log.query_sample: %d: want 0 (off) or N to log one query in N", *n)
		} else {
			c.QueryLogSample = uint64(*n)
		}
	}
	c.GeoDatabase = rel(doc.Geo.Database)
	c.GeoASNDatabase = rel(doc.Geo.ASNDatabase)
	if c.GeoASNDatabase != "" && c.GeoDatabase == "" {
		e.at([]string{"geo", "asn_database"}, "geo.asn_database needs geo.database (a City or Country database) too")
	}
	switch v := doc.Geo.ECS.(type) {
	case nil:
		c.ECSAll = true
	case string:
		switch v {
		case "all":
			c.ECSAll = true
		case "none":
		default:
			e.at([]string{"geo", "ecs"}, "geo.ecs: %q: want \"all\", \"none\" or a list of trusted resolver networks", v)
		}
	case []any:
		for i, x := range v {
			s, _ := x.(string)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				e.at([]string{"geo", "ecs", fmt.Sprintf("[%d]", i)}, "geo.ecs[%d]: %q is not a network such as \"192.0.2.0/24\"", i, x)
				continue
			}
			c.ECSTrusted = append(c.ECSTrusted, p.Masked())
		}
	default:
		e.at([]string{"geo", "ecs"}, "geo.ecs: want \"all\", \"none\" or a list of networks")
	}

	if len(doc.Zones) == 0 {
		e.at([]string{"zones"}, "zones: no zone files given (e.g. zones = [\"zones/*.toml\"])")
	}
	dir := filepath.Dir(file)
	seen := map[string]bool{}
	for i, z := range doc.Zones {
		p := z
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		matches, err := expandZonePath(files, p)
		where := []string{"zones", fmt.Sprintf("[%d]", i)}
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
				c.ZoneFiles = append(c.ZoneFiles, m)
			}
		}
	}
	return c
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
// be silently ignored. Only the outermost unknown key of a subtree is named.
func unknownKeys(e *errs, md toml.MetaData) {
	und := md.Undecoded()
	bad := map[string]bool{}
	for _, k := range und {
		bad[k.String()] = true
	}
	for _, k := range und {
		if len(k) > 2 && k[0] == "records" {
			// A table under a record name: the zone loader explains it.
			continue
		}
		parentUnknown := false
		for n := 1; n < len(k); n++ {
			if bad[k[:n].String()] {
				parentUnknown = true
				break
			}
		}
		if !parentUnknown {
			e.at(k, "unknown key %q", k.String())
		}
	}
}
