package integration_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/defenseunicorns/go-oscal/src/pkg/validation"
	oscal "github.com/defenseunicorns/go-oscal/src/types/oscal-1-1-2"

	"github.com/hwattest/hwattest/internal/report"
)

// complianceFormats runs hwattest report --format ocsf and --format oscal
// against the server of TestReport, whose node a meets level1-genuine and
// level2-measured-boot and node b only level1-genuine: one OCSF finding
// per node and level with that status, and OSCAL assessment results that
// go-oscal's validator accepts, with the same findings.
func complianceFormats(t *testing.T, bin, socket, a, b string) {
	t.Helper()
	levels := "level1-genuine,level2-measured-boot"
	want := map[string]string{
		a + " level1-genuine": "Pass", a + " level2-measured-boot": "Pass",
		b + " level1-genuine": "Pass", b + " level2-measured-boot": "Fail",
	}

	out, err := exec.Command(bin, "report", "--socket", socket, "--levels", levels, "--format", "ocsf").Output()
	if err != nil {
		t.Fatalf("hwattest report --format ocsf: %v", err)
	}
	t.Logf("hwattest report --format ocsf:\n%s", out)
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var f report.OCSFFinding
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("OCSF line %s: %v", sc.Text(), err)
		}
		if f.ClassUID != 2003 || f.TypeUID != 200301 || f.Metadata.Version != report.OCSFVersion || f.FindingInfo.UID == "" || len(f.Resources) != 1 {
			t.Errorf("OCSF finding: %s", sc.Text())
			continue
		}
		got[f.Resources[0].UID+" "+strings.TrimPrefix(f.Compliance.Requirements[0], "tpm:policy:")] = f.Compliance.Status
		// The Rego policy of TestReport (secure boot on, in Rego) labels
		// node a, not node b, through the real server plugin.
		rego := slices.Contains(f.Resources[0].Data.Policies, "secureboot-rego")
		if rego != (f.Resources[0].UID == a) {
			t.Errorf("node %s: policies %v (secureboot-rego wanted on node a only)", f.Resources[0].UID, f.Resources[0].Data.Policies)
		}
	}
	if len(got) != len(want) {
		t.Errorf("OCSF findings %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("OCSF %s: %q, want %q", k, got[k], v)
		}
	}

	out, err = exec.Command(bin, "report", "--socket", socket, "--levels", levels, "--format", "oscal").Output()
	if err != nil {
		t.Fatalf("hwattest report --format oscal: %v", err)
	}
	t.Logf("hwattest report --format oscal:\n%s", out)
	v, err := validation.NewValidator(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(); err != nil {
		res, _ := v.GetValidationResult()
		t.Fatalf("go-oscal refuses the assessment results: %v %+v", err, res.Errors)
	}
	var doc oscal.OscalModels
	if err := json.Unmarshal(out, &doc); err != nil || doc.AssessmentResults == nil {
		t.Fatalf("assessment results: %v", err)
	}
	res := doc.AssessmentResults.Results[0]
	if res.LocalDefinitions == nil || res.LocalDefinitions.Components == nil || len(*res.LocalDefinitions.Components) != 2 ||
		res.Observations == nil || len(*res.Observations) != 2 || res.Findings == nil {
		t.Fatalf("result: %+v", res)
	}
	states := map[string]string{"Pass": "satisfied", "Fail": "not-satisfied"}
	controls := map[string]string{"level1-genuine": "al-1_smt", "level2-measured-boot": "al-2_smt"}
	n := 0
	for _, f := range *res.Findings {
		node, level, _ := strings.Cut(f.Title, ": ")
		w, ok := want[node+" "+level]
		if !ok || f.Target.Status.State != states[w] || f.Target.TargetId != controls[level] {
			t.Errorf("OSCAL finding %q: target %s %s", f.Title, f.Target.TargetId, f.Target.Status.State)
		}
		n++
	}
	if n != len(want) {
		t.Errorf("%d OSCAL findings, want %d", n, len(want))
	}
}

// writeRegoPolicy writes a Rego policy that allows a node whose verified
// boot log shows secure boot on, and denies with a reason otherwise.
func writeRegoPolicy(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secureboot.rego")
	module := `package hwattest
allow if input.boot.secure_boot.enabled
deny contains "secure boot is not shown on" if not input.boot.secure_boot.enabled
`
	if err := os.WriteFile(path, []byte(module), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
