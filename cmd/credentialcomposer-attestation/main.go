// Command credentialcomposer-attestation is the SPIRE server credential
// composer plugin that puts attestation results (a RATS CMW carrying an
// EAR) into every SVID. See docs/credentialcomposer-attestation.md and
// package github.com/hwattest/hwattest/credentialcomposer/attestation.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	credentialcomposerv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/credentialcomposer/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/credentialcomposer/attestation"
)

func main() {
	p := attestation.New()
	pluginmain.Serve(credentialcomposerv1.CredentialComposerPluginServer(p), configv1.ConfigServiceServer(p))
}
