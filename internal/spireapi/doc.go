// Package spireapi connects to a SPIRE server's API on its local socket
// (the server's socket_path), for the parts of hwattest that read agents and
// registration entries: the compliance report (internal/report) and the
// attestation credential composer.
package spireapi
