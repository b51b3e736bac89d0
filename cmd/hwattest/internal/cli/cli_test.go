package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/internal/tpmtest"
	tpmplugin "github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server"
	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// ekJSON is the part of `hwattest ek --json` the tests read.
type ekJSON struct {
	EKHash      string `json:"ek_hash"`
	AgentID     string `json:"agent_id"`
	AgentIDPath string `json:"agent_id_path"`
	Selector    string `json:"selector"`
	Key         string `json:"key"`
	Certificate *struct {
		Issuer       string   `json:"issuer"`
		Manufacturer string   `json:"tpm_manufacturer"`
		Name         string   `json:"tpm_manufacturer_name"`
		Model        string   `json:"tpm_model"`
		Validated    bool     `json:"validated"`
		CAs          string   `json:"checked_against"`
		Chain        []string `json:"chain"`
		Error        string   `json:"error"`
	} `json:"certificate"`
	Reported tpmquote.TPMInfo `json:"reported"`
	EKs      []struct {
		KeyType           string `json:"key_type"`
		EKHash            string `json:"ek_hash"`
		NVIndex           string `json:"nv_index"`
		CertificateID     string `json:"certificate_id"`
		AcceptedByDefault bool   `json:"accepted_by_default"`
	} `json:"eks"`
}

// TestEK: the hash hwattest ek shows is the one a live attestation of the
// same TPM gives, and the certificate validates only against its own CA.
func TestEK(t *testing.T) {
	m := newMachine(t)

	// A live round trip through tpmquote, as the server plugin runs it,
	// with the RSA EK (the default) and the ECC EK.
	hashes := map[attester.KeyAlgorithm]string{}
	certIDs := map[attester.KeyAlgorithm]string{}
	for _, alg := range []attester.KeyAlgorithm{attester.RSA, attester.ECC} {
		withTPM(t, m.sw, func(tpm transport.TPM) {
			s, att, err := attester.Begin(tpm, attester.Config{EventLogPath: "-", EKAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			roots, inter := m.sw.CertPools(t)
			v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Roots: roots, Intermediates: inter}})
			if err != nil {
				t.Fatal(err)
			}
			ch, session, err := v.Challenge(att)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := s.Respond(ch)
			if err != nil {
				t.Fatal(err)
			}
			res, err := session.Verify(resp)
			if err != nil {
				t.Fatal(err)
			}
			hashes[alg] = res.EKHash
			certIDs[alg] = tpmplugin.EKCertificateID(session.EK().Certificate)
		})
	}
	want := hashes[attester.RSA]

	r := mustRun(t, cli.ExitOK, "ek", "--tpm", m.sw.Addr, "--json", "--trust-domain", "example.org")
	var got ekJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, r.stdout)
	}
	if got.EKHash != want {
		t.Errorf("ek_hash %s, the verifier's %s", got.EKHash, want)
	}
	if got.AgentID != "spiffe://example.org/spire/agent/tpm/"+want || got.AgentIDPath != "/spire/agent/tpm/"+want || got.Selector != "tpm:pub_hash:"+want {
		t.Errorf("agent ID %q, path %q, selector %q", got.AgentID, got.AgentIDPath, got.Selector)
	}
	c := got.Certificate
	if c == nil || c.Validated || c.Issuer != "CN=swtpm-localca" || c.Manufacturer != "id:00001014" || c.Name != "IBM" || c.Model != "swtpm" {
		t.Fatalf("certificate %+v", c)
	}
	if c.CAs != "56 bundled vendor CA certificates" || !strings.Contains(c.Error, "certificate signed by unknown authority") {
		t.Errorf("bundled CAs: %q, error %q", c.CAs, c.Error)
	}
	if got.Key != "RSA 2048" || got.Reported.Manufacturer != "IBM" {
		t.Errorf("key %q, reported %+v", got.Key, got.Reported)
	}

	// Every EK, each as the server sees it, for the operator's deny lists.
	if len(got.EKs) != 2 {
		t.Fatalf("eks %+v, want the RSA and the ECC EK", got.EKs)
	}
	for i, w := range []struct {
		alg      attester.KeyAlgorithm
		keyType  string
		index    string
		accepted bool
	}{{attester.RSA, "rsa-2048", "0x01c00002", true}, {attester.ECC, "ecc-p384", "0x01c00016", false}} {
		e := got.EKs[i]
		if e.KeyType != w.keyType || e.EKHash != hashes[w.alg] || e.NVIndex != w.index || e.CertificateID != certIDs[w.alg] || e.AcceptedByDefault != w.accepted {
			t.Errorf("eks[%d] = %+v, want %s %s %s %s accepted %v", i, e, w.keyType, hashes[w.alg], w.index, certIDs[w.alg], w.accepted)
		}
	}
	if !strings.HasPrefix(certIDs[attester.RSA], "CN=swtpm-localca/") || certIDs[attester.RSA] == certIDs[attester.ECC] {
		t.Errorf("certificate IDs %v", certIDs)
	}

	r = mustRun(t, cli.ExitOK, append([]string{"ek", "--tpm", m.sw.Addr, "--json"}, m.caFlags()...)...)
	got = ekJSON{}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if c := got.Certificate; !c.Validated || len(c.Chain) != 3 || c.CAs != "56 bundled vendor CA certificates and 2 from --ek-ca" || got.AgentID != "" {
		t.Errorf("with the swtpm CA: %+v, agent ID %q", c, got.AgentID)
	}

	r = mustRun(t, cli.ExitOK, "ek", "--tpm", m.sw.Addr)
	for _, line := range []string{
		"EK hash       " + want,
		"agent ID      spiffe://<trust domain>/spire/agent/tpm/" + want + " (give --trust-domain for the full ID)",
		"certified TPM manufacturer id:00001014 (IBM), model swtpm, firmware version id:20191023",
		"validated     NO, against 56 bundled vendor CA certificates: ek certificate: x509: certificate signed by unknown authority",
		"every EK      rsa-2048 " + hashes[attester.RSA] + " certificate " + certIDs[attester.RSA] + " (NV 0x01c00002)",
		"ecc-p384 " + hashes[attester.ECC] + " certificate " + certIDs[attester.ECC] + " (NV 0x01c00016), accepted only if the server's ek_algorithms lists ecc-p384",
		fmt.Sprintf("revoke with   deny_ek_hashes = [%q, %q]", hashes[attester.RSA], hashes[attester.ECC]),
		fmt.Sprintf("deny_ek_certificates = [%q, %q]", certIDs[attester.RSA], certIDs[attester.ECC]),
	} {
		if !has(r.stdout, line) {
			t.Errorf("output lacks %q:\n%s", line, r.stdout)
		}
	}
}

