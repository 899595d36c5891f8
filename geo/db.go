package geo

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"time"

	"github.com/gslb/gslb/internal/safefile"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what the databases say about an address. The zero value
// means "not found": an address the databases do not know is a normal
// result.
type Location struct {
	// Found reports that the location database has a record.
	Found bool
	// Country is the ISO 3166-1 code ("US"), Continent the continent
	// code (AF, AN, AS, EU, NA, OC, SA), Subdivision the ISO 3166-2 code
	// of the first subdivision ("US-CA").
	Country, Continent, Subdivision string
	// City is the English city name, for explanations.
	City string
	// Lat and Lon are the coordinates, when HasCoords.
	Lat, Lon  float64
	HasCoords bool
	// Network is the database network the address matched (for a miss,
	// the empty block around it).
	Network netip.Prefix

	// ASN is the autonomous system number, 0 if unknown; ASOrg its name;
	// ASNetwork the network of the ASN database that matched.
	ASN       uint32
	ASOrg     string
	ASNetwork netip.Prefix
}

// record is a decoded database record, shared by every network with the
// same data.
type record struct {
	country, continent, subdivision, city string
	lat, lon                              float64
	hasCoords                             bool
}

type asnRecord struct {
	asn uint32
	org string
}

// DB is an opened location database and, optionally, an ASN database.
type DB struct {
	// Type is the location database's type ("GeoIP2-City"), BuildTime
	// when it was built.
	Type      string
	BuildTime time.Time
	// ASNType is the ASN database's type, "" without one.
	ASNType string

	loc     *maxminddb.Reader
	records map[uintptr]*record
	asn     *maxminddb.Reader
	asns    map[uintptr]*asnRecord
}

// Source is a database to open: a file, or bytes (the bundled example).
type Source struct {
	Path  string
	Bytes []byte
	// Max caps the file's size in bytes (0: no limit).
	Max int64
}

// read returns the database's bytes. The file is read into memory rather
// than mapped: a file overwritten in place under a mapping could crash the
// server (SIGBUS), while bytes read stay consistent whatever happens to it.
func (s Source) read() ([]byte, error) {
	if s.Bytes != nil {
		return s.Bytes, nil
	}
	b, err := safefile.Read(s.Path, s.Max)
	if pe := (*fs.PathError)(nil); err != nil && !errors.As(err, &pe) {
		err = fmt.Errorf("%s: %w", s.Path, err)
	}
	return b, err
}

// checkType opens the database with the geoip2 reader, which knows the
// MaxMind and DB-IP database types, and tells whether it can locate (City
// or Country data) or gives AS numbers.
func checkType(b []byte) (dbType string, isASN bool, err error) {
	g, err := geoip2.OpenBytes(b)
	if err != nil {
		var unknown geoip2.UnknownDatabaseTypeError
		if errors.As(err, &unknown) {
			return "", false, fmt.Errorf("unsupported database type %q (want a GeoIP2/GeoLite2/DB-IP City, Country or ASN database)", unknown.DatabaseType)
		}
		return "", false, err
	}
	defer g.Close()
	dbType = g.Metadata().DatabaseType
	if _, err := g.City(netip.IPv6Unspecified()); err != nil {
		var inv geoip2.InvalidMethodError
		if !errors.As(err, &inv) {
			return "", false, err
		}
		if _, err := g.ASN(netip.IPv6Unspecified()); err != nil {
			return "", false, fmt.Errorf("database type %q has neither location nor ASN data", dbType)
		}
		return dbType, true, nil
	}
	return dbType, false, nil
}

