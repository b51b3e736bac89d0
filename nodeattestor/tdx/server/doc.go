// Package server is the server side of the Intel TDX node attestor: it
// sends a fresh nonce, verifies the quote with pkg/tdxquote, the binding of
// nonce, trust domain and agent key in REPORT_DATA and the key's proof of
// possession, evaluates the named policies and names the agent by its key.
package server
