#!/usr/bin/env bash
# A real Kubernetes cluster for tests: etcd + kube-apiserver (+ kubectl), and on request one
# node (kube-scheduler, kube-controller-manager, containerd, kubelet) whose pods really run;
# built from the Go module proxy into a cache directory and run on 127.0.0.1 only.
#
#   scripts/control-plane.sh build [--node]
#                                     build the pinned binaries (skipped when they exist); with
#                                     --node also kube-scheduler, kube-controller-manager, kubelet
#                                     and the pause binary (a separate step: API-only runs never
#                                     pay for it)
#   scripts/control-plane.sh up [--node]
#                                     start etcd + kube-apiserver, write a kubeconfig, wait for
#                                     /readyz and the default namespace; prints `export KUBECONFIG=…`.
#                                     With --node (root) also the node (scripts/lib/k8s-node.sh says
#                                     how it runs and what it changes on the host), waiting until it
#                                     is Ready and the token controller has made the default
#                                     ServiceAccount; on a running control plane, adds the node
#   scripts/control-plane.sh down     stop everything, remove the run dir, and undo what kubelet did
#                                     to the host (sysctls, cgroups, mounts, /var/log/containers)
#   scripts/control-plane.sh down-node
#                                     stop and remove the node only; the API server goes on as `up`
#                                     without --node starts it
#   scripts/control-plane.sh restart-apiserver [SECONDS]
#                                     stop kube-apiserver only (etcd stays up) and start it again with
#                                     the same flags, port, certificates and token; wait for /readyz.
#                                     With SECONDS, it stays down that long first (an outage)
#   scripts/control-plane.sh status [--node]
#                                     exit 0 when the recorded processes are alive and /readyz is ok
#                                     (with --node: and the node is Ready)
#   scripts/control-plane.sh load-image IMAGE...
#                                     copy local Docker images into the node's containerd (what
#                                     `kind load docker-image` does)
#   scripts/control-plane.sh env      print the export lines of a running control plane
#   scripts/control-plane.sh bindir   print the directory holding the binaries (kubectl among them)
#
# Environment:
#   STEWARD_K8S_CACHE   cache dir (default /var/cache/steward-k8s): <version>/bin, GOMODCACHE, GOCACHE
#   STEWARD_K8S_RUN     run dir (default /tmp/steward-k8s): pids, logs, certs, etcd data, kubeconfig,
#                       and node/ (containerd's root and state, kubelet's root dir, pod logs)
#   STEWARD_K8S_VERSION / STEWARD_ETCD_VERSION   override the pinned versions
#   STEWARD_K8S_READY_TIMEOUT   seconds to wait for the API server (default 120)
#   STEWARD_K8S_NODE_READY_TIMEOUT   seconds to wait for each step of the node (default 120)
#
# How the build works: Kubernetes' own go.mod `replace`s every k8s.io/* staging module with
# ./staging/..., which a dependent module cannot see. So a wrapper module requires
# k8s.io/kubernetes and replaces each of those staging modules (the list is read from
# k8s.io/kubernetes's go.mod) with the published v0.<minor>.<patch>. etcd is built from its own
# wrapper module (go.etcd.io/etcd/server/v3 is the etcd main package; `go install …@version`
# refuses it because its go.mod has replace directives), so its dependency versions stay the
# ones etcd pins and do not perturb kube-apiserver's. Go builds run under `nice -n 10`.
# Cold on 2 idle cores: the control plane about 7 minutes (14.5 CPU-minutes), the node's binaries
# about 4 more (4 CPU-minutes).
#
# Without --node nothing creates pods from Deployments, no namespace is finalized on delete,
# no node exists, and the ServiceAccount admission plugin is off (it needs the token
# controller's default ServiceAccount). With --node all of that runs as in a cluster.
set -euo pipefail

K8S_VERSION="${STEWARD_K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${STEWARD_ETCD_VERSION:-v3.6.16}"
CACHE="${STEWARD_K8S_CACHE:-/var/cache/steward-k8s}"
RUN="${STEWARD_K8S_RUN:-/tmp/steward-k8s}"
READY_TIMEOUT="${STEWARD_K8S_READY_TIMEOUT:-120}"

# k8s.io/kubernetes v1.X.Y publishes its staging modules as v0.X.Y.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
VERSION_DIR="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
BIN="$VERSION_DIR/bin"
BINARIES=(etcd kube-apiserver kubectl)
MARKER=".steward-k8s-run"

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "no Go toolchain found (need go >= 1.24 on PATH or at /usr/local/go/bin/go)"
  fi
}

have_binaries() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

# ---------------------------------------------------------------------------------------- build

go_env() {
  export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache"
  # -modcacherw so the cache dir can be removed with plain rm -rf.
  export GOFLAGS="-mod=mod -modcacherw -buildvcs=false" CGO_ENABLED=0 GOWORK=off
}

