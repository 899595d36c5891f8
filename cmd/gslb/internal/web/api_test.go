package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gslb/gslb/health"
)

func TestAdminAPI(t *testing.T) {
	f := newFixture(t, "", twoBackends, nil)
	const path = "/api/v1/backends/www.example.test/one/admin"
	for _, c := range []struct {
		name, method, path, token, body string
		code                            int
		want                            string // in the body
	}{
		{"no token", "PUT", path, "", `{"state":"drain"}`, http.StatusUnauthorized, "missing or wrong bearer token"},
		{"wrong token", "PUT", path, "wrong-token-wrong-token", `{"state":"drain"}`, http.StatusUnauthorized, "missing or wrong bearer token"},
		{"bad state", "PUT", path, testToken, `{"state":"sideways"}`, http.StatusBadRequest, `bad state \"sideways\": want up, down or drain`},
		{"unknown field", "PUT", path, testToken, `{"state":"drain","extra":1}`, http.StatusBadRequest, `unknown field \"extra\"`},
		{"past expiry", "PUT", path, testToken, `{"state":"drain","expires":"2001-01-01T00:00:00Z"}`, http.StatusBadRequest, "is in the past"},
		{"no such backend", "PUT", "/api/v1/backends/www.example.test/three/admin", testToken, `{"state":"drain"}`, http.StatusNotFound, "no such backend"},
	} {
		code, body := f.do(t, c.method, c.path, c.token, c.body)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.code, c.want)
		}
	}
	if f.admin.Get("www.example.test/one") != nil {
		t.Fatal("a refused request set an override")
	}

	// Drain: the backend stops serving at once; the API shows why.
	code, body := f.do(t, "PUT", path, testToken, `{"state":"drain","reason":"kernel upgrade","for":"30m"}`)
	if code != http.StatusOK {
		t.Fatalf("drain: %d %s", code, body)
	}
	var view backendJSON
	if err := json.Unmarshal([]byte(body), &view); err != nil {
		t.Fatal(err)
	}
	if view.Serving || !view.Healthy || view.Admin == nil || view.Admin.State != "drain" || view.Admin.Reason != "kernel upgrade" ||
		view.Admin.Expires == nil || !strings.HasPrefix(view.Admin.Source, "admin token from 127.0.0.1:") {
		t.Errorf("after drain: %+v %+v", view, view.Admin)
	}
	if b := f.snap.Services()[0].Backends[0]; b.Serving() {
		t.Error("the drained backend still serves")
	}
	code, body = f.do(t, "GET", "/api/v1/backends/WWW.Example.Test./one", "", "")
	if code != http.StatusOK || !strings.Contains(body, `"state": "drain"`) {
		t.Errorf("GET with the name in another case: %d %s", code, body)
	}

	// The list: both backends; two's check starts down.
	code, body = f.do(t, "GET", "/api/v1/backends", "", "")
	var list struct{ Backends []backendJSON }
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK {
		t.Fatalf("list: %d %v %s", code, err, body)
	}
	if len(list.Backends) != 2 || list.Backends[0].ID != "www.example.test/one" || list.Backends[1].Healthy || list.Backends[1].Check != "tcp://192.0.2.2:80" {
		t.Errorf("list: %+v", list.Backends)
	}

	// DELETE clears it.
	if code, body := f.do(t, "DELETE", path, testToken, ""); code != http.StatusOK || strings.Contains(body, "drain") {
		t.Errorf("delete: %d %s", code, body)
	}
	if f.admin.Get("www.example.test/one") != nil || !f.snap.Services()[0].Backends[0].Serving() {
		t.Error("the override survived DELETE")
	}
}

func TestAdminAPIOff(t *testing.T) {
	f := newFixture(t, "", twoBackends, func(d *Deps) { d.Token = "" })
	code, body := f.do(t, "PUT", "/api/v1/backends/www.example.test/one/admin", "anything-anything", `{"state":"down"}`)
	if code != http.StatusForbidden || !strings.Contains(body, "set [admin] token_file") {
		t.Errorf("%d %s, want 403 naming the key", code, body)
	}
}

// TestAdminStateFault: an override the state directory cannot keep (here
// the folder is missing) is a fault of the server, 500, not of the
// request, and is not in effect.
func TestAdminStateFault(t *testing.T) {
	var admin *health.Admin
	f := newFixture(t, "", twoBackends, func(d *Deps) {
		admin = health.NewAdmin(filepath.Join(t.TempDir(), "missing", "admin.toml"), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
		d.Admin = admin
	})
	for _, method := range []string{"PUT", "DELETE"} {
		code, body := f.do(t, method, "/api/v1/backends/www.example.test/one/admin", testToken, `{"state": "drain"}`)
		if code != http.StatusInternalServerError || !strings.Contains(body, "cannot write the state file") {
			t.Errorf("%s: %d %s, want 500 naming the state file", method, code, body)
		}
	}
	if all := admin.List(); len(all) != 0 {
		t.Errorf("override in effect although not saved: %v", all)
	}
}
