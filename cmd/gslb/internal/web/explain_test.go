package web

import (
	"net/http"
	"strings"
	"testing"
)

func TestExplainEndpoint(t *testing.T) {
	f := newFixture(t, "", twoBackends, nil)
	code, body := f.do(t, "GET", "/api/v1/explain?name=www.example.test&client=192.0.2.7", "", "")
	var want strings.Builder
	q, err := ParseQuestion("www.example.test", "", "192.0.2.7", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := Explain(&want, f.h, q); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || body != want.String() {
		t.Errorf("%d:\n%s\nwant the text of Explain:\n%s", code, body, want.String())
	}
	// The live state shows: two's check starts down, so only one answers.
	for _, s := range []string{"query: www.example.test. A from 192.0.2.7\n", "answer: NOERROR (authoritative), TTL 30\n", "www.example.test. 30 IN A 192.0.2.1\n"} {
		if !strings.Contains(body, s) {
			t.Errorf("explain lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "IN A 192.0.2.2") {
		t.Errorf("explain answers with the backend that is down:\n%s", body)
	}

	// Without client, the request's own address is the client.
	if _, body := f.do(t, "GET", "/api/v1/explain?name=www.example.test&type=AAAA", "", ""); !strings.Contains(body, "AAAA from 127.0.0.1\n") {
		t.Errorf("explain without client:\n%s", body)
	}
	for _, c := range []struct{ query, want string }{
		{"client=192.0.2.7", "a name to explain is needed"},
		{"name=www.example.test&type=BOGUS", `"BOGUS" is not a record type`},
		{"name=www.example.test&ecs=nope", `-ecs "nope": want a subnet`},
	} {
		if code, body := f.do(t, "GET", "/api/v1/explain?"+c.query, "", ""); code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %q, want 400 with %q", c.query, code, body, c.want)
		}
	}
}