# Writes a wrapper module named $3 into $1 whose tools are the k8s.io/kubernetes commands
# $4...: kube-apiserver + kubectl for the control plane, the node's three for the node, in two
# modules so that building the node never touches the control plane's resolved module.
write_k8s_module() {
  local dir="$1" go="$2" name="$3" kmod staging
  shift 3
  kmod="$("$go" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$kmod" ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  # Every `k8s.io/x => ./staging/src/k8s.io/x` line of Kubernetes' own go.mod.
  staging="$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$kmod")"
  [[ -n "$staging" ]] || die "no staging replace block found in $kmod"
  mkdir -p "$dir"
  {
    echo "// Generated by scripts/control-plane.sh; do not edit."
    echo "module steward.local/$name"
    echo
    echo "go 1.24.0"
    echo
    echo "godebug default=go1.24"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "tool ("
    local cmd
    for cmd in "$@"; do printf '\tk8s.io/kubernetes/cmd/%s\n' "$cmd"; done
    echo ")"
    echo
    echo "// The staging modules of k8s.io/kubernetes $K8S_VERSION, at their published versions."
    echo "replace ("
    local m
    for m in $staging; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
    echo ")"
  } >"$dir/go.mod"
  log "wrapper module $dir/go.mod: k8s.io/kubernetes $K8S_VERSION, $(wc -w <<<"$staging") staging modules at $STAGING_VERSION"
}

write_etcd_module() {
  local dir="$1"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
// Generated by scripts/control-plane.sh; do not edit.
module steward.local/etcd

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

tool go.etcd.io/etcd/server/v3
EOF
}

# The version stamp `kubectl version` and the API server's /version report.
k8s_ldflags() {
  local minor="${K8S_VERSION#v1.}" ldflags="-s -w" pkg
  minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ldflags"
}

