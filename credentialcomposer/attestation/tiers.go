package attestation

import (
	"strings"

	"github.com/veraison/ear"

	"github.com/hwattest/hwattest/pkg/claims"
)

// tierRule: a selector whose "type:value" starts with prefix sets component
// of the submod's trustworthiness vector to claim (the highest claim wins
// when several rules set one component; all of them are affirming tier).
// This table is the one place that maps selectors to AR4SI; the docs page
// (docs/credentialcomposer-attestation.md, "Trustworthiness vector") shows
// it, and a test keeps the two equal.
type tierRule struct {
	submod    string
	prefix    string
	component string
	claim     ear.TrustClaim
	why       string
}

// AR4SI component names, as ear.TrustVector's JSON names them.
const (
	compInstance = "instance-identity"
	compConfig   = "configuration"
	compExec     = "executables"
	compFiles    = "file-system"
	compHardware = "hardware"
)

var tierTable = []tierRule{
	{claims.SubmodNode, "tpm:", compInstance, ear.TrustworthyInstanceClaim,
		"any selector of the tpm node attestor: its EK was accepted and its AK proven to be in that TPM (credential activation)"},
	{claims.SubmodNode, "tpm:ek_issuer:", compHardware, ear.GenuineHardwareClaim,
		"the EK certificate chained to a trusted TPM vendor CA"},
	{claims.SubmodNode, "tpm:manufacturer:", compHardware, ear.GenuineHardwareClaim,
		"the manufacturer of a verified EK certificate"},
	{claims.SubmodNode, "tpm:policy:", compConfig, ear.ApprovedConfigClaim,
		"the node satisfied a named policy (reference values) at its attestation"},
	{claims.SubmodNode, "tpm:pcr:", compConfig, ear.ApprovedConfigClaim,
		"a quoted PCR value equal to the one required"},
	{claims.SubmodNode, "tpm:secureboot:enabled", compExec, ear.ApprovedBootClaim,
		"the verified boot log shows UEFI secure boot on"},
	{claims.SubmodNode, "tpm:boot:", compExec, ear.ApprovedBootClaim,
		"a measured boot component equal to the one required"},
	{claims.SubmodWorkload, "container:image_digest:", compExec, ear.ApprovedRuntimeClaim,
		"the container's image by repository digest"},
	{claims.SubmodWorkload, "container:image_digest:", compFiles, ear.ApprovedFilesClaim,
		"the image digest pins every layer of the container's file system"},
	{claims.SubmodWorkload, "container:image_id:", compExec, ear.ApprovedRuntimeClaim,
		"the container's image by configuration digest"},
	{claims.SubmodWorkload, "container:image_id:", compFiles, ear.ApprovedFilesClaim,
		"the image configuration digest pins every layer"},
	{claims.SubmodWorkload, "exe:sha256:", compExec, ear.ApprovedRuntimeClaim,
		"the SHA-256 of the process's executable"},
}

// appraise builds a submod's appraisal from the selectors SPIRE required:
// the components the table sets, status affirming when it set any, none
// when it set none (the selectors say nothing AR4SI names, such as
// unix:uid:0 alone).
func appraise(submod string, selectors []string) *claims.Appraisal {
	a := &claims.Appraisal{Status: ear.TrustTierNone, Selectors: selectors}
	set := false
	for _, r := range tierTable {
		if r.submod != submod {
			continue
		}
		for _, s := range selectors {
			if strings.HasPrefix(s, r.prefix) {
				setComponent(&a.TrustVector, r.component, r.claim)
				set = true
				break
			}
		}
	}
	if set {
		a.Status = ear.TrustTierAffirming
	}
	return a
}

func setComponent(tv *ear.TrustVector, component string, c ear.TrustClaim) {
	var dst *ear.TrustClaim
	switch component {
	case compInstance:
		dst = &tv.InstanceIdentity
	case compConfig:
		dst = &tv.Configuration
	case compExec:
		dst = &tv.Executables
	case compFiles:
		dst = &tv.FileSystem
	case compHardware:
		dst = &tv.Hardware
	default:
		panic("attestation: unknown AR4SI component " + component)
	}
	if c > *dst {
		*dst = c
	}
}
