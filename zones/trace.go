package zones

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
)

// Trace is the decision path of one query in plain words, for gslb
// explain: the lookup, the policy's order of pools and why each was
// taken or skipped, the members and the selection's pick.
type Trace struct {
	Lines []string
}

// Add appends a line; callers check for nil first so that the query path
// builds no arguments.
func (t *Trace) Add(format string, args ...any) {
	t.Lines = append(t.Lines, fmt.Sprintf(format, args...))
}

func famName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

func poolNames(ps []*Pool) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// traceLocation tells what the database said of addr.
func traceLocation(tr *Trace, addr netip.Addr, l geo.Location) {
	if !l.Found {
		tr.Add("location of %s: not in the database (network %v)", addr, l.Network)
	} else {
		coords := "no coordinates"
		if l.HasCoords {
			coords = fmt.Sprintf("%.4f, %.4f", l.Lat, l.Lon)
		}
		tr.Add("location of %s: country %s, continent %s, subdivision %s, city %s, %s (network %v)",
			addr, orNone(l.Country), orNone(l.Continent), orNone(l.Subdivision), orNone(l.City), coords, l.Network)
	}
	if l.ASNetwork.IsValid() {
		tr.Add("AS of %s: %s (network %v)", addr, asText(l.ASN, l.ASOrg), l.ASNetwork)
	}
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func asText(asn uint32, org string) string {
	if asn == 0 {
		return "unknown"
	}
	if org != "" {
		return fmt.Sprintf("AS%d (%s)", asn, org)
	}
	return fmt.Sprintf("AS%d", asn)
}

func memberState(b *Backend) string {
	var parts []string
	if b.Source == SourceRegistered {
		parts = append(parts, "registered through the API")
		if b.held {
			parts = append(parts, "starting (its lease is its health: answered from its first renewal)")
		}
	}
	if st := b.State(); st != nil {
		if st.Pending() {
			parts = append(parts, "pending (no probe result yet)")
		} else if st.Up() {
			parts = append(parts, "healthy")
		} else {
			parts = append(parts, "unhealthy ("+st.LastError()+")")
		}
		if v, ok := st.Verdict(); ok {
			parts = append(parts, verdictText(v, st.Spec().Quorum))
		}
	}
	if o := b.Override(); o != nil {
		parts = append(parts, "admin "+o.State)
	}
	if b.Serving() {
		parts = append(parts, "serving")
	} else {
		parts = append(parts, "not serving")
	}
	return strings.Join(parts, ", ")
}

// verdictText explains a fleet's verdict on a check at its last probe.
func verdictText(v health.Verdict, quorum string) string {
	if quorum == "" {
		quorum = "the [cluster] default"
	}
	word := "failing"
	if v.OK {
		word = "passing"
	}
	if v.Fallback {
		return fmt.Sprintf("fleet: too few fresh votes (%d of %d members), this instance's own result: %s", v.Votes, v.Voters, word)
	}
	return fmt.Sprintf("fleet: %d of %d fresh votes pass, quorum %s: %s", v.Passing, v.Votes, quorum, word)
}

// factorsText explains a steered backend's effective weight for traces:
// the law's signals, share and target, and the slow-start ramp.
func factorsText(b *Backend) string {
	f, ok := b.Factors()
	if !ok {
		return ""
	}
	var parts []string
	if f.Law != "" {
		sig := func(name string, v string, has bool) {
			if has {
				parts = append(parts, name+" "+v)
			} else {
				parts = append(parts, name+" none (neutral)")
			}
		}
		sig("load", fmt.Sprintf("%.3g (smoothed %.3g)", f.Signals.Load, f.Smoothed.Load), f.Signals.HasLoad)
		sig("latency", fmt.Sprintf("%v (smoothed %.3gms)", f.Signals.Latency.Round(time.Microsecond), f.Smoothed.Latency*1000), f.Signals.HasLatency)
		parts = append(parts, fmt.Sprintf("errors %.0f%%", 100*f.Signals.ErrorRate))
		if f.Signals.HasRate {
			parts = append(parts, fmt.Sprintf("requests %.3g/s", f.Signals.Rate))
		}
		if f.Smoothed.Served > 0 {
			parts = append(parts, fmt.Sprintf("served share %.3f", f.Smoothed.Served))
		}
		parts = append(parts, fmt.Sprintf("share %.3f, target %.3f", f.Smoothed.Share, f.Smoothed.Target))
	}
	if f.Ramp < 1 {
		parts = append(parts, fmt.Sprintf("slow start %.0f%%, %v left", 100*f.Ramp, f.RampLeft.Round(time.Second)))
	}
	if f.Fleet != "" {
		parts = append(parts, fmt.Sprintf("multiplier %.3f of fleet coordinator %s (its tick %s)", f.Multiplier, f.Fleet, f.FleetAt.UTC().Format("15:04:05")))
	}
	if len(parts) == 0 {
		return ""
	}
	if f.Law == "" {
		return " [" + strings.Join(parts, "; ") + "]"
	}
	return " [" + f.Law + ": " + strings.Join(parts, "; ") + "]"
}