cmd_build() {
  if have_binaries; then
    log "binaries present in $BIN (k8s $K8S_VERSION, etcd $ETCD_VERSION); skipping build"
    return 0
  fi
  mkdir -p "$VERSION_DIR"
  # One builder at a time per version; a second caller waits and then finds the binaries.
  exec 9>"$VERSION_DIR/.build.lock"
  flock 9
  if have_binaries; then log "binaries built by a concurrent run"; exec 9>&-; return 0; fi

  local go t0 t1 out k8s_src etcd_src ldflags
  go="$(find_go)"
  go_env
  log "building with $("$go" version) into $BIN (GOMODCACHE=$GOMODCACHE GOCACHE=$GOCACHE)"
  t0=$SECONDS
  out="$VERSION_DIR/bin.partial"
  rm -rf "$out"
  mkdir -p "$out"

  k8s_src="$VERSION_DIR/src/kubernetes"
  write_k8s_module "$k8s_src" "$go" k8s-control-plane kube-apiserver kubectl
  (cd "$k8s_src" && nice -n 10 "$go" mod tidy) || die "go mod tidy failed for the Kubernetes wrapper module"
  log "kubernetes module resolved in $((SECONDS - t0))s"

  ldflags="$(k8s_ldflags)"
  t1=$SECONDS
  (cd "$k8s_src" && nice -n 10 "$go" build -trimpath -ldflags="$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) \
    || die "building kube-apiserver/kubectl failed"
  log "kube-apiserver + kubectl built in $((SECONDS - t1))s"

  etcd_src="$VERSION_DIR/src/etcd"
  write_etcd_module "$etcd_src"
  t1=$SECONDS
  (cd "$etcd_src" && nice -n 10 "$go" mod tidy && nice -n 10 "$go" build -trimpath -ldflags="-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3) \
    || die "building etcd failed"
  log "etcd built in $((SECONDS - t1))s"

  rm -rf "$BIN"
  mv "$out" "$BIN"
  exec 9>&-
  log "build done in $((SECONDS - t0))s; cache $(du -sh "$CACHE" 2>/dev/null | cut -f1)"
  "$BIN/kube-apiserver" --version >&2 || true
  "$BIN/etcd" --version | head -1 >&2 || true
}

# ------------------------------------------------------------------------------------------- up

free_port() {
  # Binding port 0 on 127.0.0.1 gets a free port from the kernel's ephemeral range.
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  elif command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    local p
    while :; do
      p=$((40000 + RANDOM % 20000))
      ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
  fi
}

pid_alive() { # pid binary-name
  local pid="$1" name="$2"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "/$name "
}

recorded_pid() { cat "$RUN/$1.pid" 2>/dev/null || true; }

running() {
  [[ -f "$RUN/$MARKER" ]] \
    && pid_alive "$(recorded_pid etcd)" etcd \
    && pid_alive "$(recorded_pid kube-apiserver)" kube-apiserver
}

print_env() {
  echo "export KUBECONFIG=$RUN/kubeconfig"
}

gen_pki() {
  local pki="$RUN/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=steward-test-ca" -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
      >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
  # How the API server authenticates to kubelets (kubectl logs/exec) when a node runs.
  issue_client_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
}

wait_http() { # description url curl-args...
  local what="$1" url="$2"; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    if curl -fsS --max-time 3 "$@" "$url" >/dev/null 2>&1; then return 0; fi
    running_component_check
    sleep 0.3
  done
  die "timed out after ${READY_TIMEOUT}s waiting for $what ($url)"
}

running_component_check() {
  local c
  for c in etcd kube-apiserver; do
    if [[ -f "$RUN/$c.pid" ]] && ! pid_alive "$(recorded_pid "$c")" "$c"; then
      log "$c exited; last lines of $RUN/$c.log:"
      tail -n 30 "$RUN/$c.log" >&2 || true
      die "$c did not start"
    fi
  done
}

start_bg() { # name log-file command...
  local name="$1" logf="$2"; shift 2
  setsid "$@" >"$logf" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# Starts kube-apiserver on the recorded ports with the run dir's certificates and token
# (used by `up` and `restart-apiserver`, so a restarted server is the same server to its clients).
start_apiserver() {
  local etcd_port api_port admission
  etcd_port="$(cat "$RUN/etcd.port")"
  api_port="$(cat "$RUN/kube-apiserver.port")"
  # Without a node there is no token controller to make the default ServiceAccount that
  # ServiceAccount admission requires of every pod; with one, admission is as in a cluster.
  if node_mode; then admission=(--enable-admission-plugins NodeRestriction)
  else admission=(--disable-admission-plugins ServiceAccount)
  fi
  # Appended, so the log of the server before a restart is kept.
  setsid "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 \
    --advertise-address 127.0.0.1 \
    --secure-port "$api_port" \
    --tls-cert-file "$RUN/pki/apiserver.crt" \
    --tls-private-key-file "$RUN/pki/apiserver.key" \
    --client-ca-file "$RUN/pki/ca.crt" \
    --token-auth-file "$RUN/tokens.csv" \
    --authorization-mode Node,RBAC \
    --kubelet-client-certificate "$RUN/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$RUN/pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$RUN/pki/sa.pub" \
    --service-account-signing-key-file "$RUN/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    "${admission[@]}" \
    --endpoint-reconciler-type none \
    --allow-privileged=true \
    --v 1 >>"$RUN/kube-apiserver.log" 2>&1 </dev/null &
  echo $! >"$RUN/kube-apiserver.pid"
}

# On a failed start: stop whatever did start, and keep the run dir for its logs (the next
# `up` or `down` removes it).
stop_after_failed_up() {
  local rc=$?
  ((rc == 0)) && return
  node_stop
  stop_component kube-apiserver
  stop_component etcd
  log "up failed; logs kept in $RUN"
}

cmd_up() {
  local node=false
  case "${1:-}" in
    --node) node=true ;;
    "") ;;
    *) die "up: unknown option '$1' (expected --node)" ;;
  esac
  if running; then
    if $node && ! node_running; then
      cmd_build_node
      local t0=$SECONDS
      log "adding a node to the running control plane"
      trap 'rc=$?; if ((rc != 0)); then node_stop; log "up --node failed; logs kept in $RUN"; fi' EXIT
      node_attach
      trap - EXIT
      log "node added in $((SECONDS - t0))s"
    else
      log "already up ($RUN)"
    fi
    print_env
    return 0
  fi
  [[ -e "$RUN" ]] && { log "removing stale run dir $RUN"; cmd_down >/dev/null; }
  if $node; then cmd_build_node; else cmd_build; fi
  local t0=$SECONDS
  mkdir -p "$RUN"
  trap stop_after_failed_up EXIT
  chmod 700 "$RUN"
  : >"$RUN/$MARKER"
  if $node; then : >"$RUN/node.mode"; fi
  gen_pki

  local token etcd_port peer_port api_port
  token="$(openssl rand -hex 32)"
  echo "$token" >"$RUN/token"
  printf '%s,admin,admin,"system:masters"\n' "$token" >"$RUN/tokens.csv"
  chmod 600 "$RUN/token" "$RUN/tokens.csv"

  etcd_port="$(free_port)"
  peer_port="$(free_port)"
  while [[ "$peer_port" == "$etcd_port" ]]; do peer_port="$(free_port)"; done
  start_bg etcd "$RUN/etcd.log" "$BIN/etcd" \
    --name steward-test \
    --data-dir "$RUN/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "steward-test=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync \
    --log-level warn
  echo "$etcd_port" >"$RUN/etcd.port"
  wait_http etcd "http://127.0.0.1:$etcd_port/health"
  log "etcd up on 127.0.0.1:$etcd_port"

  api_port="$(free_port)"
  while [[ "$api_port" == "$etcd_port" || "$api_port" == "$peer_port" ]]; do api_port="$(free_port)"; done
  echo "$api_port" >"$RUN/kube-apiserver.port"
  start_apiserver

  local server="https://127.0.0.1:$api_port"
  cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: steward-test
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$RUN/pki/ca.crt")
users:
- name: admin
  user:
    token: $token
contexts:
- name: steward-test
  context:
    cluster: steward-test
    user: admin
    namespace: default
current-context: steward-test
EOF
  chmod 600 "$RUN/kubeconfig"

  local auth=(--cacert "$RUN/pki/ca.crt" -H "Authorization: Bearer $token")
  wait_http "kube-apiserver /readyz" "$server/readyz" "${auth[@]}"
  wait_http "the default namespace" "$server/api/v1/namespaces/default" "${auth[@]}"
  log "kube-apiserver up on $server in $((SECONDS - t0))s (logs and pids in $RUN)"
  if $node; then
    node_start
    log "control plane and node up in $((SECONDS - t0))s"
  fi
  log "kubectl: $BIN/kubectl --kubeconfig $RUN/kubeconfig"
  trap - EXIT
  print_env
}

