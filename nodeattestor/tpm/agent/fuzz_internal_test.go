package agent

import (
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the agent plugin's configuration builder on arbitrary HCL.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, buildConfig,
		`tpm = "/dev/tpmrm0"`,
		`tpm = "swtpm://127.0.0.1:2321"
ek_algorithm = "ecc"
ak_algorithm = "dsa"
ak_path = "/var/lib/spire/agent/tpm-ak"
event_log_path = "-"
ima_log_path = "/sys/kernel/security/ima/binary_runtime_measurements"
pcr_banks = ["sha256", "sha1", "md5"]`,
	)
}
