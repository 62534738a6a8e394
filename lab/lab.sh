#!/usr/bin/env bash
# The local lab: systemd containers under rootful podman, reached over SSH.
#
#   lab/lab.sh image   build the base image (and the baked one with LAB_BAKED=1)
#   lab/lab.sh up      start the lab hosts (fresh; removes an older lab first)
#                      and the S3-compatible object store (moto, TLS) on the
#                      network's gateway address, as s3.pgha.lab:9000, and the
#                      alert receiver on monitor1 (lab/alert_sink.py)
#   lab/lab.sh s3      (re)start only the object store
#   lab/lab.sh down    remove the lab's containers, network and state
#   lab/lab.sh logs    copy PostgreSQL/PgBouncer logs and journals to .lab/logs/
#   lab/lab.sh partition HOST   drop HOST's traffic with the other lab hosts
#                               (this machine still reaches it over SSH)
#   lab/lab.sh isolate HOST     drop HOST's traffic with this machine (the
#                               controller) only; its peers still reach it
#   lab/lab.sh heal HOST        remove that partition (and isolation)
#   lab/lab.sh fence HOST       power HOST off (the lab's fencing command)
#   lab/lab.sh start HOST       power HOST on again and wait for its SSH
#   lab/lab.sh reboot HOST      restart HOST's container (its systemd shuts down and boots)
#   lab/lab.sh add HOST         one more host on the running lab (pg4, inventories/lab/scale.yml)
#   lab/lab.sh remove HOST      remove a host added that way
#
# Environment:
#   LAB_OS     bookworm (PostgreSQL 15, default) or trixie (PostgreSQL 17)
#   LAB_BAKED  1 (default): image with PostgreSQL/PgBouncer/pgBackRest packages
#              already installed; 0: bare image, the roles install everything
#   LAB_HOSTS  containers to start (default "pg1 pg2 pg3 pooler1 backup1 drill1 monitor1")
#   PGHA_FAILOVER_MODE  manual or automatic (Patroni + etcd): written into the
#              lab's generated group_vars (unset: the collection's default, manual)
#
# Quirks of these machines handled here (see shared lab notes): no registry,
# so images are built with mmdebstrap + podman import; the hard open-files limit
# is 20000, so every container gets explicit ulimits; no systemd on the host, so
# podman runs with runc and cgroupfs (its automatic choice here).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
state="$top/.lab"
LAB_OS=${LAB_OS:-bookworm}
LAB_BAKED=${LAB_BAKED:-1}
LAB_HOSTS=${LAB_HOSTS:-"pg1 pg2 pg3 pooler1 backup1 drill1 monitor1"}
network=pgha-lab
subnet=10.213.77.0/24
gateway=10.213.77.1
s3_name=s3.pgha.lab
s3_port=9000
s3_bucket=pgha-lab
s3_backend_port=9001
label=io.pgha.lab=1

case "$LAB_OS" in
  bookworm) pg_version=15 ;;
  trixie) pg_version=17 ;;
  *) echo "lab: LAB_OS must be bookworm or trixie, not '$LAB_OS'" >&2; exit 2 ;;
esac
case "${PGHA_FAILOVER_MODE:-}" in
  ''|manual|automatic) ;;
  *) echo "lab: PGHA_FAILOVER_MODE must be manual or automatic, not '$PGHA_FAILOVER_MODE'" >&2; exit 2 ;;
esac

# Bump image_rev when what goes into the images changes: cached images of an
# older revision are then rebuilt instead of reused.
image_rev=5
base_image="localhost/pgha-lab:$LAB_OS-r$image_rev"
baked_image="localhost/pgha-lab-pg$pg_version:$LAB_OS-r$image_rev"

log() { printf 'lab: %s\n' "$*" >&2; }

