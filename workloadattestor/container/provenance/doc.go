// Package provenance verifies where a container image came from: sigstore
// bundles (signatures, in-toto attestations such as SLSA provenance)
// attached to the image's digest, checked with sigstore-go against
// operator-supplied trusted_root.json files and named policies
// (`provenance "<name>" { ... }`), and turned into selectors of the
// container workload attestor.
//
// Discovery (Registry, Dir): the OCI 1.1 referrers of the digest in the
// repository the image came from (or the sha256-<hex> referrers tag when
// the registry has no referrers API), every OCI manifest among them
// whatever its artifactType, and among its layers those whose media type
// is a sigstore bundle's; and an operator's bundle directory for hosts
// without a registry. Everything read is size-capped (MaxReferrers,
// MaxManifestSize, MaxBundleSize, MaxBundles) and digest-checked.
//
// Verification (Verify): sigstore-go's verifier, offline (no TUF, no Rekor
// lookups: log inclusion is proven by the bundle's own entries), with the
// policy's thresholds, for the image digest as the signed artifact; then
// the policy's certificate identity, predicate types and SLSA builder IDs.
// A bundle that fails says why; it never fails the image's other bundles.
//
// Caching (Checker): results by (repository, digest) in a bounded LRU with
// a TTL, a shorter one for a registry that could not be asked, one lookup
// per image at a time. A Checker belongs to one configuration (its
// policies and trusted roots), so the cache key implicitly includes them.
//
// Fail closed: a registry that does not answer within the time budget
// makes the result Unavailable: selectors proven by the bundle directory
// are kept, provenance_status:unavailable is added, and nothing is
// concluded from the registry, so an entry that needs a policy only the
// registry's bundles satisfy matches nothing.
package provenance
