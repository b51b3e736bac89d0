package provenance

// Selector prefixes (without the plugin name). Values come only from
// bundles that satisfied at least one policy: a field of a bundle that no
// policy's trusted root and identity verified is not believed.
const (
	// SelectorPolicy: a policy some bundle of the image satisfied.
	SelectorPolicy = "provenance:"
	// SelectorIssuer: the OIDC issuer of a verified signing certificate.
	SelectorIssuer = "provenance_issuer:"
	// SelectorSAN: the subject alternative name of a verified signing
	// certificate (a workflow URI, an email address).
	SelectorSAN = "provenance_san:"
	// SelectorSourceRepository: the Fulcio source repository URI
	// extension.
	SelectorSourceRepository = "provenance_source_repository:"
	// SelectorSourceRef: the Fulcio source repository ref extension.
	SelectorSourceRef = "provenance_source_ref:"
	// SelectorSourceDigest: the Fulcio source repository digest (commit)
	// extension.
	SelectorSourceDigest = "provenance_source_digest:"
	// SelectorBuildSigner: the Fulcio build signer URI extension (the
	// reusable workflow that signed).
	SelectorBuildSigner = "provenance_build_signer:"
	// SelectorPredicateType: the in-toto predicate type of a verified
	// statement.
	SelectorPredicateType = "provenance_predicate_type:"
	// SelectorBuilderID: the SLSA provenance builder ID.
	SelectorBuilderID = "provenance_builder_id:"
	// SelectorBuildType: the SLSA provenance build type.
	SelectorBuildType = "provenance_build_type:"
	// SelectorStatus: provenance_status:unavailable when the registry
	// could not be asked within the time budget.
	SelectorStatus = "provenance_status:"
	// StatusUnavailable is SelectorStatus's value when the registry could
	// not be asked.
	StatusUnavailable = "unavailable"
)
