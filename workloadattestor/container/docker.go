package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// This is a minimal Docker Engine API client over net/http rather than
// github.com/docker/docker/client (or github.com/moby/moby/client): the
// plugin needs two GET requests and six fields, and the official client
// brings in the Docker daemon's module graph (API types, distribution,
// OpenTelemetry, ...), tens of MiB of dependencies for an agent plugin
// binary, while the Engine API's container and image inspect endpoints are
// stable across every Docker and podman version. Responses are size-limited
// and only the fields below are read.

// Limits on Docker Engine API responses.
const (
	// MaxInspectSize bounds a container or image inspect response. A
	// container with a few hundred environment variables, mounts and
	// labels is tens of KiB; an image with a long history a few hundred.
	MaxInspectSize = 4 << 20
	// maxErrorMessage bounds the daemon's error message quoted in errors.
	maxErrorMessage = 512
)

// docker is a Docker Engine API endpoint (Docker, or podman's compatible
// service) on a unix socket.
type docker struct {
	client *http.Client
	base   string
}

func newDocker(socket string) *docker {
	d := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	// The host name is not used (the socket is); paths carry no API
	// version, so the daemon's current one answers: the fields read here
	// are the same in every version, and Docker 29 refuses versions
	// below 1.44.
	return &docker{client: &http.Client{Transport: tr}, base: "http://docker"}
}

func (d *docker) Close() error {
	d.client.CloseIdleConnections()
	return nil
}

// dockerContainer is the part of GET /containers/{id}/json the plugin
// reads.
type dockerContainer struct {
	ID     string `json:"Id"`
	Image  string `json:"Image"` // the image ID
	Config *struct {
		Image string `json:"Image"` // the reference as started
	} `json:"Config"`
	State *struct {
		Running bool `json:"Running"`
		Pid     int  `json:"Pid"` // the container's first process, host PID
	} `json:"State"`
}

// dockerImage is the part of GET /images/{id}/json the plugin reads.
type dockerImage struct {
	ID          string   `json:"Id"`
	RepoDigests []string `json:"RepoDigests"`
}

// Inspect implements runtime.
func (d *docker) Inspect(ctx context.Context, id string) (containerInfo, error) {
	body, err := d.get(ctx, "/containers/"+url.PathEscape(id)+"/json")
	if err != nil {
		return containerInfo{}, fmt.Errorf("inspect container: %w", err)
	}
	info, err := parseDockerContainer(body, id)
	if err != nil || info.ImageID == "" {
		return info, err
	}
	body, err = d.get(ctx, "/images/"+url.PathEscape(info.ImageID)+"/json")
	if errors.Is(err, errNotFound) {
		info.Unresolved = "image " + info.ImageID + " was removed since the container was created"
		return info, nil
	}
	if err != nil {
		return containerInfo{}, fmt.Errorf("inspect image %s: %w", info.ImageID, err)
	}
	digests, why, err := parseDockerImage(body, info.ImageID)
	if err != nil {
		return containerInfo{}, fmt.Errorf("inspect image %s: %w", info.ImageID, err)
	}
	info.ImageDigests, info.Unresolved = digests, why
	info.RepoDigests = repoDigests(body)
	return info, nil
}

// parseDockerContainer reads a container inspect response for container
// id. The image ID is kept only when it is a SHA-256 digest (podman's
// compatible API writes it with or without "sha256:").
func parseDockerContainer(body []byte, id string) (containerInfo, error) {
	var c dockerContainer
	if err := json.Unmarshal(body, &c); err != nil {
		return containerInfo{}, fmt.Errorf("decode container: %w", err)
	}
	if c.ID != id {
		return containerInfo{}, fmt.Errorf("asked for container %s, got %q", id, c.ID)
	}
	var info containerInfo
	if c.Config != nil {
		info.Image = c.Config.Image
	}
	if c.State != nil && c.State.Running && c.State.Pid > 0 {
		info.InitPID = c.State.Pid
	}
	imageID := c.Image
	if len(imageID) == 64 {
		imageID = "sha256:" + imageID
	}
	switch {
	case isDigest(imageID):
		info.ImageID = imageID
	case c.Image == "":
		info.Unresolved = "the runtime names no image"
	default:
		info.Unresolved = fmt.Sprintf("image ID %q is not a sha256 digest", c.Image)
	}
	return info, nil
}

// parseDockerImage reads an image inspect response for image id and
// returns its repository digests, or why there are none.
func parseDockerImage(body []byte, id string) (digests []string, unresolved string, err error) {
	var img dockerImage
	if err := json.Unmarshal(body, &img); err != nil {
		return nil, "", fmt.Errorf("decode image: %w", err)
	}
	got := img.ID
	if len(got) == 64 {
		got = "sha256:" + got
	}
	if got != id {
		return nil, "", fmt.Errorf("asked for image %s, got %q", id, img.ID)
	}
	for _, rd := range img.RepoDigests {
		if dg := digestOfReference(rd); dg != "" {
			digests = append(digests, dg)
		}
	}
	if len(digests) == 0 {
		return nil, "image " + id + " has no repository digest (built locally, never pushed or pulled by digest)", nil
	}
	return sortedDigests(digests), "", nil
}

// get returns the body of a 200 answer to GET path; a 404 is errNotFound.
func (d *docker) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxInspectSize+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w (%s)", errNotFound, daemonMessage(body))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, daemonMessage(body))
	case len(body) > MaxInspectSize:
		return nil, fmt.Errorf("answer larger than %d bytes", MaxInspectSize)
	}
	return body, nil
}

// daemonMessage is the message of an Engine API error body
// ({"message": "..."}), shortened, or the start of the body.
func daemonMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	msg = strings.TrimSpace(msg)
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage] + "..."
	}
	return msg
}
