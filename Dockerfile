# gslb container image: a static binary on distroless, running as non-root.
#
# Build:
#   docker build --build-arg VERSION=$(git describe --tags --always) -t gslb .
#
# Run, with your configuration (gslb.toml and the zone files it names) in
# /srv/gslb on the host, mounted read-only at /etc/gslb:
#   docker run -d --name gslb --hostname ns1 \
#     --cap-drop=ALL --cap-add=NET_BIND_SERVICE \
#     -p 53:53/udp -p 53:53/tcp -p 127.0.0.1:9153:9153/tcp \
#     -v /srv/gslb:/etc/gslb:ro -v gslb-state:/var/lib/gslb \
#     gslb
#   dig @127.0.0.1 www.gslb.example.com
#
# Listen addresses come from the configuration file only ([server] dns and
# http), never from this image: its loopback defaults are unreachable from
# outside the container, so the gslb.toml you mount says
#   [server]
#   dns = ["0.0.0.0:53"]        # and "[::]:53" when the network has IPv6
#   http = "0.0.0.0:9153"
#
# Identity: keep the files identical on every instance and leave
# [identity] id = "auto" (the host name); --hostname gives each container
# its name (docs/deployment.md, "Telling instances apart").
#
# Port 53 as the nonroot user: Docker 20.10 and later (and Podman) set
# net.ipv4.ip_unprivileged_port_start=0 inside the container's own network
# namespace, so any user may bind it there; --cap-add=NET_BIND_SERVICE keeps
# that one capability when all others are dropped. On an older engine that
# does not set the sysctl, listen on a high port in the configuration
# (dns = ["0.0.0.0:8053"]) and map it: -p 53:8053/udp -p 53:8053/tcp.
#
# Check a configuration without serving it:
#   docker run --rm -v /srv/gslb:/etc/gslb:ro gslb check -config /etc/gslb/gslb.toml
#
# Reload after editing the files: `docker kill -s HUP gslb` (gslb's file
# watcher may also see the change, if inotify reaches through the mount: mount
# the directory, not single files). `docker stop` (SIGTERM) stops it cleanly.

FROM golang:1.26-bookworm AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /gslb ./cmd/gslb \
 && /gslb version \
 && mkdir -p /state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /gslb /gslb
# The state directory (docs/state.md): admin overrides and, later, the
# rest of what gslb writes. A named volume keeps it across containers.
COPY --from=build --chown=nonroot:nonroot /state /var/lib/gslb
VOLUME /var/lib/gslb
USER nonroot:nonroot
EXPOSE 53/udp 53/tcp 9153/tcp
ENTRYPOINT ["/gslb"]
# The listen addresses are the configuration's ([server] dns and http).
CMD ["serve", "-config", "/etc/gslb/gslb.toml", "-state-dir", "/var/lib/gslb"]
