package geo

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gslb/gslb/geo/geotest"
)

const testdata = "../testdata/geoip/"

func open(t testing.TB, loc, asn string) *DB {
	t.Helper()
	var a Source
	if asn != "" {
		a.Path = testdata + asn
	}
	db, err := Open(Source{Path: testdata + loc}, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLookup(t *testing.T) {
	db := open(t, "GeoIP2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb")
	if db.Type != "GeoIP2-City" || db.ASNType != "GeoLite2-ASN" || db.BuildTime.Year() != 2026 {
		t.Errorf("type %q asn %q built %v", db.Type, db.ASNType, db.BuildTime)
	}
	cases := []struct {
		ip                      string
		found                   bool
		country, continent, sub string
		lat, lon                float64
		network                 string
		asn                     uint32
	}{
		{"81.2.69.142", true, "GB", "EU", "GB-ENG", 51.5142, -0.0931, "81.2.69.142/31", 0},
		{"::ffff:81.2.69.142", true, "GB", "EU", "GB-ENG", 51.5142, -0.0931, "81.2.69.142/31", 0},
		{"89.160.20.115", true, "SE", "EU", "SE-E", 58.4167, 15.6167, "89.160.20.112/28", 29518},
		{"216.160.83.60", true, "US", "NA", "US-WA", 47.2513, -122.3149, "216.160.83.56/29", 209},
		{"214.78.120.5", true, "US", "NA", "US-CA", 32.7405, -117.0935, "214.78.120.0/22", 721},
		{"175.16.199.7", true, "CN", "AS", "CN-22", 43.88, 125.3228, "175.16.199.0/24", 0},
		{"214.0.1.9", true, "AU", "OC", "AU-VIC", -37.8159, 144.9669, "214.0.1.0/24", 721},
		{"2001:218::1", true, "JP", "AS", "", 35.68536, 139.75309, "2001:218::/32", 0},
		{"2a02:cfc0::1", true, "FR", "EU", "", 46, 2, "2a02:cfc0::/29", 0},
		{"2a02:e700::1", true, "LY", "AF", "", 28, 17, "2a02:e700::/29", 0},
		{"1.1.1.1", false, "", "", "", 0, 0, "1.0.0.0/8", 0},
		{"10.0.0.1", false, "", "", "", 0, 0, "10.0.0.0/8", 0},
		{"::1", false, "", "", "", 0, 0, "::/104", 0},
	}
	for _, c := range cases {
		l := db.Lookup(netip.MustParseAddr(c.ip))
		if l.Found != c.found || l.Country != c.country || l.Continent != c.continent || l.Subdivision != c.sub ||
			l.Lat != c.lat || l.Lon != c.lon || l.HasCoords != c.found || l.Network.String() != c.network || l.ASN != c.asn {
			t.Errorf("%s: got %+v", c.ip, l)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, []byte("not a database"), 0o644)
	cases := []struct {
		loc, asn Source
		want     string
	}{
		{Source{Path: filepath.Join(dir, "missing.mmdb")}, Source{}, "no such file"},
		{Source{Path: junk}, Source{}, "invalid MaxMind DB file"},
		{Source{Path: testdata + "GeoLite2-ASN-Test.mmdb"}, Source{}, "is an ASN database"},
		{Source{Path: testdata + "GeoLite2-City-Test.mmdb"}, Source{Path: testdata + "GeoIP2-Country-Test.mmdb"}, "not an ASN one"},
	}
	for _, c := range cases {
		_, err := Open(c.loc, c.asn)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err %v, want %q", c.loc, c.asn, err, c.want)
		}
	}
}

func TestCountryDatabase(t *testing.T) {
	db := open(t, "GeoIP2-Country-Test.mmdb", "")
	l := db.Lookup(netip.MustParseAddr("2001:220::1"))
	if l.Country != "KR" || l.HasCoords {
		t.Errorf("%+v", l)
	}
}

func TestBuiltDatabase(t *testing.T) {
	path := geotest.City(t,
		geotest.Network{CIDR: "192.0.2.0/24", Country: "BR", Continent: "SA", Subdivision: "SP", Lat: -23.5, Lon: -46.6},
		geotest.Network{CIDR: "2001:db8::/32", Country: "AR", Continent: "SA", Lat: -34.6, Lon: -58.4},
	)
	db, err := Open(Source{Path: path}, Source{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if l := db.Lookup(netip.MustParseAddr("192.0.2.7")); l.Continent != "SA" || l.Subdivision != "BR-SP" || l.Network.String() != "192.0.2.0/24" {
		t.Errorf("%+v", l)
	}
	if l := db.Lookup(netip.MustParseAddr("2001:db8::5")); l.Country != "AR" {
		t.Errorf("%+v", l)
	}
}

func TestLocatorReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "geo.mmdb")
	geotest.CopyFile(t, testdata+"GeoIP2-City-Test.mmdb", path)
	l, err := NewLocator(Source{Path: path}, Source{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ip := netip.MustParseAddr("214.0.1.9")
	if got := l.Lookup(ip).Country; got != "AU" {
		t.Fatalf("before: %q", got)
	}
	// Lookups run while the database is replaced: none may fail or crash.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad sync.Map
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A lookup on a closed database finds no network at all;
				// either database has one for this address.
				loc := l.Lookup(ip)
				if !loc.Network.IsValid() {
					bad.Store("a closed database", true)
				} else if c := loc.Country; c != "AU" && c != "" {
					bad.Store(c, true)
				}
			}
		}()
	}
	// GeoLite2-City does not have 214.0.1.0/24.
	for i := range 20 {
		src := "GeoLite2-City-Test.mmdb"
		if i%2 == 1 {
			src = "GeoIP2-City-Test.mmdb"
		}
		geotest.CopyFile(t, testdata+src, path+".new")
		os.Rename(path+".new", path)
		if err := l.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	bad.Range(func(k, _ any) bool { t.Errorf("lookup saw %v during reloads", k); return true })
	if got := l.Lookup(ip).Country; got != "AU" || l.Reloads() != 20 {
		t.Errorf("after: %q, %d reloads", got, l.Reloads())
	}
	// A corrupt file: the reload fails and the old database keeps serving.
	os.WriteFile(path, []byte("garbage"), 0o644)
	if err := l.Reload(); err == nil {
		t.Error("a corrupt database was accepted")
	}
	if got := l.Lookup(ip).Country; got != "AU" {
		t.Errorf("after a failed reload: %q", got)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	db := open(t, "GeoIP2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb")
	l, _ := NewLocator(Source{Path: testdata + "GeoIP2-City-Test.mmdb"}, Source{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close()
	ip := netip.MustParseAddr("175.16.199.7")
	if n := testing.AllocsPerRun(1000, func() { db.Lookup(ip) }); n != 0 {
		t.Errorf("DB.Lookup allocates %v times, budget 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { l.Lookup(ip) }); n != 0 {
		t.Errorf("Locator.Lookup allocates %v times, budget 0", n)
	}
}

func BenchmarkLookup(b *testing.B) {
	db := open(b, "GeoIP2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb")
	ips := []netip.Addr{netip.MustParseAddr("175.16.199.7"), netip.MustParseAddr("2a02:cfc0::1"), netip.MustParseAddr("1.1.1.1")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		db.Lookup(ips[i%len(ips)])
		i++
	}
}
