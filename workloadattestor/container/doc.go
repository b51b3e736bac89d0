// Package container is the SPIRE agent workload attestor "container": it
// tells which container image a process runs, as the container runtime
// that runs it knows it.
//
// For a PID it finds the container ID the process's cgroup names (package
// cgroups), asks the configured runtimes about that container through
// their own APIs (containerd's gRPC API in every namespace, the Docker
// Engine API of Docker or podman), confirms that the process is in that
// container (below) and returns
//
//	container_id:<id>           the container ID (64 hex digits)
//	runtime:<name>              the configured runtime that knows it
//	image:<reference>           the image reference the container was
//	                            created with, as the runtime records it
//	image_id:sha256:<hex>       the image ID (the digest of its
//	                            configuration, for containerd and podman)
//	image_digest:sha256:<hex>   a repository digest of the image: the
//	                            digest of the manifest (or index) it was
//	                            pulled or pushed by, also when the container
//	                            was started by tag; one selector per digest
//	pod_uid:<uid>               the Kubernetes pod UID, when the cgroup
//	                            shows one
//
// With provenance policies configured (package provenance), each
// repository digest's sigstore bundles are verified and add
//
//	provenance:<policy>         a policy some bundle satisfied
//	provenance_<fact>:<value>   the verified signer, predicate and SLSA
//	                            builder of those bundles
//	provenance_status:unavailable  the registry could not be asked in time
//
// A process in no container gets no selectors (not this attestor's
// workload). A tag never pins an identity: when no digest can be resolved
// (an image built locally and never pushed or pulled, an image removed
// since, a tag moved to other content since the container was created)
// there is no image_digest selector, and the reason is logged.
//
// # Confirmation
//
// A container ID in a cgroup path or a mount root is a name the workload
// may have chosen (a cgroup made under a privileged container's own, or in
// a systemd user session's delegated subtree; a bind mount in a user
// namespace of its own). The runtime that knows the container reports its
// first process (containerd's task PID, Docker's and podman's State.Pid);
// the workload must be in that process's PID namespace and container
// cgroup (or, when mounts named the container, its mount namespace), or
// the request fails with PermissionDenied (cgroups.Confirm). The innermost
// container a cgroup path names is the claim; an inner container no
// runtime knows is NotFound, with no fall-back to the outer one.
//
// # Caching
//
// Answers are cached by container ID in a bounded LRU, for at most the
// configured TTL, with the container's process as read when they were
// fetched. Every request is confirmed against that process, and an entry
// is used only while that process runs (same PID and start time), so a
// container that was deleted and recreated under the same ID is looked up
// again. A runtime that says the container is gone drops it.
//
// # Errors
//
// A container no configured runtime knows is NotFound; a runtime that does
// not answer is Unavailable; both name the runtimes and the container ID,
// so that SPIRE issues nothing for the process. A process not confirmed in
// the container it names is PermissionDenied. A process that exited is
// NotFound; a process whose cgroups and mounts cannot be read or agree on
// no single container is FailedPrecondition.
package container
