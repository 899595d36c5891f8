package health

import (
	"strings"
	"testing"
)

// FuzzParseStateFile: any bytes are an error or a list of valid overrides.
func FuzzParseStateFile(f *testing.F) {
	f.Add([]byte("[backends.\"www.example.com/eu-1\"]\nstate = \"drain\"\nreason = \"upgrade\"\nexpires = 2030-01-01T00:00:00Z\n"))
	f.Add([]byte("[backends]\n"))
	f.Add([]byte("[backends.\"WWW.Example.COM./x\"]\nstate = \"up\"\n"))
	f.Add([]byte("[backends.\"a/b\"]\nstate = \"sideways\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		list, err := ParseStateFile("admin.toml", src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "admin.toml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for id, o := range list {
			if !backendID.MatchString(id) || NormalizeID(id) != id {
				t.Fatalf("accepted id %q", id)
			}
			if o.check() != nil {
				t.Fatalf("accepted override %+v", o)
			}
		}
	})
}
