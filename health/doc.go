// Package health probes backends and keeps their state.
//
// A Spec says how to probe one target (HTTP, HTTPS, TCP, DNS or none) and
// how often; identical specs are probed once however many services use
// them. A Checker runs one goroutine per spec, each with its own timer, and
// writes the outcome into a State with rise/fall hysteresis. The query
// path reads States through atomics only: no locks, no allocations.
//
// Admin overrides (force up, force down, drain; with expiry and reason)
// live in an Admin store, set from a watched state file or the HTTP API.
package health