# Static addresses; inventories/lab/hosts.yml carries the same ones.
host_ip() {
  case "$1" in
    pg1) echo 10.213.77.11 ;; pg2) echo 10.213.77.12 ;; pg3) echo 10.213.77.13 ;; pg4) echo 10.213.77.14 ;;
    pooler1) echo 10.213.77.21 ;; backup1) echo 10.213.77.31 ;; drill1) echo 10.213.77.41 ;; monitor1) echo 10.213.77.51 ;;
    *) echo "lab: unknown lab host '$1'" >&2; exit 2 ;;
  esac
}

image_exists() { podman image exists "$1"; }

build_base() {
  image_exists "$base_image" && return 0
  mkdir -p "$state/build"
  local tar="$state/build/rootfs-$LAB_OS.tar"
  log "building $base_image with mmdebstrap (about 30 s)"
  mmdebstrap --quiet --variant=minbase \
    --include=openssh-server,python3,python3-apt,python3-psycopg2,systemd,systemd-sysv,sudo,iproute2,locales,procps,ca-certificates,gnupg,nftables,less \
    "$LAB_OS" "$tar"
  podman import --quiet "$tar" "localhost/pgha-lab-rootfs:$LAB_OS" >/dev/null
  rm -f "$tar"
  cat >"$state/build/Containerfile.base" <<EOF
FROM localhost/pgha-lab-rootfs:$LAB_OS
RUN mkdir -m 0700 -p /root/.ssh \\
 && systemctl enable ssh \\
 && systemctl mask systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket \\
      systemd-logind.service getty.target console-getty.service systemd-networkd-wait-online.service \\
 && printf 'UseDNS no\nPermitRootLogin prohibit-password\n' >/etc/ssh/sshd_config.d/pgha-lab.conf
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
EOF
  podman build --quiet -t "$base_image" -f "$state/build/Containerfile.base" "$state/build" >/dev/null
  podman rmi "localhost/pgha-lab-rootfs:$LAB_OS" >/dev/null
}

build_baked() {
  image_exists "$baked_image" && return 0
  build_base
  log "building $baked_image (packages preinstalled)"
  # The drop-in is the same file the postgresql role writes: packages must not
  # create a 'main' cluster of their own (it would be a foreign database system).
  cat >"$state/build/Containerfile.baked" <<EOF
FROM $base_image
RUN mkdir -p /etc/postgresql-common/createcluster.d \\
 && printf '%s\n' '# Managed by Ansible (pgha.cluster.postgresql)' 'create_main_cluster = false' \\
      >/etc/postgresql-common/createcluster.d/00-pgha.conf \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      postgresql-$pg_version postgresql-client-$pg_version pgbouncer pgbackrest python3-psycopg2 ssl-cert \\
      patroni python3-etcd etcd-server etcd-client haproxy \\
      prometheus prometheus-alertmanager prometheus-node-exporter prometheus-postgres-exporter python3-prometheus-client >/dev/null \\
 && systemctl disable pgbouncer.service etcd.service haproxy.service prometheus.service prometheus-alertmanager.service \\
      prometheus-node-exporter.service prometheus-postgres-exporter.service >/dev/null 2>&1 || true
EOF
  podman build --quiet -t "$baked_image" -f "$state/build/Containerfile.baked" "$state/build" >/dev/null
}

