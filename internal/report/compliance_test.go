package report_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/defenseunicorns/go-oscal/src/pkg/validation"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hwattest/hwattest/internal/report"
)

// golden compares got with testdata/name; HWATTEST_WRITE_GOLDEN=1 writes it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if os.Getenv("HWATTEST_WRITE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s output:\n%s\nwant (%s):\n%s", name, got, path, want)
	}
}

// The fixture's levels are those of the levels catalog (level1-genuine,
// level2-measured-boot), and one the catalog does not know (audit).
func complianceReport(t *testing.T, at time.Time) *report.Report {
	t.Helper()
	f := fixture()
	rename := map[string]string{"policy:level1": "policy:level1-genuine", "policy:level2": "policy:level2-measured-boot"}
	for _, a := range f.agents {
		for _, s := range a.Selectors {
			if v, ok := rename[s.Value]; ok {
				s.Value = v
			}
		}
	}
	r, err := report.Build(t.Context(), f, []string{"level1-genuine", "level2-measured-boot", "audit"}, at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOCSFGolden(t *testing.T) {
	golden(t, "report.ocsf.jsonl", render(t, complianceReport(t, now), report.FormatOCSF))
}

// TestOCSFRequired: every line is one Compliance Finding with the
// attributes OCSF 1.4.0 requires of the class (and of its base event and
// objects), a finding per node per level, status pass exactly where the
// node holds the level's selector.
func TestOCSFRequired(t *testing.T) {
	r := complianceReport(t, now)
	out := render(t, r, report.FormatOCSF)
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	type key struct{ node, level string }
	got := map[key]float64{}
	uids := map[string]bool{}
	for sc.Scan() {
		var f map[string]any
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for _, path := range []string{
			"activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time",
			"metadata.version", "metadata.product.vendor_name", "metadata.product.name",
			"finding_info.uid", "finding_info.title", "compliance.standards", "compliance.control",
			"compliance.status_id", "resources",
		} {
			if v := lookup(f, path); v == nil || v == "" {
				t.Errorf("finding lacks %s: %s", path, sc.Text())
			}
		}
		if f["class_uid"] != 2003.0 || f["category_uid"] != 2.0 || f["activity_id"] != 1.0 || f["type_uid"] != 200301.0 ||
			lookup(f, "metadata.version") != report.OCSFVersion || f["time"] != float64(now.UnixMilli()) {
			t.Errorf("class, category, activity, type, version or time: %s", sc.Text())
		}
		res := f["resources"].([]any)
		if len(res) != 1 {
			t.Fatalf("resources %v", res)
		}
		node := res[0].(map[string]any)["uid"].(string)
		level := strings.TrimPrefix(lookup(f, "compliance.requirements").([]any)[0].(string), "tpm:policy:")
		got[key{node, level}] = lookup(f, "compliance.status_id").(float64)
		uids[lookup(f, "finding_info.uid").(string)] = true
	}
	if len(got) != len(r.Nodes)*len(r.Levels) || len(uids) != len(got) {
		t.Fatalf("%d findings, %d uids, want %d:\n%s", len(got), len(uids), len(r.Nodes)*len(r.Levels), out)
	}
	td := "spiffe://example.org/spire/agent/"
	for k, want := range map[key]float64{
		{td + "tpm/" + hashA, "level2-measured-boot"}: 1, // pass
		{td + "tpm/" + hashA, "audit"}:                1,
		{td + "tpm/" + hashB, "level1-genuine"}:       1,
		{td + "tpm/" + hashB, "level2-measured-boot"}: 3, // fail
		{td + "tpm/" + hashC, "level1-genuine"}:       2, // warning: SVID expired
		{td + "join_token/abc", "level1-genuine"}:     3, // banned
	} {
		if got[k] != want {
			t.Errorf("%v: status_id %v, want %v", k, got[k], want)
		}
	}

	// The finding uid is the same for the same node and level in a later
	// report: a CSPM tool updates the finding.
	later := complianceReport(t, now.Add(time.Hour)).OCSF()
	for _, f := range later {
		if !uids[f.FindingInfo.UID] {
			t.Errorf("finding %s of a later report has a new uid", f.Message)
		}
	}
}

func lookup(m map[string]any, path string) any {
	var v any = m
	for p := range strings.SplitSeq(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func TestOSCALGolden(t *testing.T) {
	golden(t, "report.oscal.json", render(t, complianceReport(t, now), report.FormatOSCAL))
}

// nistSchema compiles NIST's OSCAL 1.1.2 schema (testdata/oscal) and
// returns the schema of one of its models.
func nistSchema(t *testing.T, model string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/oscal/oscal_complete_schema-1-1-2.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const url = "http://csrc.nist.gov/ns/oscal/1.0/1.1.2/oscal-complete-schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url + "#" + model)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validateOSCAL validates an OSCAL document with go-oscal's validator (its
// embedded complete schema) and, on its own, against the model's definition
// in NIST's schema.
func validateOSCAL(t *testing.T, b []byte, top, model string) error {
	t.Helper()
	v, err := validation.NewValidator(b)
	if err != nil {
		return err
	}
	if err := v.Validate(); err != nil {
		res, _ := v.GetValidationResult()
		return &oscalError{err, res}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return nistSchema(t, model).Validate(inst.(map[string]any)[top])
}

type oscalError struct {
	err error
	res validation.ValidationResult
}

func (e *oscalError) Error() string {
	b, _ := json.MarshalIndent(e.res.Errors, "", "  ")
	return e.err.Error() + "\n" + string(b)
}

// TestOSCALValid: the assessment results validate with go-oscal's validator
// and against NIST's assessment-results model, with nodes, with none, and
// with an import-ap given; a document go-oscal's types build but the schema
// refuses (components in the document's local-definitions) is refused.
func TestOSCALValid(t *testing.T) {
	full := complianceReport(t, now)
	empty, err := report.Build(t.Context(), &fakeServer{}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		r    *report.Report
		opts report.OSCALOptions
	}{
		"nodes":     {full, report.OSCALOptions{}},
		"import-ap": {full, report.OSCALOptions{ImportAP: "https://grc.example.org/oscal/ap/hwattest.json"}},
		"empty":     {empty, report.OSCALOptions{}},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.r.WriteOSCAL(&b, tc.opts); err != nil {
				t.Fatal(err)
			}
			if err := validateOSCAL(t, b.Bytes(), "assessment-results", "assembly_oscal-ar_assessment-results"); err != nil {
				t.Errorf("invalid OSCAL: %v\n%s", err, b.String())
			}
		})
	}

	doc := full.OSCAL(report.OSCALOptions{})
	ar := doc.AssessmentResults
	ar.LocalDefinitions = ar.Results[0].LocalDefinitions // the wrong level
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateOSCAL(t, b, "assessment-results", "assembly_oscal-ar_assessment-results"); err == nil {
		t.Error("components in the document's local-definitions validated")
	}
}

// TestOSCALFindings: each node x level finding targets the level's control
// statement in the catalog (or, for a level the catalog lacks, an objective
// named after the policy), with the node's status.
func TestOSCALFindings(t *testing.T) {
	r := complianceReport(t, now)
	ar := r.OSCAL(report.OSCALOptions{}).AssessmentResults
	res := ar.Results[0]
	if ar.ImportAp.Href != "#"+(*ar.BackMatter.Resources)[0].UUID {
		t.Errorf("import-ap %q does not point at the back-matter plan", ar.ImportAp.Href)
	}
	if n := len(*res.LocalDefinitions.Components); n != len(r.Nodes) {
		t.Errorf("%d components, want %d", n, len(r.Nodes))
	}
	if n := len(*res.Observations); n != len(r.Nodes) {
		t.Errorf("%d observations, want %d", n, len(r.Nodes))
	}
	got := map[string]string{}
	for _, f := range *res.Findings {
		got[f.Title] = f.Target.Type + " " + f.Target.TargetId + " " + f.Target.Status.State + " " + f.Target.Status.Reason
	}
	a := "spiffe://example.org/spire/agent/tpm/" + hashA
	b := "spiffe://example.org/spire/agent/tpm/" + hashB
	c := "spiffe://example.org/spire/agent/tpm/" + hashC
	for title, want := range map[string]string{
		a + ": level2-measured-boot": "statement-id al-2_smt satisfied pass",
		a + ": audit":                "objective-id hwattest-policy-audit satisfied pass",
		b + ": level1-genuine":       "statement-id al-1_smt satisfied pass",
		b + ": level2-measured-boot": "statement-id al-2_smt not-satisfied fail",
		c + ": level2-measured-boot": "statement-id al-2_smt not-satisfied other",
		"spiffe://example.org/spire/agent/join_token/abc: level1-genuine": "statement-id al-1_smt not-satisfied fail",
	} {
		if got[title] != want {
			t.Errorf("finding %q: %q, want %q", title, got[title], want)
		}
	}
	if len(got) != len(r.Nodes)*len(r.Levels) {
		t.Errorf("%d findings, want %d", len(got), len(r.Nodes)*len(r.Levels))
	}
}

// TestCatalog: the catalog in examples/oscal is valid OSCAL (go-oscal and
// NIST's catalog model), the embedded copy equals it, and every control's
// policy template exists.
func TestCatalog(t *testing.T) {
	b, err := os.ReadFile("../../" + report.CatalogPath)
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := os.ReadFile("levels-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, embedded) {
		t.Errorf("internal/report/levels-catalog.json differs from %s: copy it", report.CatalogPath)
	}
	if err := validateOSCAL(t, b, "catalog", "assembly_oscal-catalog_catalog"); err != nil {
		t.Errorf("catalog: %v", err)
	}
	var cat struct {
		Catalog struct {
			Groups []struct {
				Controls []struct {
					ID    string
					Links []struct{ Href, Rel string }
				}
			}
		}
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cat.Catalog.Groups[0].Controls {
		n++
		for _, l := range c.Links {
			if strings.HasPrefix(l.Href, "../") {
				if _, err := os.Stat("../../examples/oscal/" + l.Href); err != nil {
					t.Errorf("control %s: %v", c.ID, err)
				}
			}
		}
	}
	if n != 4 {
		t.Errorf("%d controls, want 4", n)
	}
}
