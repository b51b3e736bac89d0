// Package containertest gives tests their own container images, registry and
// runtimes, all private to the test and on loopback only:
//
//   - Build makes an OCI image offline with go-containerregistry from files
//     (a static binary as entrypoint), for the host's OS and architecture.
//   - StartRegistry serves an in-memory registry on 127.0.0.1 (plain HTTP),
//     so that runtimes pull images by tag and record the manifest digest as
//     they do from any registry.
//   - StartContainerd runs containerd with its root, state and socket in a
//     temporary directory (the CRI plugin off); Ctr and Run drive it with ctr,
//     containers run under runc.
//   - StartPodman gives podman invocations their own storage and runtime
//     directories (cgroupfs manager, file events, overlay storage), and
//     Service runs its Docker-compatible API on a unix socket.
//
// Everything a test starts is stopped at its cleanup: containers are killed
// and deleted before their runtime stops, and logs are printed when the test
// failed.
//
// # Requirements
//
// containerd, ctr and runc (`apt-get install -y containerd runc`), podman
// (`apt-get install -y podman`), and root. A test whose requirement is
// missing is skipped, except when the environment variable CI is "true":
// then it fails, so that a CI machine without them never passes by
// skipping.
package containertest
