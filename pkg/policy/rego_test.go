//go:build !hwattest_norego

package policy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// level3Evidence is a result that the level 3 templates' placeholder
// values accept: PCRs 0-7 all zeros, secure boot on, the one boot
// component of PCR 4 the all-zero digest; change modifies a copy.
func level3Evidence(change func(*tpmquote.Result)) *tpmquote.Result {
	zero := make([]byte, 32)
	res := &tpmquote.Result{EKCertVerified: true, PCRs: tpmquote.PCRValues{tpmquote.SHA256: {}}}
	for i := range 8 {
		res.PCRs[tpmquote.SHA256][i] = zero
	}
	res.Boot = &tpmquote.Boot{
		SecureBoot:    tpmquote.SecureBoot{Known: true, Enabled: true},
		ComponentPCRs: []int{2, 4},
		Components: []tpmquote.BootComponent{
			{PCR: 4, Type: "EV_EFI_BOOT_SERVICES_APPLICATION", Bank: tpmquote.SHA256, Digest: zero},
			// Not in PCR 2 or 4: neither form judges it.
			{PCR: 5, Type: "EV_EFI_GPT_EVENT", Bank: tpmquote.SHA256, Digest: bytes.Repeat([]byte{7}, 32)},
		},
	}
	if change != nil {
		change(res)
	}
	return res
}

