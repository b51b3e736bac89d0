package cli

import (
	"reflect"
	"strings"
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

// FuzzParseSVID: parseSVID never panics on any file; what it accepts names
// a SPIFFE ID and has either decoded claims or the reason they were
// refused.
//
// The seeds from a real demo run (an X509-SVID, a JWT-SVID and the trust
// bundle) are in testdata/fuzz/FuzzParseSVID: their certificates expire
// within hours, so they live in the corpus, whose inputs a parser must
// survive and no test verifies (internal/repocheck
// TestNoFixtureCertificateExpires).
func FuzzParseSVID(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("a.b.c"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		svids, err := parseSVID("fuzz", raw)
		if err != nil {
			return
		}
		for _, s := range svids {
			if !strings.HasPrefix(s.SPIFFEID, "spiffe://") {
				t.Fatalf("accepted SPIFFE ID %q", s.SPIFFEID)
			}
			if (s.Claims == nil) == (s.Error == "") {
				t.Fatalf("claims %v with error %q", s.Claims, s.Error)
			}
		}
	})
}
