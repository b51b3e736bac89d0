package cli

import (
	"reflect"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// FuzzParsePCRs: parsePCRs never panics, and what it accepts is a valid
// selection that formatSelection writes back as a spec parsing to the same
// selection.
func FuzzParsePCRs(f *testing.F) {
	for _, s := range []string{"sha256:0-7,10", "sha1:0-7,sha256:0-7,14", "sha256:7-0", "sha256:0-99999999999", "0-7", "sha256:1,1", "sha256:", ",", "sha512:23"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		sel, err := parsePCRs(spec)
		if err != nil {
			return
		}
		if err := sel.Validate(); err != nil {
			t.Fatalf("%q: accepted an invalid selection: %v", spec, err)
		}
		for _, idx := range sel {
			for _, i := range idx {
				if i < 0 || i > tpmquote.MaxPCR {
					t.Fatalf("%q: PCR %d", spec, i)
				}
			}
		}
		again, err := parsePCRs(formatSelection(sel))
		if err != nil || !reflect.DeepEqual(again, sel) {
			t.Errorf("%q parsed to %v, formatted %q, which parses to %v, %v", spec, sel, formatSelection(sel), again, err)
		}
	})
}
