package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/pluginmetrics/metricstest"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server"
)

// serveServer serves the server plugin configured with hcl, logging to logs
// and reporting metrics to fm.
func serveServer(t *testing.T, hcl string, logs *logbuf.Buffer, fm *metricstest.Fake) *serverv1.NodeAttestorPluginClient {
	t.Helper()
	sc, scfg := new(serverv1.NodeAttestorPluginClient), new(configv1.ConfigServiceClient)
	sp := server.New()
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:       serverv1.NodeAttestorPluginServer(sp),
		PluginClient:       sc,
		ServiceServers:     []pluginsdk.ServiceServer{configv1.ConfigServiceServer(sp)},
		ServiceClients:     []pluginsdk.ServiceClient{scfg},
		HostServiceServers: []pluginsdk.ServiceServer{metricsv1.MetricsServiceServer(fm)},
		Logger:             hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: logs}),
	})
	if _, err := scfg.Configure(context.Background(), &configv1.ConfigureRequest{CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td}, HclConfiguration: hcl}); err != nil {
		t.Fatal(err)
	}
	return sc
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

// logWait bounds the wait for a plugin's log line (logbuf.Buffer.Contains).
const logWait = 5 * time.Second

// TestConfigFilesReload: policy files and EK CA files take effect at the
// next attestation after an edit, without Configure (SPIRE reconfigures a
// plugin only when its plugin_data_file changed). A broken edit is refused,
// logged and counted once, and the previous version stays in force.
func TestConfigFilesReload(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	copyFile(t, sw.RootCAPath, filepath.Join(caDir, "root.pem"))
	copyFile(t, sw.IssuerCAPath, filepath.Join(caDir, "issuer.pem"))
	policyFile := filepath.Join(dir, "policies", "pcr7.hcl")
	zero, other := strings.Repeat("0", 64), strings.Repeat("1", 64)
	pcr7 := func(required bool, value string) string {
		return fmt.Sprintf("policy \"pcr7\" {\n  required = %v\n  pcrs     = [\"sha256:7:%s\"]\n}\n", required, value)
	}
	writeFile(t, policyFile, pcr7(false, zero))
	var logs logbuf.Buffer
	fm := &metricstest.Fake{}
	sc := serveServer(t, fmt.Sprintf("ek_ca_paths = [%q]\npolicy_paths = [%q]", caDir, filepath.Dir(policyFile)), &logs, fm)
	_, ac := servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q]", caDir), fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr))
	hasPolicy := func(step string, want bool) {
		t.Helper()
		attrs, err := attest(t, sc, ac)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got := slices.Contains(attrs.SelectorValues, "policy:pcr7"); got != want {
			t.Fatalf("%s: policy:pcr7 selector %v, want %v", step, got, want)
		}
	}
	hasPolicy("initial", true)
	if !logs.Contains(`Configured: ek_ca_certificates=2`, logWait) || !logs.Contains(`policies=["pcr7"]`, logWait) {
		t.Errorf("Configure's log line lacks what it loaded:\n%s", logs.String())
	}

	// A new reference value: the node now fails the report-only policy.
	writeFile(t, policyFile, pcr7(false, other))
	hasPolicy("edited policy", false)
	if !logs.Contains(`Policy files reloaded: policies=["pcr7"]`, logWait) {
		t.Errorf("no reload line:\n%s", logs.String())
	}
	if !logs.Contains(`policies_failed=["policy \"pcr7\": sha256 PCR 7 is `, logWait) {
		t.Errorf("the success line does not name the failed report-only policy:\n%s", logs.String())
	}

	// A broken edit: refused, logged and counted once; the edited policy
	// stays in force.
	writeFile(t, policyFile, strings.Replace(pcr7(true, zero), "required", "requird", 1))
	hasPolicy("broken policy", false)
	hasPolicy("broken policy, again", false)
	if got := fm.Count("tpm.reload source=policy_paths outcome=failed"); got != 1 {
		t.Errorf("failed policy reloads counted %d times, want 1", got)
	}
	if want := `Policy files not reloaded; the previous policies stay: error="policy_paths: ` + policyFile + `: unknown configuration key \"policy.pcr7.requird\"`; !logs.Contains(want, logWait) || strings.Count(logs.String(), want) != 1 {
		t.Errorf("log lacks (once) %q:\n%s", want, logs.String())
	}

	// Fixed and required: the node is refused by the new version.
	writeFile(t, policyFile, pcr7(true, other))
	if _, err := attest(t, sc, ac); err == nil || !strings.Contains(err.Error(), `policy "pcr7"`) {
		t.Fatalf("required policy: err = %v", err)
	}
	writeFile(t, policyFile, pcr7(false, zero))
	hasPolicy("back to the first version", true)

	// EK CA files: a broken certificate file is refused and the CAs stay;
	// removing the issuer then refuses the node's EK chain.
	writeFile(t, filepath.Join(caDir, "broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	hasPolicy("broken CA file", true)
	if got := fm.Count("tpm.reload source=ek_ca_paths outcome=failed"); got != 1 {
		t.Errorf("failed CA reloads counted %d times, want 1", got)
	}
	if !logs.Contains("EK CA files not reloaded; the previous CAs stay", logWait) {
		t.Errorf("no CA reload error:\n%s", logs.String())
	}
	for _, f := range []string{"broken.pem", "issuer.pem"} {
		if err := os.Remove(filepath.Join(caDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := attest(t, sc, ac); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("EK chain without its issuer: err = %v", err)
	}
	if !logs.Contains("EK CA files reloaded: ek_ca_certificates=1", logWait) {
		t.Errorf("no CA reload line:\n%s", logs.String())
	}
	if !regexp.MustCompile(`TPM attestation refused: duration=\S+ ek_hash=[0-9a-f]{64} reason=ek_untrusted`).MatchString(logs.String()) {
		t.Errorf("the refusal line lacks ek_hash:\n%s", logs.String())
	}
}

// TestDeniedLineHasEKHash: the log line of an EK refused by the deny list
// carries its ek_hash, as every refusal line does.
func TestDeniedLineHasEKHash(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	cas := fmt.Sprintf("ek_ca_paths = [%q, %q]", sw.RootCAPath, sw.IssuerCAPath)
	agentHCL := fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr)
	sc, ac := servePlugins(t, cas, agentHCL)
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	hash := attrs.SpiffeId[strings.LastIndex(attrs.SpiffeId, "/")+1:]
	var logs logbuf.Buffer
	sc = serveServer(t, cas+fmt.Sprintf("\ndeny_ek_hashes = [%q]", hash), &logs, &metricstest.Fake{})
	if _, err := attest(t, sc, ac); err == nil {
		t.Fatal("a denied EK attested")
	}
	if want := "TPM attestation refused: duration="; !logs.Contains(want, logWait) ||
		!regexp.MustCompile(`TPM attestation refused: duration=\S+ ek_hash=`+hash+` reason=ek_denied`).MatchString(logs.String()) {
		t.Errorf("the deny-list line lacks ek_hash:\n%s", logs.String())
	}
}
