package server_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/tpmtest"
)

// TestAzureShapedChain: Azure's vTPM root cannot ship here (no licence), so
// an operator adds it and its intermediate with ek_ca_paths
// (docs/nodeattestor-tpm.md, "Cloud vTPMs"). A generated chain of the same
// shape (a root, a "Global Virtual TPM CA" intermediate under it, EK leaves
// with the TCG subject alternative name and Microsoft's manufacturer ID)
// attests with the root and the intermediate given, and is refused with
// only the root: the agent sends its EK certificate alone, not the chain.
func TestAzureShapedChain(t *testing.T) {
	root := tpmtest.NewCA(t, "Azure Virtual TPM Root Certificate Authority 2023 (test)")
	inter := root.Intermediate(t, "Global Virtual TPM CA - 03 (test)")
	sim := tpmtest.Simulator(t)
	tpmtest.CertifyEKs(t, sim, inter, "id:4D534654", "MSFT vTPM", "id:00020016")
	addr := tpmtest.ServeSimulator(t, sim)
	agentHCL := fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", addr)

	sc, ac := servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q, %q]", root.WritePEM(t), inter.WritePEM(t)), agentHCL)
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(attrs.SelectorValues, " ")
	for _, want := range []string{"ek_issuer:CN=Global Virtual TPM CA - 03 (test),O=hwattest test", "manufacturer:id:4D534654", "model:MSFT vTPM"} {
		if !strings.Contains(got, want) {
			t.Errorf("selectors %q lack %s", got, want)
		}
	}

	sc, ac = servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q]", root.WritePEM(t)), agentHCL)
	_, err = attest(t, sc, ac)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "certificate signed by unknown authority") {
		t.Errorf("root without the intermediate: %v", err)
	}
}
