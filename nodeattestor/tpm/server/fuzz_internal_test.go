package server

import (
	"strings"
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the server plugin's configuration builder on arbitrary HCL.
// The seed corpus is below (the shapes of docs/nodeattestor-tpm.md) and
// testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	h := strings.Repeat("ab", 32)
	hclconftest.Fuzz(f, func(text string) (*config, error) { return buildConfig(text, "example.org") },
		`bundled_ek_cas = true`,
		`bundled_ek_cas = true
require = "either"
ek_hash_paths = ["/nonexistent/ek-hashes"]
deny_ek_hashes = ["`+h+`", "xyz"]
ek_algorithms = ["rsa", "ecc", "dsa"]
deny_ek_certificates = ["CN=EK CA,O=Vendor/0a:1B", "nope", "CN=x/-1"]
pcrs = { sha256 = [0, 1, 7], sha1 = [0] }
expose_pcrs = { sha256 = [7, 11] }
expose_boot_components = [2, 4, 9]
allow_sha1_boot = true
policy "level1" { required = true }
policy "level2" {
  secure_boot = true
  ek_certificate = true
  pcrs = ["sha256:7:`+h+`", "sha1:0:00"]
  boot_components = ["`+h+`"]
  ima_allowlist = ["g"]
  unknown = 1
}
policy "level2" {}`,
		`require = "both"
policy_paths = ["/nonexistent/policies"]`,
	)
}
