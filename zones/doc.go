// Package zones loads gslb's configuration and zone files into a
// read-only snapshot and answers queries from it: static records, and
// services whose addresses a pool policy and a member selection choose
// from the backends that serve.
//
// # Files
//
// The main configuration (config.go) names the zone files; each zone file
// (zonefile.go) holds records and services (servicefile.go) with their
// health checks (probespec.go). Values decode through small typed values
// (values.go). Every problem is an Error with its file, line and column
// (errors.go); positions the TOML library does not give come from a
// linear scan of the source (positions.go). watch.go reloads when the
// files change; hash.go holds the package's hashes.
//
// # Snapshot
//
// Load (snapshot.go) reads every file, checks it and compiles a Snapshot,
// or returns an ErrorList of every problem found. A Snapshot is never
// changed after Load: the server publishes it with an atomic pointer and
// queries read it without locks. Bind and BindAnswers connect it to the
// live state before it serves: health states, admin overrides, adaptive
// weights (adapt.go) and answer counters (answers.go).
//
// # Lookup
//
// Snapshot.Zone finds the zone of a name; Zone.Lookup (lookup.go)
// answers a Query with an Answer: a Result (success, NODATA, NXDOMAIN,
// delegation), the sections, and for the answer cache its Scope and
// whether it Varies. Wildcards, CNAME chains within the zone and the
// additional section are handled there; names of services go to their
// Service.
//
// # Services, policies and selections
//
// A Service (service.go) has backends grouped in pools. Its decision has
// three steps:
//
//   - its pool policy puts the pools in order for the client (policy.go:
//     single, failover, geo, nearest);
//   - the first pool with min_healthy serving members of the queried
//     family is chosen, else the first with any, else when_all_down
//     decides;
//   - its member selection picks the members to answer within that pool
//     (selection.go holds the table and all, weighted, roundrobin, sticky
//     and adaptive; newer selections have a file each).
//
// Policies and selections are entries of one table each (policies,
// selections), by the name the service's policy or members key gives:
// a function that validates a service using it, and one that orders the
// pools or picks the members. Adding one is a function or two and an
// entry; the loader's checks and error messages take the names from the
// tables. Tests may add a selection with WithSelection.
//
// # The client and the scope
//
// A Query carries its Client, whose address policies and selections can
// reach only through a ClientRead (query.go). Each read counts every
// known bit of the address until it says, with DependsOn, how many the
// answer depends on; a GeoIP lookup is a read of the database network's
// length. An Answer's Scope is the longest read of its lookup: the ECS
// SCOPE PREFIX-LENGTH, and what the answer cache keys on, 0 meaning
// valid for every client. An answer therefore cannot depend on the client
// and claim Scope 0 without its policy saying so. Policies and selections
// get the query by value (a view) so that the Query stays on its
// caller's stack.
//
// # The decision trace
//
// When Query.Trace is set (gslb explain), every step adds a line in plain
// words to it (trace.go): the client's location, the order of the pools
// and why each was taken or skipped, each member's state, and the pick.
// Building the lines costs nothing when Trace is nil, and a traced query
// takes no round-robin turn and counts no answer.
package zones
