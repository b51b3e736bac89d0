// Package claims reads and writes the attestation results that hwattest puts
// into SPIFFE SVIDs, so that a relying party can require them at the mTLS
// handshake (or on a JWT-SVID) in one line of Go.
//
// # Format
//
// An SVID carries one IETF RATS Conceptual Message Wrapper (CMW,
// draft-ietf-rats-msg-wrap) record: in an X509-SVID as the non-critical
// extension id-pe-cmw (OID, 1.3.6.1.5.5.7.1.35, the CMW in its JSON form as a
// UTF8String), in a JWT-SVID as the "cmw" claim (JWTClaim). The record's
// media type is MediaType, an unsigned EAT claims set in JSON
// (application/eat-ucs+json, RFC 9782) with the EAT profile Profile, and its
// value is an EAT Attestation Result (EAR, draft-ietf-rats-ear) as
// github.com/veraison/ear v1.1.3 writes it. The SVID's signature protects
// it; the EAR is not signed on its own.
//
// The EAR has two submods: SubmodNode (the SPIRE agent's host, from node
// attestation) and SubmodWorkload (absent from an agent's own SVID). Each
// has a status, an AR4SI trustworthiness vector (which selector sets which
// component is one table, in docs/credentialcomposer-attestation.md), and as
// annotated evidence the selectors SPIRE required before it issued the SVID;
// the node submod also names the agent and when it attested, when the
// registration entries name one agent.
//
// # API
//
// Relying parties decode with FromCertificate, FromX509SVID, FromJWTClaims
// or FromJWTSVID. Missing claims (ErrNoClaims), a malformed CMW or EAR, an
// unknown media type or EAT profile, or input larger than MaxSize are
// errors that say which; they never read as "no requirement".
//
// Requirements (RequireStatus, RequireImageDigest, RequireNodePolicy,
// RequireSecureBoot, RequireProvenance, RequireSelector,
// RequireIssuedWithin, RequireNodeAttestedWithin) are checked by Check, by
// Authorize, which wraps a go-spiffe tlsconfig.Authorizer:
//
//	tlsconfig.MTLSServerConfig(source, source, claims.Authorize(
//		tlsconfig.AuthorizeID(clientID),
//		claims.RequireImageDigest("sha256:..."),
//		claims.RequireNodePolicy("level3"),
//		claims.RequireNodeAttestedWithin(10*time.Minute)))
//
// and by Middleware, for JWT-SVIDs on net/http.
//
// The SPIRE credential composer (package
// github.com/hwattest/hwattest/credentialcomposer/attestation) writes them
// with Claims.X509Extension and Claims.JWTClaimValue.
//
// What the claims mean: the properties SPIRE required (through the
// registration entries and their parents) before it issued the SVID, as the
// SPIRE server recorded them. They are as sound as the attestors that
// produced the selectors (docs/threat-model.md), and as fresh as IssuedAt
// and the node's AttestedAt say.
package claims
