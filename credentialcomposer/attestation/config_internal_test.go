package attestation

import (
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

func TestConfig(t *testing.T) {
	c, err := buildConfig(`server_socket_path = "/run/spire/server/api.sock"
refresh_interval = "2s"
max_age = "10s"
cache_size = 5
timeout = "1s"
agent_ttl = "2m"
fail_open = true`)
	if err != nil {
		t.Fatal(err)
	}
	if c.socket != "/run/spire/server/api.sock" || c.refreshInterval != 2*time.Second || c.maxAge != 10*time.Second || c.cacheSize != 5 || c.timeout != time.Second || c.agentTTL != 2*time.Minute || !c.failOpen {
		t.Fatalf("config %+v", c)
	}
	d, err := buildConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if d.socket != DefaultServerSocket || d.failOpen || d.maxAge != DefaultMaxAge {
		t.Fatalf("defaults %+v", d)
	}
	for _, tc := range []struct{ hcl, want string }{
		{`server_socket_path = "api.sock"
refresh_interval = "x"
cache_size = -1
fail_closed = true`, "unknown configuration key \"fail_closed\"\nserver_socket_path \"api.sock\": must be an absolute path\nrefresh_interval \"x\": not a duration (like \"5s\")\ncache_size -1: must be positive"},
		{`refresh_interval = "1m"`, "max_age 30s: must be at least refresh_interval 1m0s"},
		{`agent_ttl = "-1h"`, "agent_ttl \"-1h\": must be positive"},
	} {
		_, err := buildConfig(tc.hcl)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n%v\nwant\n%s", tc.hcl, err, tc.want)
		}
	}
}

// FuzzConfig: the composer's configuration builder on arbitrary HCL.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, buildConfig,
		`server_socket_path = "/tmp/spire-server/private/api.sock"
refresh_interval = "5s"
max_age = "30s"
cache_size = 10000
timeout = "5s"
agent_ttl = "1h"
fail_open = false`,
		`refresh_interval = "forever"
cache_size = -3`,
	)
}
