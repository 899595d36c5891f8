package web

import (
	"net/http"
	"strconv"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/audit"
)

// auditJSON is the answer of GET /api/v1/audit.
type auditJSON struct {
	// File is the audit file in the state directory ("" for none: the
	// records are in memory and the log only).
	File    string        `json:"file"`
	Records []audit.Entry `json:"records"`
}

// auditTrail serves GET /api/v1/audit: the latest records of the audit
// trail, oldest first; ?limit=N (default 100, at most the 1,000 kept in
// memory) and ?backend=SERVICE/BACKEND.
func (s *Server) auditTrail(w http.ResponseWriter, r *http.Request) {
	n := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, apiError{"limit " + strconv.Quote(v) + ": want a positive number"})
			return
		}
	}
	backend := r.URL.Query().Get("backend")
	if backend != "" {
		backend = health.NormalizeID(backend)
	}
	recs := s.deps.Audit.Recent(n, backend)
	if recs == nil {
		recs = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, auditJSON{File: s.deps.Audit.File(), Records: recs})
}
