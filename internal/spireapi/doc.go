// Package spireapi connects to a SPIRE server's API, for the parts of
// hwattest that read agents and registration entries: the compliance report
// (internal/report), the attestation credential composer and hwattest
// isolate. Dial uses the server's local socket (socket_path); DialTLS its
// TCP port with an admin X509-SVID (the server's admin_ids).
package spireapi
