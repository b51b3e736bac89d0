package server_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func configure(hcl string) error {
	_, err := server.New().Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td},
		HclConfiguration:  hcl,
	})
	return err
}

// TestPolicyPaths: policies from a directory of *.hcl files and from a file
// named explicitly are evaluated with the inline ones and give selectors.
func TestPolicyPaths(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	dir := t.TempDir()
	zero := strings.Repeat("0", 64)
	writeFile(t, filepath.Join(dir, "policies", "levels.hcl"), fmt.Sprintf(`
# reference values captured with hwattest reference
policy "pcr7-reset" {
  pcrs = ["sha256:7:%s"]
}
policy "pcr7-other" {
  pcrs = ["sha256:7:%s"]
}
`, zero, strings.Repeat("1", 64)))
	writeFile(t, filepath.Join(dir, "policies", "README.md"), "not a policy file: skipped in a directory")
	single := writeFile(t, filepath.Join(dir, "extra.policy"), "policy \"genuine\" {\n  ek_certificate = true\n}\n")
	serverHCL := fmt.Sprintf(`ek_ca_paths = [%q, %q]
policy_paths = [%q, %q]
policy "inline" {}`, sw.RootCAPath, sw.IssuerCAPath, filepath.Join(dir, "policies"), single)
	sc, ac := servePlugins(t, serverHCL, fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr))
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	got := " " + strings.Join(attrs.SelectorValues, " ") + " "
	for _, want := range []string{"policy:pcr7-reset", "policy:genuine", "policy:inline"} {
		if !strings.Contains(got, " "+want+" ") {
			t.Errorf("selectors %q lack %s", got, want)
		}
	}
	if strings.Contains(got, "policy:pcr7-other") {
		t.Errorf("selectors %q hold a failed policy", got)
	}
}

func TestPolicyPathsErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "a.hcl"), "policy \"dup\" {}\npolicy \"a\" {\n  colour = \"blue\"\n}\n")
	b := writeFile(t, filepath.Join(dir, "b.hcl"), "policy \"dup\" {\n  secure_boot = true\n}\npolicy \"inline\" {}\n")
	b2 := writeFile(t, filepath.Join(t.TempDir(), "b.hcl"), "policy \"dup\" {}\n")
	twice := writeFile(t, filepath.Join(t.TempDir(), "twice.hcl"), "policy \"t\" {}\npolicy \"t\" {\n  required = true\n}\n")
	notPolicy := writeFile(t, filepath.Join(t.TempDir(), "server.hcl"), "bundled_ek_cas = true\n")
	bad := writeFile(t, filepath.Join(t.TempDir(), "bad.hcl"), "policy \"p\" {\n  pcrs = [\"sha256:9:00\"]\n  boot_components = [\"xyz\"]\n}\n")

	for _, tc := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"unknown key in a file of a directory", []string{dir}, []string{
			fmt.Sprintf(`policy_paths: %s: unknown configuration key "policy.a.colour"`, a),
		}},
		{"defined in two files", []string{b, b2}, []string{
			fmt.Sprintf(`policy_paths: policy "dup" is defined in %s and in %s`, b, b2),
		}},
		{"defined inline and in a file", []string{b}, []string{
			fmt.Sprintf(`policy "inline" is defined inline and in %s`, b),
		}},
		{"defined twice in one file", []string{twice}, []string{
			fmt.Sprintf(`policy_paths: %s: policy "t" is defined more than once`, twice),
		}},
		{"not a policy file", []string{notPolicy}, []string{
			fmt.Sprintf(`policy_paths: %s: unknown configuration key "bundled_ek_cas"`, notPolicy),
		}},
		{"every rule error, prefixed by its file", []string{bad}, []string{
			fmt.Sprintf(`%s: policy "p": pcrs "sha256:9:00": 1 bytes, want 32`, bad),
			fmt.Sprintf(`%s: policy "p": boot_components: "xyz" is not a hex digest`, bad),
		}},
		{"missing path", []string{filepath.Join(dir, "missing")}, []string{
			fmt.Sprintf(`policy_paths: stat %s: no such file or directory`, filepath.Join(dir, "missing")),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			quoted := make([]string, len(tc.paths))
			for i, p := range tc.paths {
				quoted[i] = fmt.Sprintf("%q", p)
			}
			err := configure(fmt.Sprintf("bundled_ek_cas = true\npolicy_paths = [%s]\npolicy \"inline\" {}\n", strings.Join(quoted, ", ")))
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestPolicyFileAllowlistRelative: a policy file's relative
// ima_allowlist_paths are read next to the policy file.
func TestPolicyFileAllowlistRelative(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "allow", "usr-bin.sha256sum"), fmt.Sprintf("%x  /usr/bin/a\n", sha256.Sum256([]byte("a"))))
	p := writeFile(t, filepath.Join(dir, "runtime.hcl"), "policy \"runtime\" {\n  ima_allowlist_paths = [\"allow\"]\n}\n")
	t.Chdir(t.TempDir())
	if err := configure(fmt.Sprintf("bundled_ek_cas = true\npcrs = { sha256 = [0, 1, 2, 3, 4, 5, 6, 7, 10] }\npolicy_paths = [%q]", p)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "allow", "bad"), "nope\n")
	want := fmt.Sprintf(`%s: policy "runtime": ima_allowlist_paths: %s line 1: "nope" is not a hex digest`, p, filepath.Join(dir, "allow", "bad"))
	if err := configure(fmt.Sprintf("bundled_ek_cas = true\npcrs = { sha256 = [0, 1, 2, 3, 4, 5, 6, 7, 10] }\npolicy_paths = [%q]", p)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestPolicyTemplates: every level template under examples/policies is read
// by the plugin (policy_paths, unknown keys refused), and holds the level it
// is named for.
func TestPolicyTemplates(t *testing.T) {
	const dir = "../../../examples/policies"
	if err := configure(fmt.Sprintf("bundled_ek_cas = true\npcrs = %s\npolicy_paths = [%q]", level4PCRs, dir)); err != nil {
		t.Fatalf("the plugin refuses the templates: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil || len(files) != 4 {
		t.Fatalf("templates %v, %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hcl")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), fmt.Sprintf("policy %q {\n  required", name)) {
			t.Errorf("%s does not define policy %q, report-only first", f, name)
		}
		// One template at a time, with a key the plugin does not know.
		bad := writeFile(t, filepath.Join(t.TempDir(), filepath.Base(f)), strings.Replace(string(b), "  required", "  colour = \"blue\"\n  required", 1))
		want := fmt.Sprintf(`%s: unknown configuration key "policy.%s.colour"`, bad, name)
		if err := configure(fmt.Sprintf("bundled_ek_cas = true\npcrs = %s\npolicy_paths = [%q]", level4PCRs, bad)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// level4PCRs is the quote selection the level 4 template needs.
const level4PCRs = "{ sha256 = [0, 1, 2, 3, 4, 5, 6, 7, 10] }"

// TestPolicyNeedsUnquotedPCR: a policy whose rules read a log the server
// never quotes (IMA without PCR 10, secure boot without PCR 7, boot
// components without PCRs 2 and 4, or with only a SHA-1 bank) can never
// pass; it is refused at configure time, naming the rule and the PCR. The
// level 4 template with the default quote (sha256 0-7) is one.
func TestPolicyNeedsUnquotedPCR(t *testing.T) {
	comp := strings.Repeat("ab", 32)
	for _, tc := range []struct{ name, hcl, want string }{
		{"level 4 template, default pcrs", `policy_paths = ["../../../examples/policies/level4-runtime.hcl"]`,
			`policy "level4-runtime": ima_allowlist: reads the IMA log, which extends PCR 10, and the server does not quote PCR 10 (add 10 to pcrs)`},
		{"secure boot without PCR 7", "pcrs = { sha256 = [0, 1, 2] }\npolicy \"sb\" {\n  secure_boot = true\n}",
			`policy "sb": secure_boot: reads the boot log's PCR 7, which the server does not quote in a sha256 (or longer) bank (add 7 to pcrs)`},
		{"secure boot in sha1 only", "pcrs = { sha1 = [0, 1, 2, 3, 4, 5, 6, 7], sha256 = [10] }\npolicy \"sb\" {\n  secure_boot = true\n}",
			`policy "sb": secure_boot: reads the boot log's PCR 7, which the server does not quote in a sha256 (or longer) bank (add 7 to pcrs)`},
		{"boot components without PCR 4", "pcrs = { sha256 = [0, 1, 2, 7] }\npolicy \"bc\" {\n  boot_components = [\"" + comp + "\"]\n}",
			`policy "bc": boot_components: reads the boot log's PCR 4, which the server does not quote in a sha256 (or longer) bank (add 4 to pcrs)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := configure("bundled_ek_cas = true\n" + tc.hcl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant %q", err, tc.want)
			}
		})
	}
	// Quoting what the rules read makes the same policies acceptable; a
	// SHA-1 boot bank is enough with allow_sha1_boot.
	for _, hcl := range []string{
		`pcrs = ` + level4PCRs + "\n" + `policy_paths = ["../../../examples/policies/level4-runtime.hcl"]`,
		"pcrs = { sha1 = [0, 1, 2, 3, 4, 5, 6, 7] }\nallow_sha1_boot = true\npolicy \"sb\" {\n  secure_boot = true\n  boot_components = [\"" + comp + "\"]\n}",
	} {
		if err := configure("bundled_ek_cas = true\n" + hcl); err != nil {
			t.Errorf("%s: %v", hcl, err)
		}
	}
}
