// Package geotest builds small GeoIP2-shaped databases for tests with
// github.com/maxmind/mmdbwriter, for places the MaxMind test databases do
// not cover (South America, documentation and loopback ranges).
package geotest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one entry of a test database.
type Network struct {
	CIDR        string
	Country     string // ISO code
	Continent   string // AF AN AS EU NA OC SA
	Subdivision string // ISO 3166-2 part after the country, e.g. "CA"
	Lat, Lon    float64
	ASN         uint32 // for ASN databases
}

// City writes a GeoIP2-City database with the networks into the test's
// temporary folder and returns its path.
func City(t testing.TB, nets ...Network) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", IncludeReservedNetworks: true, RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		rec := mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)},
			"continent": mmdbtype.Map{"code": mmdbtype.String(n.Continent)},
			"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(n.Lat), "longitude": mmdbtype.Float64(n.Lon)},
		}
		if n.Subdivision != "" {
			rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(n.Subdivision)}}
		}
		insert(t, tree, n.CIDR, rec)
	}
	return write(t, tree, "city.mmdb")
}

// ASN writes a GeoLite2-ASN database and returns its path.
func ASN(t testing.TB, nets ...Network) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", IncludeReservedNetworks: true, RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		insert(t, tree, n.CIDR, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(n.ASN),
			"autonomous_system_organization": mmdbtype.String("Test AS"),
		})
	}
	return write(t, tree, "asn.mmdb")
}

func insert(t testing.TB, tree *mmdbwriter.Tree, cidr string, rec mmdbtype.Map) {
	t.Helper()
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Insert(ipnet, rec); err != nil {
		t.Fatal(err)
	}
}

func write(t testing.TB, tree *mmdbwriter.Tree, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return p
}

// CopyFile copies a file, such as a test database, failing the test on
// any error.
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
