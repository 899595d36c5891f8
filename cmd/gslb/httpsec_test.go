package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, PEM.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gslb test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	writeFile(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})), 0o600)
	return cert, key
}

// TestStatusAuthTLS: with [http] status_auth and TLS, the status page and
// read API want a token (bearer or basic password; the status token or
// the admin one) over HTTPS, health and metrics stay open, and gslb ctl
// finds the address, scheme, certificate and token in the configuration.
func TestStatusAuthTLS(t *testing.T) {
	dir := t.TempDir()
	cert, _ := selfSigned(t, dir)
	const statusTok, adminTok = "status-token-status-token-0001", "admin-token-admin-token-00001"
	writeFile(t, filepath.Join(dir, "status.token"), statusTok, 0o600)
	writeFile(t, filepath.Join(dir, "admin.token"), adminTok, 0o600)
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), ctlZone, 0o644)
	conf := filepath.Join(dir, "gslb.toml")
	writeFile(t, conf, `zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
http = "127.0.0.1:0"
[admin]
token_file = "admin.token"
[http]
status_auth = true
status_token_file = "status.token"
tls_cert = "cert.pem"
tls_key = "key.pem"
`, 0o644)
	s := startGSLB(t, "-config", conf)
	if !strings.HasPrefix(s.http, "https://127.0.0.1:") {
		t.Fatalf("HTTP side at %q, want https", s.http)
	}
	pool := x509.NewCertPool()
	b, _ := readFileT(t, cert)
	pool.AppendCertsFromPEM(b)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	get := func(path string, auth func(*http.Request)) (int, string) {
		req, _ := http.NewRequest("GET", s.http+path, nil)
		if auth != nil {
			auth(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(tok string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth("me", tok) } }
	for _, c := range []struct {
		path string
		auth func(*http.Request)
		code int
	}{
		{"/", nil, 401},
		{"/api/v1/status", nil, 401},
		{"/api/v1/backends", bearer("wrong-wrong-wrong-wrong-wrong"), 401},
		{"/api/v1/explain?name=www.ex.test", basic("nope"), 401},
		{"/", basic(statusTok), 200},
		{"/api/v1/status", bearer(statusTok), 200},
		{"/api/v1/backends/www.ex.test/eu-1", bearer(adminTok), 200},
		{"/healthz", nil, 200},
		{"/readyz", nil, 200},
		{"/metrics", nil, 200},
	} {
		code, challenge := get(c.path, c.auth)
		if code != c.code {
			t.Errorf("GET %s: %d, want %d", c.path, code, c.code)
		}
		if code == 401 && !strings.HasPrefix(challenge, "Basic ") {
			t.Errorf("GET %s: 401 without a basic challenge (%q): a browser would not ask", c.path, challenge)
		}
	}
	// A status token reads but cannot write.
	req, _ := http.NewRequest("PUT", s.http+"/api/v1/backends/www.ex.test/eu-1/admin", strings.NewReader(`{"state":"drain"}`))
	req.Header.Set("Authorization", "Bearer "+statusTok)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("PUT with the status token: %v, want 401", err)
	} else {
		resp.Body.Close()
	}
	// ctl takes the certificate to trust and the admin token from the
	// configuration (the listening port is random here, hence -server).
	cmd := exec.Command(binary, "ctl", "-config", conf, "-server", strings.TrimPrefix(s.http, "https://"), "status")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// -server without a scheme is http://: refused by a TLS listener.
	if err := cmd.Run(); err == nil {
		t.Errorf("ctl over plain HTTP to a TLS listener succeeded:\n%s", out.String())
	}
	out.Reset()
	cmd = exec.Command(binary, "ctl", "-config", conf, "-server", s.http, "status")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "www.ex.test") {
		t.Errorf("ctl status over HTTPS: %v\n%s", err, out.String())
	}
}

// TestHTTPConfigErrors: what check says of a half TLS setting, a status
// auth without a token, and a certificate that does not load.
func TestHTTPConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), ctlZone, 0o644)
	for _, c := range []struct{ http, want string }{
		{"tls_cert = \"c.pem\"\n", `gslb.toml:3:1: http.tls_cert: HTTPS needs both tls_cert and tls_key: add http.tls_key`},
		{"status_auth = true\n", `gslb.toml:3:1: http.status_auth: needs a token: set http.status_token_file (a read token) or admin.token_file`},
		{"tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n", `[http] tls_cert ` + filepath.Join(dir, "c.pem")},
	} {
		conf := filepath.Join(dir, "gslb.toml")
		writeFile(t, conf, "zones = [\"zones\"]\n[http]\n"+c.http, 0o644)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"check", "-config", conf}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q, want 1 and %q", c.http, code, stderr.String(), c.want)
		}
	}
}

func readFileT(t *testing.T, path string) ([]byte, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, nil
}
