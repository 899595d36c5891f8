package geo

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLocatorCollector(t *testing.T) {
	l, err := NewLocator(Source{Path: testdata + "GeoIP2-City-Test.mmdb"}, Source{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(l)
	l.Lookup(netip.MustParseAddr("214.0.1.9")) // in the database
	l.Lookup(netip.MustParseAddr("127.0.0.1")) // not
	l.Lookup(netip.MustParseAddr("10.1.2.3"))  // not
	_, built, _ := l.DB()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.Metric {
			name := f.GetName()
			for _, lp := range m.Label {
				name += "{" + lp.GetName() + "=" + lp.GetValue() + "}"
			}
			if m.Counter != nil {
				got[name] = m.Counter.GetValue()
			} else {
				got[name] = m.Gauge.GetValue()
			}
		}
	}
	want := map[string]float64{
		"gslb_geoip_lookups_total":                                      3,
		"gslb_geoip_misses_total":                                       2,
		"gslb_geoip_database_build_timestamp_seconds{type=GeoIP2-City}": float64(built.Unix()),
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if built.Year() < 2000 {
		t.Errorf("build time %v: not read from the database", built)
	}
}
