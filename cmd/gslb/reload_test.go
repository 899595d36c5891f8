package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gslb/gslb/geo/geotest"
)

// reloadState is what a reload leaves for operators to see: the failure
// counter, the success counter, and the status's last_reload_error.
func reloadState(t *testing.T, ta *testApp) (failures, successes float64, lastErr *string) {
	t.Helper()
	fams := scrapeFamilies(t, ta)
	failures = value(fams, "gslb_config_reloads_total", map[string]string{"result": "failure"})
	successes = value(fams, "gslb_config_reloads_total", map[string]string{"result": "success"})
	resp, err := http.Get(ta.api.URL + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Config struct {
			LastReloadError *string `json:"last_reload_error"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return failures, successes, st.Config.LastReloadError
}

// TestReloadRejections: every kind of rejected reload (a TOML syntax
// error, a validation error, a setting only a restart applies) counts one
// failure and sets last_reload_error; restoring the files in use clears the
// error although nothing is swapped.
func TestReloadRejections(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML})
	mainFile, zoneFile := filepath.Join(dir, "gslb.toml"), filepath.Join(dir, "zones", "example.test.toml")
	ta := startAppWatching(t, mainFile, "", false)
	inUse := ta.h.Snapshot()
	geoDB := mustAbs(t, "../../testdata/geoip/GeoIP2-City-Test.mmdb")
	cases := []struct {
		name       string
		file, text string
		wantErr    string // in last_reload_error and the log
	}{
		{"syntax", mainFile, mainTOML + "[limits\n", "gslb.toml:6:8: server: expected '.' or ']' to end table name"},
		{"validation", zoneFile, strings.Replace(zoneTOML, "192.0.2.1", "192.0.2.999", 1), "example.test.toml:8:15: services.www.backends[0].address"},
		{"restart only", mainFile, mainTOML + fmt.Sprintf("[geo]\ndatabase = %q\n", geoDB), "gslb.toml: [geo] database: the configuration needs a GeoIP database, which only a restart opens"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case starts from the files in use.
			os.WriteFile(mainFile, []byte(mainTOML), 0o644)
			os.WriteFile(zoneFile, []byte(zoneTOML), 0o644)
			if err := os.WriteFile(c.file, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			ta.reload("test")
			failures, _, lastErr := reloadState(t, ta)
			if failures != float64(i+1) {
				t.Errorf("gslb_config_reloads_total{result=\"failure\"} = %v, want %d", failures, i+1)
			}
			if lastErr == nil || !strings.Contains(*lastErr, c.wantErr) {
				t.Errorf("last_reload_error %v, want it to contain %q", strp(lastErr), c.wantErr)
			}
			if !strings.Contains(ta.logs.String(), "reload rejected: ") || !strings.Contains(ta.logs.String(), c.wantErr) {
				t.Errorf("the log does not show %q:\n%s", c.wantErr, ta.logs.String())
			}
			if ta.h.Snapshot() != inUse {
				t.Error("a rejected configuration was swapped in")
			}
		})
	}

	// The files in use again: the reload finds the same hash, swaps
	// nothing, counts a success and clears the error.
	os.WriteFile(mainFile, []byte(mainTOML), 0o644)
	os.WriteFile(zoneFile, []byte(zoneTOML), 0o644)
	_, before, _ := reloadState(t, ta)
	ta.reload("test")
	failures, successes, lastErr := reloadState(t, ta)
	if lastErr != nil || failures != float64(len(cases)) || successes != before+1 || ta.h.Snapshot() != inUse {
		t.Errorf("after restoring the files: last_reload_error %v, failures %v, successes %v (before %v), swapped %v",
			strp(lastErr), failures, successes, before, ta.h.Snapshot() != inUse)
	}
	if !strings.Contains(ta.logs.String(), "configuration unchanged; the last reload error no longer applies") {
		t.Errorf("the log does not say the error is cleared:\n%s", ta.logs.String())
	}
}

func strp(p *string) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *p)
}

// TestSIGHUP: the signal is logged and reloads; with the files unchanged,
// nothing is swapped.
func TestSIGHUP(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML})
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"), "-log-level", "debug")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the SIGHUP reload in the log", 5*time.Second, func() bool {
		log := s.logText()
		return strings.Contains(log, `msg="SIGHUP: reloading the configuration"`) && strings.Contains(log, `msg="configuration unchanged" trigger=SIGHUP`)
	})
}

// TestWatcherReloadsGeoIP: the one file watcher reloads the GeoIP database
// when geoipupdate-style renames replace it, and leaves the configuration
// alone.
func TestWatcherReloadsGeoIP(t *testing.T) {
	geoDir := t.TempDir()
	db := filepath.Join(geoDir, "City.mmdb")
	geotest.CopyFile(t, "../../testdata/geoip/GeoIP2-City-Test.mmdb", db)
	conf := healthConfig(t, "[services.www]\nbackends = [{ address = \"192.0.2.1\" }]\n", fmt.Sprintf("[geo]\ndatabase = %q\n", db))
	ta := startApp(t, conf, "")
	geotest.CopyFile(t, "../../testdata/geoip/GeoLite2-City-Test.mmdb", db+".tmp")
	if err := os.Rename(db+".tmp", db); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the GeoIP reload", 5*time.Second, func() bool { return ta.geo.Reloads() == 1 })
	if typ, _, _ := ta.geo.DB(); typ != "GeoLite2-City" {
		t.Errorf("database after the reload: %s", typ)
	}
	if !strings.Contains(ta.logs.String(), `msg="GeoIP database reloaded" type=GeoLite2-City`) {
		t.Errorf("no reload line in the log:\n%s", ta.logs.String())
	}
	if strings.Contains(ta.logs.String(), "configuration reloaded") || strings.Contains(ta.logs.String(), "reload rejected") {
		t.Errorf("the configuration was reloaded for a GeoIP file:\n%s", ta.logs.String())
	}
}
