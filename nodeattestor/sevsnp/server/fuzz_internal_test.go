package server

import (
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the server plugin's configuration builder on arbitrary HCL.
// Seeds: below (the shapes of docs/nodeattestor-sev-snp.md) and
// testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, func(text string) (*config, error) { return buildConfig(text, "example.org") },
		`allow_kds = false`,
		`amd_cert_chains = { Milan = "/nonexistent/milan.pem", Rome = "x" }
policy "confidential" {
  required = true
  measurements = ["00", "zz"]
  allow_debug = false
  allow_migration_agent = true
  forbid_smt = true
  minimum_tcb = { bootloader = 3, tee = 0, snp = 8, microcode = 115, fmc = 1 }
  minimum_guest_svn = -1
  host_data = ["`+"ab"+`"]
  id_key_digests = []
  author_key_digests = ["x"]
  vmpls = [0, 4]
  products = ["Milan", "Rome"]
  signers = ["vcek", "ark"]
}`,
	)
}
