package policy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

func TestParseAndCompile(t *testing.T) {
	ff := strings.Repeat("ff", 32)
	blocks, err := policy.Parse(fmt.Sprintf(`policy "measured" {
  required    = true
  secure_boot = true
  pcrs        = ["sha256:7:%s", "SHA256:7:%s", "sha1:0:%s"]
}
policy "empty" {}
`, ff, strings.Repeat("00", 32), strings.Repeat("ab", 20)))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 {
		t.Fatalf("blocks %v", blocks)
	}
	p, err := blocks["measured"].Compile("measured", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Required || !p.SecureBoot || len(p.PCRs[tpmquote.SHA256][7]) != 2 || len(p.PCRs[tpmquote.SHA1][0]) != 1 {
		t.Errorf("compiled %+v", p)
	}
	if !bytes.Equal(p.PCRs[tpmquote.SHA256][7][0], bytes.Repeat([]byte{0xff}, 32)) {
		t.Errorf("value %x", p.PCRs[tpmquote.SHA256][7][0])
	}
	_, err = blocks["measured"].Compile("measured", tpmquote.DefaultPCRs(), "")
	if want := `policy "measured": pcrs "sha1:0:` + strings.Repeat("ab", 20) + `": sha1 PCR 0 is not quoted (add it to pcrs)`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestCompileErrors(t *testing.T) {
	c := policy.Config{
		PCRs:           []string{"sha256:24:00", "sha256:x:00", "sha256:1:zz"},
		BootComponents: []string{"00"},
		IMAAllowlist:   []string{"g"},
	}
	_, err := c.Compile("a b", nil, "")
	want := `policy "a b": a name without spaces or colons is required
policy "a b": pcrs "sha256:24:00": PCR 24 out of range 0..23
policy "a b": pcrs "sha256:x:00": strconv.Atoi: parsing "x": invalid syntax
policy "a b": pcrs "sha256:1:zz": encoding/hex: invalid byte: U+007A 'z'
policy "a b": boot_components: "00" is not a hex digest
policy "a b": ima_allowlist: "g" is not a hex digest`
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`policy "a" { colour = 1 }`, `unknown configuration key "policy.a.colour"`},
		{"policy \"a\" {}\npolicy \"a\" {}", `policy "a" is defined more than once`},
		{`pcrs = { sha256 = [0] }`, `unknown configuration key "pcrs"`},
		{`policy "a" {`, "parse configuration: "},
	} {
		_, err := policy.Parse(tc.text)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.text, err, tc.want)
		}
	}
	if b, err := policy.Parse("# nothing\n"); err != nil || len(b) != 0 {
		t.Errorf("empty file: %v, %v", b, err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"1.hcl":     `policy "one" { secure_boot = true }`,
		"2.hcl":     `policy "two" {}`,
		"notes.txt": "ignored in a directory",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := policy.LoadFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["one"].Config.SecureBoot || got["two"].Path != filepath.Join(dir, "2.hcl") {
		t.Errorf("loaded %+v", got)
	}
	_, err = policy.LoadFiles([]string{dir, filepath.Join(dir, "1.hcl")})
	if want := fmt.Sprintf(`policy "one" is defined in %s and in %s`, filepath.Join(dir, "1.hcl"), filepath.Join(dir, "1.hcl")); err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	_, err = policy.LoadFiles([]string{filepath.Join(dir, "notes.txt")})
	if want := filepath.Join(dir, "notes.txt") + `: parse configuration: `; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a file named explicitly is read whatever its name: %v", err)
	}
}
