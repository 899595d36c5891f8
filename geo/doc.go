// Package geo finds where a client is: country, continent, subdivision,
// coordinates and AS number, from MaxMind GeoIP2/GeoLite2 (or DB-IP)
// databases.
//
// A DB decodes every distinct record of the database once, when it is
// opened, so that a lookup on the query path is a walk of the search tree
// and a map read: no decoding and no allocation. A Locator holds the
// current DB, reloads it when asked (the server's one file watcher asks when
// a file of Files changes), and closes an old DB only when no lookup uses it
// any more. A Locator is a Prometheus collector of its lookups and of the
// database's build time.
package geo