// Open opens a location database and, if asn names one, an ASN database.
// Every record is decoded here, once.
func Open(loc Source, asn Source) (*DB, error) {
	name := loc.Path
	if name == "" {
		name = "bundled database"
	}
	b, err := loc.read()
	if err != nil {
		return nil, fmt.Errorf("GeoIP database %s: %w", name, err)
	}
	dbType, isASN, err := checkType(b)
	if err != nil {
		return nil, fmt.Errorf("GeoIP database %s: %w", name, err)
	}
	if isASN {
		return nil, fmt.Errorf("GeoIP database %s is an ASN database (%s); give it as the ASN database and a City or Country database as the location database", name, dbType)
	}
	d := &DB{Type: dbType}
	if d.loc, err = maxminddb.OpenBytes(b); err != nil {
		return nil, fmt.Errorf("GeoIP database %s: %w", name, err)
	}
	d.BuildTime = d.loc.Metadata.BuildTime()
	if d.records, err = decodeLocations(d.loc); err != nil {
		d.Close()
		return nil, fmt.Errorf("GeoIP database %s: %w", name, err)
	}
	if asn.Path != "" || asn.Bytes != nil {
		aname := asn.Path
		ab, err := asn.read()
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("ASN database %s: %w", aname, err)
		}
		t, isASN, err := checkType(ab)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("ASN database %s: %w", aname, err)
		}
		if !isASN {
			d.Close()
			return nil, fmt.Errorf("ASN database %s is a %s database, not an ASN one", aname, t)
		}
		d.ASNType = t
		if d.asn, err = maxminddb.OpenBytes(ab); err != nil {
			d.Close()
			return nil, fmt.Errorf("ASN database %s: %w", aname, err)
		}
		if d.asns, err = decodeASNs(d.asn); err != nil {
			d.Close()
			return nil, fmt.Errorf("ASN database %s: %w", aname, err)
		}
	}
	return d, nil
}

// decodeAll decodes each distinct record of a database once, keyed by its
// offset in the data section, with decode.
func decodeAll[R any](r *maxminddb.Reader, decode func(maxminddb.Result) (R, error)) (map[uintptr]R, error) {
	out := map[uintptr]R{}
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return nil, err
		}
		off := res.Offset()
		if _, ok := out[off]; ok {
			continue
		}
		rec, err := decode(res)
		if err != nil {
			return nil, fmt.Errorf("decoding %v: %w", res.Prefix(), err)
		}
		out[off] = rec
	}
	return out, nil
}

func decodeLocations(r *maxminddb.Reader) (map[uintptr]*record, error) {
	intern := map[string]string{}
	in := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = s
		return s
	}
	return decodeAll(r, func(res maxminddb.Result) (*record, error) {
		var c geoip2.City
		if err := res.Decode(&c); err != nil {
			return nil, err
		}
		rec := &record{country: in(c.Country.ISOCode), continent: in(c.Continent.Code), city: in(c.City.Names.English)}
		if len(c.Subdivisions) > 0 && c.Subdivisions[0].ISOCode != "" && c.Country.ISOCode != "" {
			rec.subdivision = in(c.Country.ISOCode + "-" + c.Subdivisions[0].ISOCode)
		}
		if c.Location.Latitude != nil && c.Location.Longitude != nil {
			rec.lat, rec.lon, rec.hasCoords = *c.Location.Latitude, *c.Location.Longitude, true
		}
		return rec, nil
	})
}

func decodeASNs(r *maxminddb.Reader) (map[uintptr]*asnRecord, error) {
	return decodeAll(r, func(res maxminddb.Result) (*asnRecord, error) {
		var a geoip2.ASN
		if err := res.Decode(&a); err != nil {
			return nil, err
		}
		return &asnRecord{asn: uint32(a.AutonomousSystemNumber), org: a.AutonomousSystemOrganization}, nil
	})
}

// Lookup locates an address and finds its AS number. IPv4-mapped IPv6
// addresses are unmapped first. It does not allocate.
func (d *DB) Lookup(ip netip.Addr) Location { return d.lookup(ip, true) }

// LookupLocation is Lookup without the ASN database, for decisions that do
// not need the AS number.
func (d *DB) LookupLocation(ip netip.Addr) Location { return d.lookup(ip, false) }

func (d *DB) lookup(ip netip.Addr, withASN bool) Location {
	ip = ip.Unmap()
	var l Location
	res := d.loc.Lookup(ip)
	l.Network = res.Prefix()
	if res.Found() {
		if rec := d.records[res.Offset()]; rec != nil {
			l.Found = true
			l.Country, l.Continent, l.Subdivision, l.City = rec.country, rec.continent, rec.subdivision, rec.city
			l.Lat, l.Lon, l.HasCoords = rec.lat, rec.lon, rec.hasCoords
		}
	}
	if d.asn != nil && withASN {
		res := d.asn.Lookup(ip)
		l.ASNetwork = res.Prefix()
		if res.Found() {
			if rec := d.asns[res.Offset()]; rec != nil {
				l.ASN, l.ASOrg = rec.asn, rec.org
			}
		}
	}
	return l
}

// Close releases the databases.
func (d *DB) Close() error {
	var errs []error
	if d.loc != nil {
		errs = append(errs, d.loc.Close())
	}
	if d.asn != nil {
		errs = append(errs, d.asn.Close())
	}
	return errors.Join(errs...)
}
