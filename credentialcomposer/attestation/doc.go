// Package attestation is the SPIRE server credential composer that puts
// attestation results into every SVID: an X509-SVID gets the id-pe-cmw
// extension, a JWT-SVID the "cmw" claim, each a RATS CMW carrying an EAR
// (package github.com/hwattest/hwattest/pkg/claims has the format and the
// relying party's side).
//
// SPIRE gives a composer only the SPIFFE ID. The plugin reads, through the
// SPIRE server API on the server's local socket, the registration entries of
// that ID and their parents (the agent's stored selectors, or the node alias
// entries' selectors): what SPIRE required before it issued. Several entries
// for one ID give only what all of them require. Answers are cached by
// SPIFFE ID (bounded, least recently used dropped), refreshed in the
// background every refresh_interval, and not used past max_age; a miss
// fetches. The plugin keeps no other state, so several servers on one
// datastore compose alike.
//
// When the API does not answer, the SVID is refused (Unavailable), unless
// fail_open is set: then it is issued without claims. Both are logged and
// counted. See docs/credentialcomposer-attestation.md.
package attestation
