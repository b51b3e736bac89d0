package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// levelsCatalog is the OSCAL catalog of hwattest's attestation levels, a
// copy of examples/oscal/hwattest-levels-catalog.json (a test keeps the two
// equal). Its controls name the policy that implements them in a
// policy-name property.
//
//go:embed levels-catalog.json
var levelsCatalog []byte

// CatalogNS is the namespace of hwattest's own OSCAL properties.
const CatalogNS = "https://github.com/hwattest/hwattest/ns/oscal"

// CatalogPath is where the catalog is in the repository, as the OSCAL and
// OCSF outputs cite it.
const CatalogPath = "examples/oscal/hwattest-levels-catalog.json"

// control is a catalog control a level maps to.
type control struct {
	ID, Title, Statement string
}

// catalogControls maps policy names to the catalog's controls.
var catalogControls = mustControls(levelsCatalog)

func mustControls(b []byte) map[string]control {
	var doc struct {
		Catalog struct {
			Groups []struct {
				Controls []struct {
					ID    string `json:"id"`
					Title string `json:"title"`
					Props []struct {
						Name, NS, Value string
					} `json:"props"`
					Parts []struct {
						ID, Name string
					} `json:"parts"`
				} `json:"controls"`
			} `json:"groups"`
		} `json:"catalog"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		panic(fmt.Sprintf("report: levels catalog: %v", err))
	}
	out := map[string]control{}
	for _, g := range doc.Catalog.Groups {
		for _, c := range g.Controls {
			ctl := control{ID: c.ID, Title: c.Title}
			for _, p := range c.Parts {
				if p.Name == "statement" {
					ctl.Statement = p.ID
				}
			}
			for _, p := range c.Props {
				if p.Name == "policy-name" && p.NS == CatalogNS {
					out[p.Value] = ctl
				}
			}
		}
	}
	return out
}

// controlFor is the catalog control a level (a policy name) implements;
// ok is false for a policy the catalog does not know.
func controlFor(level string) (control, bool) {
	c, ok := catalogControls[level]
	return c, ok
}

// idNamespace is the UUID namespace of the name-based (version 5) UUIDs of
// the OSCAL and OCSF outputs: the same inputs give the same UUID, so that an
// importer recognises a node or a node's level across reports.
var idNamespace = uuid.MustParse("8f0c6d3e-2b7a-5c1e-9a4f-6e2d1b0c7a35")

// nameUUID is the version 5 UUID of the parts, joined by NUL.
func nameUUID(parts ...string) string {
	return uuid.NewSHA1(idNamespace, []byte(strings.Join(parts, "\x00"))).String()
}

// nonToken matches what an OSCAL token may not hold; tokenStart what
// it may start with.
var (
	nonToken   = regexp.MustCompile(`[^\p{L}\p{N}._-]`)
	tokenStart = regexp.MustCompile(`^[\p{L}_]`)
)

// token turns s into an OSCAL token (a letter or _ first, then letters,
// digits, '.', '-', '_').
func token(s string) string {
	s = nonToken.ReplaceAllString(s, "_")
	if !tokenStart.MatchString(s) {
		s = "_" + s
	}
	return s
}