# ----------------------------------------------------------------------------------------- down

stop_component() {
  local name="$1" pid i
  pid="$(recorded_pid "$name")"
  if ! pid_alive "$pid" "$name"; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" "$name" || { log "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM for 10s; killing"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
  if [[ ! -e "$RUN" ]]; then log "nothing to stop ($RUN does not exist)"; return 0; fi
  [[ -f "$RUN/$MARKER" || ! -d "$RUN" || -z "$(ls -A "$RUN")" ]] \
    || die "$RUN was not made by this script (no $MARKER); not removing it"
  node_stop
  stop_component kube-apiserver
  stop_component etcd
  rm -rf --one-file-system "$RUN"
  log "removed $RUN"
}

# Stops kube-apiserver only (etcd and its data stay) and starts it again with the same
# flags, port, certificates and token; returns once /readyz answers. For tests of clients
# that must survive an API server restart.
cmd_restart_apiserver() {
  local down="${1:-0}"
  [[ "$down" =~ ^[0-9]+$ ]] || die "restart-apiserver: SECONDS must be a whole number, got '$down'"
  running || die "not running ($RUN); start it with: STEWARD_K8S_RUN=$RUN $0 up"
  local t0=$SECONDS api_port
  api_port="$(cat "$RUN/kube-apiserver.port")"
  stop_component kube-apiserver
  if ((down > 0)); then log "kube-apiserver stays down for ${down}s"; sleep "$down"; fi
  start_apiserver
  local auth=(--cacert "$RUN/pki/ca.crt" -H "Authorization: Bearer $(cat "$RUN/token")")
  wait_http "kube-apiserver /readyz" "https://127.0.0.1:$api_port/readyz" "${auth[@]}"
  log "kube-apiserver restarted on 127.0.0.1:$api_port in $((SECONDS - t0))s (pid $(recorded_pid kube-apiserver))"
}

cmd_status() {
  running || { log "not running ($RUN)"; return 1; }
  if [[ "${1:-}" == --node ]]; then
    node_running || { log "the control plane runs without a node ($RUN)"; return 1; }
    node_ready || { log "node $NODE_NAME is not Ready"; return 1; }
  fi
  curl -fsS --max-time 3 --cacert "$RUN/pki/ca.crt" -H "Authorization: Bearer $(cat "$RUN/token")" \
    "https://127.0.0.1:$(cat "$RUN/kube-apiserver.port")/readyz" >/dev/null \
    || { log "processes alive but /readyz fails"; return 1; }
  log "up: etcd pid $(recorded_pid etcd), kube-apiserver pid $(recorded_pid kube-apiserver) on 127.0.0.1:$(cat "$RUN/kube-apiserver.port")"
}

# shellcheck source=lib/k8s-node-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/k8s-node-build.sh"
# shellcheck source=lib/k8s-node.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/k8s-node.sh"

case "${1:-}" in
  build) if [[ "${2:-}" == --node ]]; then cmd_build_node; else cmd_build; fi ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down ;;
  down-node) running || die "not running ($RUN)"; node_detach ;;
  status) cmd_status "${2:-}" ;;
  load-image) shift; cmd_load_image "$@" ;;
  restart-apiserver) cmd_restart_apiserver "${2:-0}" ;;
  env) running || die "not running ($RUN)"; print_env ;;
  bindir) echo "$BIN" ;;
  *) echo "usage: $0 {build [--node]|up [--node]|down|down-node|restart-apiserver [SECONDS]|status [--node]|load-image IMAGE...|env|bindir}" >&2; exit 2 ;;
esac
