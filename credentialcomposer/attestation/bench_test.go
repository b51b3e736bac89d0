package attestation_test

import (
	"context"
	"testing"
	"time"

	credentialcomposerv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/credentialcomposer/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/credentialcomposer/attestation"
)

// BenchmarkComposeInProcess: one workload X509-SVID composition, cache warm,
// called directly (no go-plugin boundary).
func BenchmarkComposeInProcess(b *testing.B) {
	p := attestation.NewForTest(newAPI(), time.Now)
	if _, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: `refresh_interval = "1h"
max_age = "1h"`}); err != nil {
		b.Fatal(err)
	}
	req := &credentialcomposerv1.ComposeWorkloadX509SVIDRequest{SpiffeId: "spiffe://example.org/db", Attributes: &credentialcomposerv1.X509SVIDAttributes{}}
	for b.Loop() {
		req.Attributes.ExtraExtensions = nil
		if _, err := p.ComposeWorkloadX509SVID(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