// TestReferenceThenVerify is the operator's loop: capture a known-good
// machine, derive a reference policy, verify the machine against it; then a
// machine whose boot measured one more thing into PCR 7 fails, naming PCR 7.
func TestReferenceThenVerify(t *testing.T) {
	m := newMachine(t)
	dir := t.TempDir()
	start := time.Now()
	good := m.capture(t, dir, "good.json")
	t.Logf("evidence capture on swtpm: %v", time.Since(start))

	policyFile := filepath.Join(dir, "reference.hcl")
	r := mustRun(t, cli.ExitOK, append([]string{"reference", "-o", policyFile, "--name", "fleet-ref", good}, m.caFlags()...)...)
	if !strings.Contains(r.stderr, `wrote policy "fleet-ref" to `+policyFile+" from 1 evidence files: 8 PCR values, secure_boot true, ek_certificate true, 4 boot components; report-only (required = false)") {
		t.Errorf("reference stderr:\n%s", r.stderr)
	}
	r0stderr := r.stderr
	text, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"policy \"fleet-ref\" {\n  required = false\n  ek_certificate = true\n  secure_boot = true\n",
		"# The server plugin must quote these PCRs: pcrs = { sha256 = [0, 1, 2, 3, 4, 5, 6, 7] }",
		"# PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("policy file lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(string(text), `"sha256:`); n != 8 {
		t.Errorf("%d PCR values, want 8:\n%s", n, text)
	}

	// The server plugin reads the file.
	_, err = server.New().Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "example.org"},
		HclConfiguration:  fmt.Sprintf("bundled_ek_cas = true\npolicy_paths = [%q]", policyFile),
	})
	if err != nil {
		t.Fatalf("the server plugin refuses the policy file: %v", err)
	}

	start = time.Now()
	r = mustRun(t, cli.ExitOK, append([]string{"verify", "--policy", policyFile, good}, m.caFlags()...)...)
	t.Logf("offline verify with the policy: %v", time.Since(start))
	for _, want := range []string{
		"PASS  ek.certificate         chains to CN=swtpm-localca",
		"SKIP  ek.allowlist           EK ",
		"INFO  credential.activation  not verifiable offline; at capture \"hwattest evidence\" recorded: activated",
		"PASS  quote.nonce            the recorded nonce (not fresh)",
		"PASS  eventlog.replay        35 events in [sha256]",
		"INFO  secure_boot            on",
		"PASS  fleet-ref              report-only, " + policyFile,
		"result: PASS: the evidence verifies and meets all 1 policies",
	} {
		if !has(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.stdout)
		}
	}

	// The same machine after its boot measured one more thing into PCR 7:
	// its value changes, and an event after PCR 7's separator makes the
	// secure boot state unknown (firmware measures none there).
	m.measure(t, 7, "hwattest test: an extra PCR 7 measurement")
	changed := m.capture(t, dir, "changed.json")
	r = mustRun(t, cli.ExitFailed, append([]string{"verify", "--policy", policyFile, changed}, m.caFlags()...)...)
	pcr7 := regexp.MustCompile(`FAIL +fleet-ref +report-only, .*\n +- secure boot required, but the boot log does not establish it \(PCR 7: .*\)\n +- sha256 PCR 7 is [0-9a-f]{64}, not a reference value\nresult: FAIL: the evidence verifies; 1 of 1 policies not met: fleet-ref`)
	if !pcr7.MatchString(r.stdout) {
		t.Errorf("verify output does not name secure boot and PCR 7 alone:\n%s", r.stdout)
	}

	// A reference derived from the changed machine drops secure_boot (its
	// state is unknown): the policy is weaker than level 3's template, and
	// reference says so; the good machine's had no such warning.
	if strings.Contains(r0stderr, "warning:") {
		t.Errorf("reference of a good machine warns:\n%s", r0stderr)
	}
	r = mustRun(t, cli.ExitOK, append([]string{"reference", "-o", filepath.Join(dir, "weak.hcl"), "--name", "level3-reference", changed}, m.caFlags()...)...)
	if want := "warning: the policy lacks secure_boot, a rule of level 2 (level2-measured-boot): a node may pass it and fail level 2; hwattest report counts a level only when every level below holds\n"; !strings.Contains(r.stderr, want) {
		t.Errorf("reference stderr lacks %q:\n%s", want, r.stderr)
	}

	// --json decodes, with the same outcome.
	r = mustRun(t, cli.ExitFailed, append([]string{"verify", "--json", "--policy", policyFile, good, changed}, m.caFlags()...)...)
	var rep struct {
		Files []struct {
			File     string
			Verified bool
			Passed   bool
			Policies []struct {
				Name     string
				Passed   bool
				Failures []string
			}
			Result *tpmquote.Result
		}
		Passed bool
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, r.stdout)
	}
	if rep.Passed || len(rep.Files) != 2 || !rep.Files[0].Passed || rep.Files[1].Passed || !rep.Files[1].Verified {
		t.Fatalf("report %+v", rep)
	}
	if f := rep.Files[1].Policies[0].Failures; len(f) != 2 || !strings.HasPrefix(f[0], "secure boot required, but the boot log does not establish it") || !strings.HasPrefix(f[1], "sha256 PCR 7 is ") {
		t.Errorf("failures %q", f)
	}
	if rep.Files[0].Result.Status != tpmquote.StatusWarning {
		t.Errorf("status %s, want warning for recorded evidence", rep.Files[0].Result.Status)
	}

	// Both machines as references: they differ in PCR 7, and say so.
	listed := filepath.Join(dir, "listed.hcl")
	r = mustRun(t, cli.ExitOK, append([]string{"reference", "-o", listed, "--name", "both", good, changed}, m.caFlags()...)...)
	if !strings.Contains(r.stderr, "machines differ in sha256 PCR 7 (") || !strings.Contains(r.stderr, "): each value listed") {
		t.Errorf("reference does not say where machines differ:\n%s", r.stderr)
	}
	text, _ = os.ReadFile(listed)
	if n := strings.Count(string(text), `"sha256:7:`); n != 2 || !strings.Contains(string(text), "#   sha256 PCR 7: 2 values, each value listed") {
		t.Errorf("PCR 7 listed %d times:\n%s", n, text)
	}
	mustRun(t, cli.ExitOK, append([]string{"verify", "--policy", listed, good, changed}, m.caFlags()...)...)

	omitted := filepath.Join(dir, "omitted.hcl")
	r = mustRun(t, cli.ExitOK, append([]string{"reference", "-o", omitted, "--name", "both", "--on-difference", "omit", "--required", good, changed}, m.caFlags()...)...)
	text, _ = os.ReadFile(omitted)
	if strings.Contains(string(text), `"sha256:7:`) || strings.Count(string(text), `"sha256:`) != 7 || !strings.Contains(string(text), "required = true") {
		t.Errorf("omit mode:\n%s\n%s", text, r.stderr)
	}
}

