package container_test

import (
	"strings"
	"testing"

	"github.com/hwattest/hwattest/workloadattestor/container"
)

// FuzzDockerJSON feeds the Docker Engine API response readers: whatever a
// daemon answers, they return an error or digests that are well formed.
func FuzzDockerJSON(f *testing.F) {
	f.Add([]byte(readTestdata(f, "podman-4.3.1-container.json")), []byte(readTestdata(f, "podman-4.3.1-image.json")))
	f.Add([]byte(`{"Id":"`+podmanContainerID+`","Image":"`+podmanImageID+`"}`), []byte(`{"Id":"`+podmanImageID+`","RepoDigests":["a@`+digest1+`","b@sha256:x"]}`))
	f.Add([]byte(`{"Id":"`+podmanContainerID+`","Image":null,"Config":null}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, containerBody, imageBody []byte) {
		info, err := container.ParseDockerContainer(containerBody, podmanContainerID)
		if err != nil {
			return
		}
		if info.ImageID != "" && !isDigest(info.ImageID) {
			t.Fatalf("image ID %q", info.ImageID)
		}
		if info.ImageID == "" {
			return
		}
		digests, unresolved, err := container.ParseDockerImage(imageBody, info.ImageID)
		if err != nil {
			return
		}
		if len(digests) == 0 && unresolved == "" {
			t.Fatal("no digest and no reason")
		}
		for _, d := range digests {
			if !isDigest(d) {
				t.Fatalf("digest %q", d)
			}
		}
	})
}

func isDigest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	return ok && len(h) == 64 && strings.Trim(h, "0123456789abcdef") == ""
}

// FuzzParseStartTime feeds the /proc/PID/stat reader.
func FuzzParseStartTime(f *testing.F) {
	f.Add([]byte("1234 (sleep) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 100 18446744073709551615\n"))
	f.Add([]byte("7 (a) b) c) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42\n"))
	f.Add([]byte("9 (x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = container.ParseStartTime(b)
	})
}
