// Package geo finds where a client is: country, continent, subdivision,
// coordinates and AS number, from MaxMind GeoIP2/GeoLite2 (or DB-IP)
// databases.
//
// A DB decodes every distinct record of the database once, when it is
// opened, so that a lookup on the query path is a walk of the search tree
// and a map read: no decoding and no allocation. A Locator holds the
// current DB, reloads it when its file changes, and closes an old DB only
// when no lookup uses it any more.
package geo
