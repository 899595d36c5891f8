// Package cluster makes a fleet of gslb instances act as one, over
// hashicorp/memberlist (SWIM membership and failure detection, gossip,
// AES-GCM encryption with a keyring). It carries what the members must
// agree on:
//
//   - health votes: every member probes every backend and sends its
//     latest result per check in a vote frame once a heartbeat (only the
//     changes; a full table when a member joins or misses a frame). Each
//     member combines the fresh votes under the check's quorum rule
//     (health.Decide) and its rise and fall count the fleet's verdict.
//     With fewer than a majority of the voters fresh it decides alone,
//     and says so.
//   - admin overrides: drains and forced states set on any member reach
//     every member; the newest write wins by hybrid logical clock
//     (internal/hlc), and push/pull exchanges bring a member that was away
//     up to date.
//   - what divergence needs to be seen: each frame carries the sender's
//     wall clock and configuration hash.
//
// Everything a member receives is decoded with bounds and dropped when
// malformed; the query path reads none of it (a check's verdict lands in
// its health.State like a single instance's result).
package cluster
