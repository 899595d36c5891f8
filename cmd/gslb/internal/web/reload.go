package web

import (
	"errors"
	"net/http"

	"github.com/gslb/gslb/zones"
)

// reloadJSON is the body of POST /api/v1/reload's answer.
type reloadJSON struct {
	// Status is "reloaded" (the configuration in use is the one on disk)
	// or "rejected" (the previous one keeps serving).
	Status     string   `json:"status"`
	ConfigHash string   `json:"config_hash"`
	Problems   []string `json:"problems,omitempty"`
}

// reload serves POST /api/v1/reload, with the admin bearer token: it
// reloads the configuration as SIGHUP does and says how that went: 200
// when the files on disk are in use, 422 with every problem when they
// were rejected.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.deps.Reload == nil {
		writeJSON(w, http.StatusNotImplemented, apiError{"this server cannot reload"})
		return
	}
	if !s.authorized(w, r) {
		return
	}
	err := s.deps.Reload("admin token from " + r.RemoteAddr)
	out := reloadJSON{Status: "reloaded", ConfigHash: s.deps.Handler.Snapshot().Hash}
	if err == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.Status = "rejected"
	var list zones.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			out.Problems = append(out.Problems, e.Error())
		}
	} else {
		out.Problems = []string{err.Error()}
	}
	writeJSON(w, http.StatusUnprocessableEntity, out)
}
