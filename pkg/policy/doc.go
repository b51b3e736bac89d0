// Package policy evaluates named rule sets over verified TPM attestation
// results (pkg/tpmquote): secure boot, reference PCR values, allowed boot
// components and an IMA allowlist. The server-side node attestor evaluates
// every policy on every attestation: a node that fails a required policy is
// refused; each satisfied policy becomes a "policy:<name>" selector.
//
// Policies are written as HCL `policy "<name>" { ... }` blocks (Config),
// inline in the plugin configuration or in policy files (Parse, LoadFiles),
// and compiled into a Policy (Config.Compile). A block may instead name a
// Rego module (rego_path, query): Compile prepares it with OPA once, and
// Evaluate runs it over RegoInput within RegoTimeout, failing closed on an
// error, a timeout, a non-true decision or any deny reason (rego.go; built
// with -tags hwattest_norego, OPA is left out and rego_path refused).
package policy