ensure_key() {
  mkdir -p "$state"
  chmod 700 "$state"
  [ -f "$state/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C pgha-lab -f "$state/id_ed25519"
}

# Random lab secrets, written once per lab with mode 0600 and never committed.
ensure_secrets() {
  local f="$top/inventories/lab/group_vars/all/secrets.yml"
  # Rewritten when an older lab's file lacks a secret added since.
  [ -f "$f" ] && grep -q pgha_lab_s3_key_secret "$f" && return 0
  gen() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
  umask 077
  cat >"$f" <<EOF
---
# Generated by lab/lab.sh for the local lab only (mode 0600, git-ignored).
pgha_replication_password: "$(gen)"
pgha_pgbouncer_auth_password: "$(gen)"
pgha_admin_password: "$(gen)"
pgha_backup_cipher_pass: "$(gen)$(gen)"
# The lab's object store (moto) accepts any key; real stores check them.
pgha_lab_s3_key: "lab$(gen)"
pgha_lab_s3_key_secret: "$(gen)$(gen)"
EOF
  chmod 600 "$f"
}

# The object store: moto's S3 server with TLS (pgBackRest speaks S3 over TLS
# only), its certificate signed by a CA of the lab's own.
s3_certs() {
  local d="$state/s3"
  [ -f "$d/server.pem" ] && return 0
  mkdir -p "$d"
  chmod 700 "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=pgha lab CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$s3_name" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\n' "$s3_name" >"$d/san.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 30 -extfile "$d/san.ext" -out "$d/server.pem" 2>/dev/null
}

s3_up() {
  local moto="$top/.venv/bin/moto_server" d="$state/s3" deadline=$((SECONDS + 30))
  [ -x "$moto" ] || { log "no $moto: run make deps first"; exit 1; }
  s3_certs
  s3_down
  # moto speaks plain HTTP on loopback; nginx terminates TLS in front of it
  # (moto's own TLS closes connections without a TLS shutdown, which
  # pgBackRest's OpenSSL 3 refuses) and keeps connections alive.
  MOTO_S3_CUSTOM_ENDPOINTS="https://$s3_name:$s3_port,http://$s3_name:$s3_port" \
    setsid "$moto" -H 127.0.0.1 -p "$s3_backend_port" >"$d/moto.log" 2>&1 </dev/null &
  echo $! >"$d/moto.pid"
  mkdir -p "$d/nginx"
  cat >"$d/nginx.conf" <<NGINX
user root;
pid $d/nginx.pid;
error_log $d/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_max_body_size 0;
  client_body_temp_path $d/nginx/body;
  proxy_temp_path $d/nginx/proxy;
  fastcgi_temp_path $d/nginx/fastcgi;
  uwsgi_temp_path $d/nginx/uwsgi;
  scgi_temp_path $d/nginx/scgi;
  server {
    listen $gateway:$s3_port ssl;
    server_name $s3_name;
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    location / {
      proxy_pass http://127.0.0.1:$s3_backend_port;
      proxy_set_header Host \$http_host;
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
NGINX
  nginx -c "$d/nginx.conf" -e "$d/nginx-error.log"
  # The bucket (pgBackRest does not create buckets). moto does not check keys.
  until curl -sf --cacert "$d/ca.pem" --resolve "$s3_name:$s3_port:$gateway" \
      -X PUT "https://$s3_name:$s3_port/$s3_bucket" -o /dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      log "S3 server does not answer"; tail -20 "$d/moto.log" "$d/nginx-error.log" >&2; exit 1
    fi
    sleep 0.3
  done
}

s3_down() {
  local f
  for f in "$state/s3/nginx.pid" "$state/s3/moto.pid"; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

down() {
  s3_down
  local ids
  ids=$(podman ps -a -q --filter "label=$label")
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    podman rm -f -t 2 $ids >/dev/null
  fi
  if podman network exists "$network"; then
    podman network rm -f "$network" >/dev/null
  fi
}

wait_ssh() {
  local h ip deadline=$((SECONDS + 60))
  for h in $LAB_HOSTS; do
    ip=$(host_ip "$h")
    until ssh -i "$state/id_ed25519" -o BatchMode=yes -o ConnectTimeout=2 \
      -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
      "root@$ip" true 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        log "$h ($ip) does not answer SSH after 60 s"; podman logs --tail 30 "$h" >&2 || true; exit 1
      fi
      sleep 0.5
    done
  done
}

# The containers' SSH host keys, read with podman exec (a channel that needs no
# trust in the network), so Ansible checks them like on real hosts.
pin_host_keys() {
  local h
  : >"$state/known_hosts.tmp"
  for h in $LAB_HOSTS; do
    printf '%s %s\n' "$(host_ip "$h")" "$(podman exec "$h" cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f1,2)" \
      >>"$state/known_hosts.tmp"
  done
  mv "$state/known_hosts.tmp" "$state/known_hosts"
}

run_host() {
  podman run -d --name "$1" --hostname "$1" --label "$label" \
    --network "$network" --ip "$(host_ip "$1")" \
    --systemd=always --cap-add NET_ADMIN \
    --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
    --tmpfs /tmp --tmpfs /run --tmpfs /run/lock --add-host "$s3_name:$gateway" \
    -v "$state/id_ed25519.pub:/root/.ssh/authorized_keys:ro" \
    "$2" >/dev/null
}

# One more host on the running lab (pg4: inventories/lab/scale.yml), its host key pinned.
add_host() {
  local image="$base_image"
  [ "$LAB_BAKED" = 1 ] && image=$baked_image
  podman container exists "$1" && { log "$1 exists already"; exit 1; }
  run_host "$1" "$image"
  LAB_HOSTS=$1 wait_ssh
  printf '%s %s\n' "$(host_ip "$1")" "$(podman exec "$1" cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f1,2)" \
    >>"$state/known_hosts"
  log "$1 added at $(host_ip "$1")"
}

# Remove a host add_host added (the container and its pinned key).
remove_host() {
  podman rm -f -t 2 "$1" >/dev/null 2>&1 || true
  grep -v "^$(host_ip "$1") " "$state/known_hosts" >"$state/known_hosts.tmp" || true
  mv "$state/known_hosts.tmp" "$state/known_hosts"
  log "$1 removed"
}

# The lab's alert receiver on monitor1 (lab/alert_sink.py): Alertmanager posts
# there; notifications land in /var/log/pgha-lab-alerts.jsonl.
alert_sink_up() {
  case " $LAB_HOSTS " in *" monitor1 "*) ;; *) return 0 ;; esac
  podman cp "$here/alert_sink.py" monitor1:/usr/local/bin/pgha-lab-alert-sink
  podman exec monitor1 systemd-run --quiet --unit=pgha-lab-alert-sink --property=Restart=always \
    /usr/bin/python3 /usr/local/bin/pgha-lab-alert-sink 127.0.0.1 9099 /var/log/pgha-lab-alerts.jsonl
}

up() {
  local image="$base_image" h
  if [ "$LAB_BAKED" = 1 ]; then build_baked; image=$baked_image; else build_base; fi
  ensure_key
  ensure_secrets
  down
  podman network create --subnet "$subnet" --label "$label" "$network" >/dev/null
  for h in $LAB_HOSTS; do
    run_host "$h" "$image"
  done
  wait_ssh
  pin_host_keys
  s3_up
  alert_sink_up
  printf '%s\n' "$LAB_OS" >"$state/os"
  printf -- '---\n# Written by lab/lab.sh up (LAB_OS=%s); git-ignored.\npgha_postgresql_version: %s\nansible_ssh_private_key_file: %s\npgha_lab_s3_ca_file: %s\n# Host keys read through podman when the containers started (not over the network).\nansible_ssh_common_args: -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s -o LogLevel=ERROR\n' \
    "$LAB_OS" "$pg_version" "$state/id_ed25519" "$state/s3/ca.pem" "$state/known_hosts" >"$top/inventories/lab/group_vars/all/lab.yml"
  case "${PGHA_FAILOVER_MODE:-}" in
    '') ;;
    manual|automatic) printf 'pgha_failover_mode: %s\n' "$PGHA_FAILOVER_MODE" >>"$top/inventories/lab/group_vars/all/lab.yml" ;;
  esac
  log "up: $LAB_HOSTS on $network ($subnet), image $image; S3 at https://$s3_name:$s3_port/$s3_bucket"
}

