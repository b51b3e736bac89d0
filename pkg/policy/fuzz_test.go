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

// FuzzParse feeds arbitrary text to Parse and compiles every block it
// returns. Neither may panic; an accepted block compiles to a policy of its
// name whose every reference value has its bank's size, or fails with an
// error naming the policy. ima_allowlist_paths are dropped before Compile:
// they name files, which FuzzIMAAllowlist covers.
//
// The seed corpus is the shipped level templates and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("../../examples/policies/*.hcl")
	if err != nil || len(files) == 0 {
		f.Fatalf("level templates: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`policy "a" { pcrs = ["sha256:7:` + strings.Repeat("00", 32) + `"] boot_components = ["` + strings.Repeat("ab", 20) + `"] }`)
	f.Add(`policy "a" {}` + "\n" + `policy "a" {}`)
	f.Add(`policy "x" { unknown = 1 }`)
	f.Add(`policy "\400n" {}`) // hashicorp/hcl v1 panics on it (hclconf recovers)
	f.Fuzz(func(t *testing.T, text string) {
		blocks, err := policy.Parse(text)
		if err != nil {
			if blocks != nil {
				t.Errorf("blocks %v with error %v", blocks, err)
			}
			return
		}
		for name, c := range blocks {
			c.IMAAllowlistPaths = nil
			p, err := c.Compile(name, nil, "")
			if err != nil {
				if !strings.Contains(err.Error(), fmt.Sprintf("policy %q", name)) {
					t.Errorf("error does not name policy %q: %v", name, err)
				}
				continue
			}
			if p.Name != name || p.Required != c.Required || p.SecureBoot != c.SecureBoot {
				t.Errorf("policy %q compiled to %+v", name, p)
			}
			for alg, pcrs := range p.PCRs {
				for idx, vals := range pcrs {
					for _, v := range vals {
						if len(v) != alg.Size() || idx < 0 || idx > tpmquote.MaxPCR {
							t.Errorf("policy %q: %s PCR %d value of %d bytes", name, alg, idx, len(v))
						}
					}
				}
			}
		}
	})
}

// FuzzParsePCR: ParsePCR never panics, and what it accepts formats back to
// a reference that parses to the same bank, index and value.
func FuzzParsePCR(f *testing.F) {
	f.Add("sha256:7:" + strings.Repeat("00", 32))
	f.Add("SHA1:0:" + strings.Repeat("AB", 20))
	f.Add("sha384:23:" + strings.Repeat("0f", 48))
	f.Add("sha256:-1:00")
	f.Add("sha256:7")
	f.Fuzz(func(t *testing.T, ref string) {
		alg, idx, val, err := policy.ParsePCR(ref)
		if err != nil {
			return
		}
		again := fmt.Sprintf("%s:%d:%x", alg, idx, val)
		alg2, idx2, val2, err := policy.ParsePCR(again)
		if err != nil || alg2 != alg || idx2 != idx || !bytes.Equal(val, val2) {
			t.Errorf("%q parsed to %s, which parses to %s:%d:%x, %v", ref, again, alg2, idx2, val2, err)
		}
	})
}
