// Command noopcomposer is a test-only SPIRE credential composer that
// returns every workload SVID's attributes unchanged: the baseline of the
// attestation composer's throughput benchmark (claims_bench_test.go), the
// cost SPIRE pays for any external composer (the go-plugin round trip and
// SPIRE's conversion of the certificate template to attributes and back).
package main

import (
	"context"

	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	credentialcomposerv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/credentialcomposer/v1"
)

type plugin struct {
	credentialcomposerv1.UnimplementedCredentialComposerServer
}

func (plugin) ComposeWorkloadX509SVID(_ context.Context, req *credentialcomposerv1.ComposeWorkloadX509SVIDRequest) (*credentialcomposerv1.ComposeWorkloadX509SVIDResponse, error) {
	return &credentialcomposerv1.ComposeWorkloadX509SVIDResponse{Attributes: req.GetAttributes()}, nil
}

func (plugin) ComposeWorkloadJWTSVID(_ context.Context, req *credentialcomposerv1.ComposeWorkloadJWTSVIDRequest) (*credentialcomposerv1.ComposeWorkloadJWTSVIDResponse, error) {
	return &credentialcomposerv1.ComposeWorkloadJWTSVIDResponse{Attributes: req.GetAttributes()}, nil
}

func main() {
	pluginmain.Serve(credentialcomposerv1.CredentialComposerPluginServer(plugin{}))
}
