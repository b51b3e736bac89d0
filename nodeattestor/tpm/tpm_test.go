package tpm_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// hash is the EK hash spiffe/spire-tpm-plugin computes for the seed-0
// reference simulator (see pkg/tpmquote's TestEKHashCompatibleWithSpireTPMPlugin).
const hash = "1b5bbe2e96054f7bc34ebe7ba9a4a9eac5611c6879285ceff6094fa556af485c"

func TestAgentID(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	id, err := tpm.AgentID(td, hash)
	if err != nil {
		t.Fatal(err)
	}
	if want := "spiffe://example.org/spire/agent/tpm/" + hash; id.String() != want {
		t.Errorf("AgentID = %s, want %s", id, want)
	}
	for _, bad := range []string{"", "ABCD", hash[:63], hash + "0", "zz" + hash[2:], "1B" + hash[2:]} {
		if _, err := tpm.AgentID(td, bad); err == nil {
			t.Errorf("AgentID(%q) accepted", bad)
		}
	}
}

func TestSelectors(t *testing.T) {
	res := &tpmquote.Result{
		EKHash: hash, EKCertVerified: true, EKIssuer: "CN=swtpm-localca",
		Manufacturer: "id:00001014", Model: "swtpm", Version: "id:20191023",
		Boot: &tpmquote.Boot{SecureBoot: tpmquote.SecureBoot{Known: true, Enabled: true}},
		PCRs: tpmquote.PCRValues{tpmquote.SHA256: {7: bytes.Repeat([]byte{0xab}, 32), 0: make([]byte, 32)}},
	}
	got := tpm.Selectors(res, tpm.SelectorOptions{PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {7, 9}}, Policies: []string{"level2"}})
	want := []string{
		"ek_issuer:CN=swtpm-localca",
		"manufacturer:id:00001014",
		"model:swtpm",
		"pcr:sha256:7:" + string(bytes.Repeat([]byte("ab"), 32)),
		"policy:level2",
		"pub_hash:" + hash,
		"secureboot:enabled",
		"version:id:20191023",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Selectors =\n%q\nwant\n%q", got, want)
	}

	// Boot components of the listed PCRs measured before the separator,
	// each digest once, without the (unmeasured) event type.
	res.Boot.Components = []tpmquote.BootComponent{
		{PCR: 2, Type: "EV_EFI_BOOT_SERVICES_DRIVER", Digest: []byte{1}, BeforeSeparator: true},
		{PCR: 2, Type: "EV_EFI_ACTION", Digest: []byte{1}, BeforeSeparator: true},
		{PCR: 4, Type: "EV_EFI_BOOT_SERVICES_APPLICATION", Digest: []byte{3}},
		{PCR: 0, Type: "EV_S_CRTM_VERSION", Digest: []byte{4}, BeforeSeparator: true},
	}
	got = tpm.Selectors(res, tpm.SelectorOptions{BootPCRs: []int{2, 4}})
	var boot []string
	for _, s := range got {
		if strings.HasPrefix(s, "boot:") {
			boot = append(boot, s)
		}
	}
	if want := []string{"boot:2:01"}; !reflect.DeepEqual(boot, want) {
		t.Errorf("boot selectors %q, want %q (PCR 4's is after the separator, PCR 0 is not listed)", boot, want)
	}

	// Hash-only EK, no boot log: only pub_hash.
	bare := &tpmquote.Result{EKHash: hash, EKListed: true, Manufacturer: "id:00001014"}
	if got := tpm.Selectors(bare, tpm.SelectorOptions{}); !reflect.DeepEqual(got, []string{"pub_hash:" + hash}) {
		t.Errorf("Selectors = %q", got)
	}
	// Unknown secure boot state gives no secureboot selector.
	unknown := &tpmquote.Result{EKHash: hash, Boot: &tpmquote.Boot{}}
	if got := tpm.Selectors(unknown, tpm.SelectorOptions{}); len(got) != 1 {
		t.Errorf("Selectors = %q", got)
	}
}

func TestLoadEKHashes(t *testing.T) {
	dir := t.TempDir()
	a, b := strings.Repeat("a", 64), strings.Repeat("B", 64)
	if err := os.WriteFile(filepath.Join(dir, "list"), []byte("# enrolled\n"+a+"  # node 1\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, b), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := tpm.LoadEKHashes([]string{dir})
	if err != nil || len(got) != 2 || !got[a] || !got[strings.ToLower(b)] {
		t.Fatalf("LoadEKHashes = %v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte(a+"\nxyz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.LoadEKHashes([]string{bad}); err == nil || err.Error() != bad+" line 2: not a hex SHA-256" {
		t.Errorf("err = %v", err)
	}
}
