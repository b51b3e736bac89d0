package hclconf_test

import (
	"fmt"
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf"
)

func TestDecodeBlocks(t *testing.T) {
	type block struct {
		X bool `hcl:"x"`
	}
	type conf struct {
		P map[string]block `hcl:"p"`
	}
	var c conf
	errs := hclconf.Decode("p \"one\" {\n x = true\n y = 1\n}\np \"two\" { x = false }\n", &c)
	if got := fmt.Sprint(errs); got != `[unknown configuration key "p.one.y"]` {
		t.Errorf("errs = %s", got)
	}
	if !c.P["one"].X || c.P["two"].X || len(c.P) != 2 {
		t.Errorf("decoded %+v", c)
	}
}

func TestDecodeBlockTwice(t *testing.T) {
	type block struct {
		X bool `hcl:"x"`
		Y bool `hcl:"y"`
	}
	type conf struct {
		P map[string]block `hcl:"p"`
	}
	var c conf
	errs := hclconf.Decode("p \"one\" { x = true }\np \"two\" {}\np \"one\" { y = true }\np \"one\" {}\n", &c)
	if got := fmt.Sprint(errs); got != `[p "one" is defined more than once]` {
		t.Errorf("errs = %s", got)
	}
}

func TestDecode(t *testing.T) {
	type conf struct {
		A string `hcl:"a"`
		B []int  `hcl:"b"`
	}
	var c conf
	errs := hclconf.Decode("a = \"x\"\nzz = 1\nb = [1]\nyy { q = 1 }\nyy { r = 2 }\n", &c)
	if got := fmt.Sprint(errs); got != `[unknown configuration key "yy" unknown configuration key "zz"]` {
		t.Errorf("errs = %s", got)
	}
	if c.A != "x" || len(c.B) != 1 {
		t.Errorf("decoded %+v", c)
	}
	if errs := hclconf.Decode("a = [1", &c); len(errs) != 1 {
		t.Errorf("syntax error: %v", errs)
	}
}

// TestDecodeMalformed: input on which hashicorp/hcl v1 panics is an error.
func TestDecodeMalformed(t *testing.T) {
	type conf struct {
		P map[string]struct {
			X bool `hcl:"x"`
		} `hcl:"p"`
		S string `hcl:"s"`
	}
	for text, want := range map[string]string{
		`p "\400n" {}`: `[parse configuration: malformed HCL: unquote "\400n" err: invalid syntax]`,
		`s {}`:         `[decode configuration: At -: root.s: unknown type for string *ast.ObjectList]`,
	} {
		var c conf
		if got := fmt.Sprint(hclconf.Decode(text, &c)); got != want {
			t.Errorf("%s: %s, want %s", text, got, want)
		}
	}
}

// TestDecodeArgumentTwice: an argument set twice is refused, not "the last
// one wins" (hashicorp/hcl v1.0.1-vault-7 refuses it at parse time).
func TestDecodeArgumentTwice(t *testing.T) {
	var c struct {
		A string `hcl:"a"`
	}
	errs := hclconf.Decode("a = \"hash\"\na = \"certificate\"\n", &c)
	if got := fmt.Sprint(errs); got != `[parse configuration: The argument "a" at 2:1 was already set. Each argument can only be defined once]` {
		t.Errorf("errs = %s", got)
	}
}

// TestDecodeSuggestsNearKey: a misspelt key names the known key it is
// nearest to; a key near none is reported alone.
func TestDecodeSuggestsNearKey(t *testing.T) {
	type block struct {
		SecureBoot bool `hcl:"secure_boot"`
	}
	type conf struct {
		DenyEKHashes []string         `hcl:"deny_ek_hashes"`
		DenyEKCerts  []string         `hcl:"deny_ek_certificates"`
		Policies     map[string]block `hcl:"policy"`
	}
	var c conf
	errs := hclconf.Decode("deny_ek_hash = [\"a\"]\ncolour = 1\npolicy \"p\" {\n  secure_bot = true\n}\n", &c)
	want := `[unknown configuration key "colour" unknown configuration key "deny_ek_hash" (did you mean "deny_ek_hashes"?) unknown configuration key "policy.p.secure_bot" (did you mean "policy.p.secure_boot"?)]`
	if got := fmt.Sprint(errs); got != want {
		t.Errorf("errs = %s\nwant %s", got, want)
	}
}