func loadPolicy(t testing.TB, path, name string) *policy.Policy {
	t.Helper()
	srcs, err := policy.LoadFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	src, ok := srcs[name]
	if !ok {
		t.Fatalf("%s: no policy %q", path, name)
	}
	p, err := src.Config.Compile(name, nil, filepath.Dir(src.Path))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRegoLevel3SameDecision: examples/policies/level3-reference.hcl and
// its Rego form (examples/policies/rego) decide the same on the same
// evidence, passing and failing.
func TestRegoLevel3SameDecision(t *testing.T) {
	hclForm := loadPolicy(t, "../../examples/policies/level3-reference.hcl", "level3-reference")
	regoForm := loadPolicy(t, "../../examples/policies/rego/level3-reference.hcl", "level3-reference")
	ff := bytes.Repeat([]byte{0xff}, 32)
	for _, tc := range []struct {
		name   string
		change func(*tpmquote.Result)
		pass   bool
	}{
		{"reference machine", nil, true},
		{"no EK certificate (level 3 does not require one)", func(r *tpmquote.Result) { r.EKCertVerified = false }, true},
		{"secure boot off", func(r *tpmquote.Result) { r.Boot.SecureBoot.Enabled = false }, false},
		{"secure boot unknown", func(r *tpmquote.Result) { r.Boot.SecureBoot = tpmquote.SecureBoot{Detail: "no PCR 7 events"} }, false},
		{"no boot log", func(r *tpmquote.Result) { r.Boot = nil }, false},
		{"PCR 3 differs", func(r *tpmquote.Result) { r.PCRs[tpmquote.SHA256][3] = ff }, false},
		{"PCR 5 not quoted", func(r *tpmquote.Result) { delete(r.PCRs[tpmquote.SHA256], 5) }, false},
		{"extra PCR quoted", func(r *tpmquote.Result) { r.PCRs[tpmquote.SHA256][10] = ff }, true},
		{"unknown boot component", func(r *tpmquote.Result) {
			r.Boot.Components = append(r.Boot.Components, tpmquote.BootComponent{PCR: 2, Type: "EV_EFI_ACTION", Digest: ff})
		}, false},
		{"PCR 2 components not established", func(r *tpmquote.Result) { r.Boot.ComponentPCRs = []int{4} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := level3Evidence(tc.change)
			h, r := hclForm.Evaluate(res), regoForm.Evaluate(res)
			if (len(h) == 0) != tc.pass || (len(r) == 0) != tc.pass {
				t.Errorf("HCL %q, Rego %q; want pass %v", h, r, tc.pass)
			}
		})
	}
}

func writeRego(t *testing.T, module string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.rego")
	if err := os.WriteFile(path, []byte(module), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func compileRego(t *testing.T, module, query string) (*policy.Policy, error) {
	t.Helper()
	return policy.Config{Required: true, RegoPath: writeRego(t, module), Query: query}.Compile("r", nil, "")
}

// TestRegoDecisions: only an allow that is exactly true with an empty deny
// set passes; deny reasons, an undefined or non-boolean allow and an
// evaluation error are failures with their reason, and reach the refusal of
// a required policy.
func TestRegoDecisions(t *testing.T) {
	res := level3Evidence(nil)
	for _, tc := range []struct {
		name, module string
		want         []string
	}{
		{"allow", "package hwattest\nallow if input.boot.secure_boot.enabled\n", nil},
		{"allow false", "package hwattest\ndefault allow := false\nallow if input.ek.manufacturer == \"id:00000000\"\n",
			[]string{"data.hwattest.allow is false, not true"}},
		{"allow undefined", "package hwattest\nx := 1\n", []string{"data.hwattest.allow is undefined"}},
		{"allow not a boolean", "package hwattest\nallow := \"yes\"\n", []string{"data.hwattest.allow is yes, not true"}},
		{"deny wins over allow", "package hwattest\nallow := true\ndeny contains \"b: no\" if true\ndeny contains sprintf(\"a: PCR 0 is %s\", [input.pcrs.sha256[\"0\"]]) if true\n",
			[]string{"deny: a: PCR 0 is " + strings.Repeat("0", 64), "deny: b: no"}},
		{"deny not a set", "package hwattest\nallow := true\ndeny := true\n", []string{"rego: data.hwattest.deny is true, not a set of reasons"}},
		{"deny an empty set", "package hwattest\nallow := true\ndeny contains \"x\" if false\n", nil},
		{"deny reasons not strings", "package hwattest\nallow := true\ndeny contains 7 if true\n", []string{"deny: 7"}},
		{"a long reason, cut inside a rune", "package hwattest\nallow := true\ndeny contains \"x" + strings.Repeat("é", 200) + "\" if true\n",
			[]string{"deny: x" + strings.Repeat("é", 127) + "..."}},
		{"control characters in a reason", "package hwattest\nallow := true\ndeny contains \"line\\nbreak\" if true\n", []string{"deny: line?break"}},
		{"evaluation error", "package hwattest\nallow if to_number(\"not a number\") > 0\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := compileRego(t, tc.module, "data.hwattest.allow")
			if err != nil {
				t.Fatal(err)
			}
			got := p.Evaluate(res)
			if tc.name == "evaluation error" {
				if len(got) != 1 || !strings.HasPrefix(got[0], "rego: evaluation failed: ") {
					t.Errorf("got %q", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			sat, refused := policy.Evaluate([]*policy.Policy{p}, res)
			if (len(sat) == 1) != (tc.want == nil) || (len(refused) == 1) == (tc.want == nil) {
				t.Errorf("satisfied %q, refused %q", sat, refused)
			}
			if tc.want != nil && !strings.Contains(refused[0], tc.want[0]) {
				t.Errorf("refusal %q lacks %q", refused[0], tc.want[0])
			}
		})
	}
}

// TestRegoConfigErrors: what Compile refuses, each with its reason.
func TestRegoConfigErrors(t *testing.T) {
	good := writeRego(t, "package hwattest\nallow := true\n")
	for _, tc := range []struct {
		name string
		c    policy.Config
		want string
	}{
		{"query without rego_path", policy.Config{Query: "data.x.allow"}, `policy "r": query needs rego_path`},
		{"mixed with HCL rules", policy.Config{RegoPath: good, SecureBoot: true}, `policy "r": rego_path cannot be combined with`},
		{"query not a data reference", policy.Config{RegoPath: good, Query: "input.allow"}, `policy "r": rego_path: query "input.allow": want a reference data.<package>.<rule>`},
		{"missing file", policy.Config{RegoPath: good + ".missing"}, `policy "r": rego_path: `},
		{"syntax error", policy.Config{RegoPath: writeRego(t, "package hwattest\nallow if {\n")}, `policy "r": rego_path: `},
		{"Rego v0 syntax", policy.Config{RegoPath: writeRego(t, "package hwattest\nallow { true }\n")}, `policy "r": rego_path: `},
		{"network builtin", policy.Config{RegoPath: writeRego(t, "package hwattest\nallow if http.send({\"method\": \"get\", \"url\": \"http://x\"}).status_code == 200\n")},
			`policy "r": rego_path: `},
		{"runtime builtin", policy.Config{RegoPath: writeRego(t, "package hwattest\nallow if opa.runtime().env.HOME\n")}, `policy "r": rego_path: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Compile("r", nil, "")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want %q...", err, tc.want)
			}
		})
	}
	// The default query is data.hwattest.allow.
	p, err := policy.Config{RegoPath: good}.Compile("r", nil, "")
	if err != nil || len(p.Evaluate(level3Evidence(nil))) != 0 {
		t.Errorf("default query: %v", err)
	}
}

// BenchmarkLevel3: one evaluation of the level 3 template per attestation,
// HCL form vs Rego form, on the same evidence (a passing node: every rule
// runs). Run both in one run and compare them as a ratio:
//
//	go test -run '^$' -bench Level3 ./pkg/policy/
func BenchmarkLevel3(b *testing.B) {
	forms := map[string]*policy.Policy{
		"hcl":  loadPolicy(b, "../../examples/policies/level3-reference.hcl", "level3-reference"),
		"rego": loadPolicy(b, "../../examples/policies/rego/level3-reference.hcl", "level3-reference"),
	}
	res := level3Evidence(nil)
	for _, name := range []string{"hcl", "rego"} {
		p := forms[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if fails := p.Evaluate(res); len(fails) != 0 {
					b.Fatal(fails)
				}
			}
		})
	}
}

// TestRegoConcurrent: one prepared policy serves concurrent attestations
// (the plugin attests nodes in parallel); run with -race.
func TestRegoConcurrent(t *testing.T) {
	p := loadPolicy(t, "../../examples/policies/rego/level3-reference.hcl", "level3-reference")
	good, bad := level3Evidence(nil), level3Evidence(func(r *tpmquote.Result) { r.Boot = nil })
	errs := make(chan string, 64)
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 20 {
				if got := p.Evaluate(good); len(got) != 0 {
					errs <- fmt.Sprintf("worker %d: good evidence fails: %q", i, got)
				}
				if got := p.Evaluate(bad); len(got) == 0 {
					errs <- fmt.Sprintf("worker %d: evidence without a boot log passes", i)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