collect_logs() {
  local dest h
  dest="$state/logs/$(date +%Y%m%dT%H%M%S)"
  mkdir -p "$dest"
  for h in $(podman ps -q --filter "label=$label" --format '{{.Names}}'); do
    mkdir -p "$dest/$h"
    podman exec "$h" journalctl --no-pager -n 2000 >"$dest/$h/journal.txt" 2>&1 || true
    podman exec "$h" sh -c 'cat /var/log/postgresql/*.log 2>/dev/null' >"$dest/$h/postgresql.log" 2>&1 || true
  done
  log "logs in $dest"
}

netns_nft() {
  local pid
  pid=$(podman inspect -f '{{.State.Pid}}' "$1")
  shift
  nsenter -t "$pid" -n nft "$@"
}

partition() {
  local h=$1 other rules=""
  for other in pg1 pg2 pg3 pg4 pooler1 backup1 drill1 monitor1; do
    [ "$other" = "$h" ] && continue
    rules="$rules ip saddr $(host_ip "$other") drop;"
  done
  netns_nft "$h" -f - <<NFT
table inet pgha_partition {
  chain input { type filter hook input priority 0; policy accept; ${rules} }
  chain output { type filter hook output priority 0; policy accept; ${rules//saddr/daddr} }
}
NFT
  log "$h partitioned from its peers"
}

# Cut HOST off from this machine (the controller, on the gateway address) while
# it still reaches its peers: Ansible sees it unreachable.
isolate() {
  netns_nft "$1" -f - <<NFT
table inet pgha_isolate {
  chain input { type filter hook input priority 0; policy accept; ip saddr $gateway drop; }
  chain output { type filter hook output priority 0; policy accept; ip daddr $gateway drop; }
}
NFT
  log "$1 isolated from the controller"
}

# Cut HOST off from the backup repositories (the repository host and the
# S3-compatible store) while it still reaches its peers and the controller:
# its WAL archiving stalls and WAL piles up in pg_wal.
cut_archive() {
  netns_nft "$1" -f - <<NFT
table inet pgha_archive {
  chain output { type filter hook output priority 0; policy accept; ip daddr $(host_ip backup1) drop; ip daddr $gateway tcp dport $s3_port drop; }
}
NFT
  log "$1 cut off from the backup repositories"
}

heal() {
  netns_nft "$1" delete table inet pgha_partition 2>/dev/null || true
  netns_nft "$1" delete table inet pgha_isolate 2>/dev/null || true
  netns_nft "$1" delete table inet pgha_archive 2>/dev/null || true
  log "$1 healed"
}

# The lab's fencing command ("power off through the cloud API"): succeeds once
# the container is not running, whether it was running or not.
# A host found off (killed, or gone) is confirmed with one call, as a power switch's status would be.
fence() {
  if [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; then
    podman stop -t 2 "$1" >/dev/null 2>&1 || true
    [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" != true ] || { log "$1 still runs"; exit 1; }
  fi
  log "$1 powered off"
}

case "${1:-}" in
  image) if [ "$LAB_BAKED" = 1 ]; then build_baked; else build_base; fi ;;
  up) up ;;
  s3) s3_up ;;
  down) down; log "down" ;;
  logs) collect_logs ;;
  partition) partition "${2:?host}" ;;
  isolate) isolate "${2:?host}" ;;
  heal) heal "${2:?host}" ;;
  fence) fence "${2:?host}" ;;
  cut-archive) cut_archive "${2:?host}" ;;
  start) podman start "${2:?host}" >/dev/null && LAB_HOSTS=$2 wait_ssh ;;
  # A reboot as the lab can do one: the container's systemd shuts down and starts again.
  reboot) podman restart "${2:?host}" >/dev/null && LAB_HOSTS=$2 wait_ssh ;;
  add) add_host "${2:?host}" ;;
  remove) remove_host "${2:?host}" ;;
  *) echo "usage: lab/lab.sh image|up|down|logs|partition HOST|isolate HOST|cut-archive HOST|heal HOST|fence HOST|start HOST|reboot HOST|add HOST|remove HOST" >&2; exit 2 ;;
esac
