// Package provenancetest is TEST-ONLY: a test Sigstore (sigstore-go's
// VirtualSigstore Rekor log and timestamp authority, with a Fulcio CA of
// its own so that signing certificates carry GitHub-style Fulcio
// extensions) that writes sigstore bundles and trusted_root.json files,
// and helpers that push images and attach bundles as OCI referrers to a
// registry. Nothing here is trusted by product code: its keys are made at
// run time and thrown away.
package provenancetest