// TestEvidenceFile: what hwattest evidence writes decodes, holds what the
// docs promise, and refuses drift at capture.
func TestEvidenceFile(t *testing.T) {
	m := newMachine(t)
	dir := t.TempDir()
	path := m.capture(t, dir, "e.json", "--pcrs", "sha256:0-7,sha1:0-7")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := evidence.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if f.Statement != evidence.Statement || f.Host != host || f.TPM != m.sw.Addr || f.EventLogPath != m.log || !f.Capture.CredentialActivated {
		t.Errorf("file %q %q %q %q %v", f.Statement, f.Host, f.TPM, f.EventLogPath, f.Capture.CredentialActivated)
	}
	if got := f.PCRSelection.String(); got != "sha256:0,1,2,3,4,5,6,7" {
		t.Errorf("selection %s (swtpm has only the sha256 bank)", got)
	}
	if len(f.Attestation.EKCertificate) == 0 || time.Since(f.Captured) > time.Minute {
		t.Errorf("certificate %d bytes, captured %v", len(f.Attestation.EKCertificate), f.Captured)
	}
	if strings.Contains(string(b), `"secret"`) {
		t.Error("the evidence file holds a secret field")
	}

	// A PCR extended outside the boot log: the log no longer replays.
	withTPM(t, m.sw, func(tpm transport.TPM) { extend(t, tpm, 7) })
	r := mustRun(t, cli.ExitFailed, append([]string{"evidence", "--tpm", m.sw.Addr, "--event-log", m.log, "-o", filepath.Join(dir, "drift.json")}, m.caFlags()...)...)
	if !strings.Contains(r.stderr, "hwattest evidence: capture: evidence does not verify at capture time: tpmquote: event log does not replay to the quoted sha256 PCRs") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "drift.json")); err == nil {
		t.Error("a file was written for evidence that does not verify")
	}
}

