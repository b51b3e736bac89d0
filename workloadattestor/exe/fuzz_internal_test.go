package exe

import (
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the exe plugin's configuration builder on arbitrary HCL.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, buildConfig,
		`max_hash_size = 1073741824
hash_cache_size = 4096`,
		`ima_log_path = "/sys/kernel/security/ima/binary_runtime_measurements"
tpm = "/dev/tpmrm0"
quote_interval = "30s"
max_hash_size = -1
hash_cache_size = 0`,
	)
}
