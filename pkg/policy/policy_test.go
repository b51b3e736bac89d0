package policy_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

func TestEvaluate(t *testing.T) {
	zero := make([]byte, 32)
	ff := bytes.Repeat([]byte{0xff}, 32)
	res := &tpmquote.Result{
		EKCertVerified: true,
		PCRs:           tpmquote.PCRValues{tpmquote.SHA256: {7: ff}},
		Boot: &tpmquote.Boot{
			SecureBoot: tpmquote.SecureBoot{Known: true, Enabled: false},
			Components: []tpmquote.BootComponent{
				{PCR: 4, Type: "EV_EFI_BOOT_SERVICES_APPLICATION", Digest: []byte{1, 2}},
				// Relabelled: judged by its digest all the same.
				{PCR: 2, Type: "EV_EFI_ACTION", Digest: []byte{3, 4}},
				// Not in PCR 2 or 4: not judged.
				{PCR: 8, Type: "EV_IPL", Digest: []byte{5, 6}},
			},
			ComponentPCRs: []int{2, 4},
		},
	}
	policies := []*policy.Policy{
		{Name: "genuine", EKCertificate: true},
		{Name: "sb", SecureBoot: true},
		{Name: "pcr7", Required: true, PCRs: map[tpmquote.HashAlg]map[int][][]byte{tpmquote.SHA256: {7: {zero, ff}}}},
		{Name: "pcr7-zero", PCRs: map[tpmquote.HashAlg]map[int][][]byte{tpmquote.SHA256: {7: {zero}}}},
		{Name: "boot", BootComponents: map[string]bool{"0102": true, "0304": true}},
		{Name: "boot-strict", Required: true, BootComponents: map[string]bool{}},
		{Name: "ima", IMAAllowlist: map[string]bool{}},
	}
	sat, refused := policy.Evaluate(policies, res)
	if want := []string{"boot", "genuine", "pcr7"}; !reflect.DeepEqual(sat, want) {
		t.Errorf("satisfied %q, want %q", sat, want)
	}
	want := []string{`policy "boot-strict": boot component 0102 (PCR 4, logged as EV_EFI_BOOT_SERVICES_APPLICATION) is not allowed; ` +
		`boot component 0304 (PCR 2, logged as EV_EFI_ACTION) is not allowed`}
	if !reflect.DeepEqual(refused, want) {
		t.Errorf("refused %q, want %q", refused, want)
	}
	if got := policies[1].Evaluate(res); !reflect.DeepEqual(got, []string{"secure boot required, but it is disabled"}) {
		t.Errorf("sb: %q", got)
	}
	if got := policies[3].Evaluate(res); len(got) != 1 || got[0] != "sha256 PCR 7 is "+string(bytes.Repeat([]byte("ff"), 32))+", not a reference value" {
		t.Errorf("pcr7-zero: %q", got)
	}
	// A log that does not establish PCR 2 (not quoted) or any (sha1 only)
	// fails the rule instead of passing with fewer components.
	for _, pcrs := range [][]int{{4}, nil} {
		r := *res
		b := *res.Boot
		b.ComponentPCRs = pcrs
		r.Boot = &b
		got := policies[4].Evaluate(&r)
		if len(got) == 0 || got[0] != "boot components required, but the log does not establish PCR 2's (not quoted, or replayed only in sha1)" {
			t.Errorf("boot with component PCRs %v: %q", pcrs, got)
		}
	}
	if got := policies[6].Evaluate(res); !reflect.DeepEqual(got, []string{"IMA allowlist required, but no IMA log was verified"}) {
		t.Errorf("ima: %q", got)
	}
}

// TestEvaluateIMA: a policy with an IMA allowlist needs a verified log that
// starts with the kernel's boot_aggregate (an empty one does not, so a PCR
// 10 never extended fails), and checks every entry whatever its template.
func TestEvaluateIMA(t *testing.T) {
	agg := &tpmquote.IMABootAggregate{HashAlg: "sha256", Hash: []byte{9}}
	file := tpmquote.IMAEntry{Template: "ima-sig", HashAlg: "sha256", Hash: []byte{1}, Path: "/usr/bin/a"}
	buf := tpmquote.IMAEntry{Template: "ima-buf", HashAlg: "sha256", Hash: []byte{2}, Path: "/tmp/evil"}
	p := &policy.Policy{Name: "ima", IMAAllowlist: map[string]bool{"01": true}}
	for _, tc := range []struct {
		name string
		ima  *tpmquote.IMA
		want []string
	}{
		{"no log", nil, []string{"IMA allowlist required, but no IMA log was verified"}},
		{"empty", &tpmquote.IMA{}, []string{"IMA allowlist required, but the verified IMA log does not start with the kernel's boot_aggregate: IMA did not measure this boot"}},
		{"no boot aggregate", &tpmquote.IMA{Entries: []tpmquote.IMAEntry{file}}, []string{"IMA allowlist required, but the verified IMA log does not start with the kernel's boot_aggregate: IMA did not measure this boot"}},
		{"allowed", &tpmquote.IMA{BootAggregate: agg, Entries: []tpmquote.IMAEntry{file}}, nil},
		{"buffer label", &tpmquote.IMA{BootAggregate: agg, Entries: []tpmquote.IMAEntry{file, buf}}, []string{"IMA: /tmp/evil (sha256:02) is not allowed"}},
	} {
		if got := p.Evaluate(&tpmquote.Result{IMA: tc.ima}); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
