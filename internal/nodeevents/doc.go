// Package nodeevents tells other systems when a node's attestation state
// changes: the server-side node attestors (tpm, sev_snp, tdx) publish an
// event when a node is attested, refused, gains or loses a policy, and this
// package delivers each as a CloudEvents 1.0 JSON document (structured mode,
// application/cloudevents+json) POSTed to the operator's webhooks. A
// Kubernetes controller such as `hwattest isolate` taints the node of a
// refused or drifted agent from them.
//
// Delivery never slows an attestation: each webhook has a bounded queue and
// one sender; a full queue drops the event (counted and logged), a failed
// POST is retried with backoff a bounded number of times. Events are hints
// that arrive fast: a consumer that must be right reads SPIRE's agent list
// as well (a dropped or reordered event, or a server restart, loses what
// was pending).
//
// The envelope is github.com/cloudevents/sdk-go's event type (its JSON
// encoding and validation); the transport is net/http, written here because
// the bounded queue, drop-when-full and stop-on-reconfigure behaviour is
// what the attestors need and the SDK's client does not offer it.
package nodeevents
