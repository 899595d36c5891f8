package zones

import (
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// DefaultMaxCNAMEChain bounds a chain of CNAMEs inside one zone ([limits]
// max_cname_chain): a resolver follows a longer one with a query per link.
const DefaultMaxCNAMEChain = 8

// cnameEdge is where a name's CNAME leads, and the key path it is
// written at.
type cnameEdge struct {
	target string
	path   []string
}

// checkCNAMEs rejects CNAME loops and chains longer than the limit
// inside the zone, at load: static CNAMEs, wildcard CNAMEs (a target that
// only a wildcard matches leads to the wildcard's node) and the fallback
// CNAMEs of services, which are answered when every backend is down. A
// loop is reported once, with its cycle; a chain too long once, at its
// first name.
func (l *zoneLoader) checkCNAMEs(limit int) {
	z := l.z
	edges := map[*node][]cnameEdge{}
	for lower, n := range z.nodes {
		if c := n.get(dns.TypeCNAME); c != nil {
			edges[n] = append(edges[n], cnameEdge{c[0].(*dns.CNAME).Target, append(l.owners[lower][:len(l.owners[lower]):len(l.owners[lower])], "CNAME")})
		}
		if s := n.service; s != nil && s.FallbackCNAME != "" {
			edges[n] = append(edges[n], cnameEdge{s.FallbackCNAME, append(l.owners[lower][:len(l.owners[lower]):len(l.owners[lower])], "fallback_cname")})
		}
	}
	// next is the node a target leads to inside the zone, nil when the
	// chain leaves it (another zone, a delegation, a name that does not
	// exist).
	next := func(target string) *node {
		tl := strings.ToLower(target)
		if !dns.IsSubDomain(z.origin, tl) {
			return nil
		}
		n, encloser, cut := z.find(tl)
		if cut != nil {
			return nil
		}
		if n == nil {
			n = z.nodes["*."+encloser]
		}
		return n
	}
	targeted := map[*node]bool{}
	for _, es := range edges {
		for _, e := range es {
			if n := next(e.target); n != nil {
				targeted[n] = true
			}
		}
	}
	reported := map[string]bool{}
	starts := make([]*node, 0, len(edges))
	for n := range edges {
		starts = append(starts, n)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].name < starts[j].name })
	for _, start := range starts {
		for _, e := range edges[start] {
			// Walk every path from this edge: depth first, bounded.
			var walk func(n *node, via []*node, depth int) bool
			walk = func(n *node, via []*node, depth int) bool {
				for i, v := range via {
					if v == n {
						cycle := append(via[i:len(via):len(via)], n)
						key := cycleKey(cycle[:len(cycle)-1])
						if !reported[key] {
							reported[key] = true
							l.e.key(e.path, "CNAME loop: %s", chainText(cycle))
						}
						return true
					}
				}
				via = append(via, n)
				if depth > limit {
					if !targeted[start] && !reported["long "+start.name] {
						reported["long "+start.name] = true
						l.e.key(e.path, "a chain of more than %d CNAMEs inside the zone (%s …): a resolver follows each with a query; shorten it or raise [limits] max_cname_chain", limit, chainText(via[:min(len(via), 4)]))
					}
					return true
				}
				for _, ne := range edges[n] {
					if m := next(ne.target); m != nil && walk(m, via, depth+1) {
						return true
					}
				}
				return false
			}
			if m := next(e.target); m != nil {
				walk(m, []*node{start}, 1)
			}
		}
	}
}

// cycleKey names a cycle whatever node it is entered at.
func cycleKey(nodes []*node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = strings.ToLower(n.name)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// chainText writes a chain of names: "a.example. → b.example.".
func chainText(nodes []*node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.name
	}
	return strings.Join(names, " → ")
}