// TestVerifyUntrustedEK: without the swtpm CA, the EK check fails and the
// other checks are still shown.
func TestVerifyUntrustedEK(t *testing.T) {
	m := newMachine(t)
	path := m.capture(t, t.TempDir(), "e.json")
	r := mustRun(t, cli.ExitFailed, "verify", path)
	for _, want := range []string{
		"FAIL  ek.certificate         presented, not trusted (required: --require certificate)",
		"PASS  quote.signature",
		"PASS  eventlog.replay",
		"FAIL  verification           tpmquote: ek certificate: x509: certificate signed by unknown authority (trust its CA with --ek-ca PATH, the plugin's ek_ca_paths; or enrol the EK hash with --ek-hashes, the plugin's ek_hash_paths)",
		"result: FAIL: the evidence does not verify (ek_untrusted)",
	} {
		if !has(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	// reference refuses it with the same hint.
	r = mustRun(t, cli.ExitFailed, "reference", "-o", filepath.Join(t.TempDir(), "p.hcl"), "--name", "x", path)
	if want := "certificate signed by unknown authority (trust its CA with --ek-ca PATH"; !strings.Contains(r.stderr, want) {
		t.Errorf("reference stderr lacks %q:\n%s", want, r.stderr)
	}
	// --require none accepts it and reports the certificate as not required.
	r = mustRun(t, cli.ExitOK, "verify", "--require", "none", path)
	if !has(r.stdout, "SKIP ek.certificate presented, not trusted (not required: --require none)") {
		t.Errorf("output:\n%s", r.stdout)
	}
	// Listed by hash, it passes with --require hash.
	var hash struct {
		EKHash string `json:"ek_hash"`
	}
	json.Unmarshal([]byte(mustRun(t, cli.ExitOK, "ek", "--tpm", m.sw.Addr, "--json").stdout), &hash)
	list := filepath.Join(t.TempDir(), "hashes")
	os.WriteFile(list, []byte("# enrolled\n"+hash.EKHash+"\n"), 0o600)
	r = mustRun(t, cli.ExitOK, "verify", "--require", "hash", "--ek-hashes", list, path)
	if !has(r.stdout, "PASS ek.allowlist EK "+hash.EKHash+" is listed") {
		t.Errorf("output:\n%s", r.stdout)
	}
}

// TestLevels evaluates the level templates of examples/policies: a machine
// with a verified secure boot log meets levels 1 and 2 and none above until
// level 3 holds its reference values.
func TestLevels(t *testing.T) {
	const templates = "../../../../examples/policies"
	m := newMachine(t)
	dir := t.TempDir()
	good := m.capture(t, dir, "good.json")
	r := mustRun(t, cli.ExitFailed, append([]string{"verify", "--policy", templates, good}, m.caFlags()...)...)
	for _, want := range []string{
		"PASS level1-genuine report-only",
		"PASS level2-measured-boot report-only",
		"FAIL level3-reference report-only",
		"- sha256 PCR 0 is ",
		"FAIL level4-runtime report-only",
		"- IMA allowlist required, but no IMA log was verified",
		"result: FAIL: the evidence verifies; 2 of 4 policies not met: level3-reference, level4-runtime",
	} {
		if !has(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	// Level 3 from hwattest reference, next to the other templates.
	levels := filepath.Join(dir, "levels")
	if err := os.Mkdir(levels, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"level1-genuine.hcl", "level2-measured-boot.hcl"} {
		b, err := os.ReadFile(filepath.Join(templates, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(levels, name), b, 0o600)
	}
	mustRun(t, cli.ExitOK, append([]string{"reference", "--name", "level3-reference", "-o", filepath.Join(levels, "level3-reference.hcl"), good}, m.caFlags()...)...)
	r = mustRun(t, cli.ExitOK, append([]string{"verify", "--policy", levels, good}, m.caFlags()...)...)
	if !has(r.stdout, "PASS level3-reference report-only") || !has(r.stdout, "result: PASS: the evidence verifies and meets all 3 policies") {
		t.Errorf("output:\n%s", r.stdout)
	}
}

// TestIMA is level 4's path: an IMA log replayed into swtpm's PCR 10,
// captured with --ima-log, verified against an allowlist policy; reference
// leaves PCR 10 out.
func TestIMA(t *testing.T) {
	m := newMachine(t)
	dir := t.TempDir()
	var log, sums strings.Builder
	withTPM(t, m.sw, func(tpm transport.TPM) {
		line, td := tpmtest.IMABootAggregate() // a kernel's IMA logs it first
		tpmtest.ExtendIMA(t, tpm, td, false, tpm2.TPMAlgSHA256)
		log.WriteString(line)
		for _, f := range []string{"/usr/bin/true", "/usr/bin/false"} {
			line, td := tpmtest.IMANG(f, []byte(f))
			tpmtest.ExtendIMA(t, tpm, td, false, tpm2.TPMAlgSHA256)
			log.WriteString(line)
			fmt.Fprintf(&sums, "%x  %s\n", sha256.Sum256([]byte(f)), f)
		}
	})
	imaLog := filepath.Join(dir, "ascii_runtime_measurements")
	os.WriteFile(imaLog, []byte(log.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "allow.sha256sum"), []byte(sums.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "partial.sha256sum"), []byte(strings.SplitAfter(sums.String(), "\n")[0]), 0o600)
	policyFile := filepath.Join(dir, "runtime.hcl")
	os.WriteFile(policyFile, []byte(`policy "runtime" {
  ima_allowlist_paths = ["allow.sha256sum"]
}
policy "runtime-partial" {
  ima_allowlist_paths = ["partial.sha256sum"]
}
`), 0o600)

	path := m.capture(t, dir, "ima.json", "--ima-log", imaLog, "--pcrs", "sha256:0-7,10")
	r := mustRun(t, cli.ExitFailed, append([]string{"verify", "--policy", policyFile, path}, m.caFlags()...)...)
	for _, want := range []string{
		"PASS ima.replay 2 entries in [sha256]",
		"PASS runtime report-only",
		"FAIL runtime-partial report-only",
		"- IMA: /usr/bin/false (sha256:",
	} {
		if !has(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustRun(t, cli.ExitOK, append([]string{"reference", "--name", "ima-machine", "-o", "-", path}, m.caFlags()...)...)
	if strings.Contains(r.stdout, `"sha256:10:`) || !strings.Contains(r.stderr, "sha256 PCR 10 is IMA's and changes with every measured file: left out (use ima_allowlist)") {
		t.Errorf("reference kept PCR 10:\n%s\n%s", r.stdout, r.stderr)
	}

	// reference --ima-allowlist: the allowlist of what the log measured,
	// next to the policy that refers to it by name; verify passes on this
	// evidence and names the one new file of a later capture.
	derived, allow := filepath.Join(dir, "derived.hcl"), filepath.Join(dir, "derived.sha256sum")
	r = mustRun(t, cli.ExitOK, append([]string{"reference", "--name", "ima-derived", "-o", derived, "--ima-allowlist", allow, path}, m.caFlags()...)...)
	if !strings.Contains(r.stderr, "wrote the IMA allowlist of \"ima-derived\" to "+allow+": 2 digests") ||
		!strings.Contains(r.stderr, "IMA allowlist derived.sha256sum;") {
		t.Errorf("reference --ima-allowlist:\n%s", r.stderr)
	}
	b, err := os.ReadFile(allow)
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by path: /usr/bin/false first.
	want := strings.SplitAfter(sums.String(), "\n")
	if got := strings.Join(slices.DeleteFunc(strings.SplitAfter(string(b), "\n"), func(l string) bool { return strings.HasPrefix(l, "#") }), ""); got != want[1]+want[0] {
		t.Errorf("allowlist:\n%s\nwant the lines\n%s", b, want[1]+want[0])
	}
	if b, _ := os.ReadFile(derived); !strings.Contains(string(b), `ima_allowlist_paths = ["derived.sha256sum"]`) || !strings.Contains(string(b), "sha256 = [0, 1, 2, 3, 4, 5, 6, 7, 10]") {
		t.Errorf("policy:\n%s", b)
	}
	r = mustRun(t, cli.ExitOK, append([]string{"verify", "--policy", derived, path}, m.caFlags()...)...)
	if !has(r.stdout, "PASS ima-derived report-only") {
		t.Errorf("verify against the derived allowlist:\n%s", r.stdout)
	}
	withTPM(t, m.sw, func(tpm transport.TPM) {
		line, td := tpmtest.IMANG("/usr/bin/extra", []byte("extra"))
		tpmtest.ExtendIMA(t, tpm, td, false, tpm2.TPMAlgSHA256)
		log.WriteString(line)
	})
	os.WriteFile(imaLog, []byte(log.String()), 0o600)
	later := m.capture(t, dir, "ima-later.json", "--ima-log", imaLog, "--pcrs", "sha256:0-7,10")
	r = mustRun(t, cli.ExitFailed, append([]string{"verify", "--policy", derived, later}, m.caFlags()...)...)
	if !has(r.stdout, "FAIL ima-derived report-only") || !has(r.stdout, "- IMA: /usr/bin/extra (sha256:") || has(r.stdout, "- IMA: /usr/bin/true") {
		t.Errorf("verify of the later capture:\n%s", r.stdout)
	}

	// Evidence without an IMA log gives no allowlist; nor does standard output.
	plain := m.capture(t, dir, "plain.json")
	r = mustRun(t, cli.ExitUsage, append([]string{"reference", "--name", "x", "-o", "-", "--ima-allowlist", allow, path, plain}, m.caFlags()...)...)
	if !strings.Contains(r.stderr, plain+" has no IMA log") {
		t.Errorf("without an IMA log:\n%s", r.stderr)
	}
	mustRun(t, cli.ExitUsage, "reference", "--name", "x", "-o", "-", "--ima-allowlist", "-", path)
}
