# Sourced by scripts/control-plane.sh: `up --node`, the one node of the test cluster.
#
# What runs: kube-scheduler and kube-controller-manager (no leader election, no serving
# port, on the admin kubeconfig), a containerd of its own (Debian's package, its CRI plugin
# on; root, state, socket, runc root and CNI config all under $RUN/node, so dockerd's
# containerd is never touched), and kubelet (node name and InternalIP 127.0.0.1).
#
# Networking: pods run with `hostNetwork: true`. The CNI config holds only the loopback
# plugin (Debian's containernetworking-plugins): that makes the node Ready, but containerd
# cannot give a pod a network namespace of its own from it, so a pod without hostNetwork
# fails to start its sandbox. No bridge, no veth, no pod IPs: nothing is routed to any
# address but 127.0.0.1, as the machines these tests run on allow. Without kube-proxy and
# DNS there are no working Services; in-cluster clients reach the API server through
# KUBERNETES_SERVICE_HOST=127.0.0.1 and its port, which test manifests set.
#
# Images are never pulled: the sandbox image (docker/pause/pause.go) and a busybox image
# (Debian's busybox-static with every applet) are made with `docker import` and imported
# into containerd's k8s.io namespace; `load-image` imports any other local Docker image.
#
# What this machine needs (found by trying): cgroup v1 with cgroupfs (no systemd as PID 1),
# containerd's restrict_oom_score_adj (no CAP_SYS_RESOURCE), kubelet bound to 127.0.0.1 with
# no read-only port, and iptables chains off. kubelet sets six kernel sysctls, makes
# /var/log/containers and the kubepods cgroups; `down` puts the sysctls back and removes
# those, kubelet's and containerd's mounts, and every container it started.

NODE_NAME=127.0.0.1
NODE_IMAGE_PAUSE=steward-node/pause:1
NODE_IMAGE_BUSYBOX=steward-node/busybox:1
NODE_COMPONENTS=(kubelet kube-controller-manager kube-scheduler containerd)
# The sysctls kubelet's container manager sets (pkg/kubelet/cm, setupKernelTunables).
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
NODE_READY_TIMEOUT="${STEWARD_K8S_NODE_READY_TIMEOUT:-120}"
# Host paths the node creates outside the run dir whatever it is told: kubelet's container
# log symlinks and its device plugin socket (both fixed paths), and the containerd shims'
# socket dir. `down` removes those that did not exist before `up`.
NODE_HOST_PATHS=(/var/log/containers /var/lib/kubelet /run/containerd)

node_dir() { echo "$RUN/node"; }
containerd_socket() { echo "$RUN/node/containerd/containerd.sock"; }

# The node's state: `node.mode` exists from the moment the API server is (re)started for a
# node; the node is up when its processes are alive.
node_mode() { [[ -f "$RUN/node.mode" ]]; }

node_running() {
  local c
  node_mode || return 1
  for c in "${NODE_COMPONENTS[@]}"; do pid_alive "$(recorded_pid "$c")" "$c" || return 1; done
}

ctr_k8s() { ctr --address "$(containerd_socket)" --namespace k8s.io "$@"; }

node_missing_tools() {
  local t
  for t in containerd containerd-shim-runc-v2 runc ctr docker; do
    command -v "$t" >/dev/null 2>&1 || echo "$t"
  done
  [[ -x /usr/lib/cni/loopback ]] || echo "containernetworking-plugins (/usr/lib/cni/loopback)"
  [[ -d /sys/fs/cgroup/memory ]] || echo "the cgroup v1 memory controller (/sys/fs/cgroup/memory)"
}

# ----------------------------------------------------------------------------------- certificates

# Signs a client certificate with the run's CA: issue_client_cert <file stem> <subject>.
issue_client_cert() {
  local stem="$1" subject="$2" pki="$RUN/pki"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
    -keyout "$pki/$stem.key" -out "$pki/$stem.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=clientAuth" >"$pki/$stem.ext"
  openssl x509 -req -in "$pki/$stem.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
    -extfile "$pki/$stem.ext" -out "$pki/$stem.crt" 2>/dev/null
  chmod 600 "$pki/$stem.key"
}

# ------------------------------------------------------------------------------------------ images

# Imports a root directory as a Docker image: node_import_root <dir> <image> <docker import flags...>.
node_import_root() {
  local root="$1" image="$2"
  shift 2
  tar --owner=0 --group=0 --numeric-owner -C "$root" -c . \
    | docker import "$@" --message "steward test node image, built from host binaries" - "$image" >/dev/null
}

# The sandbox image and the busybox image the tests' pods run, in Docker (kept, like the
# compose images) and then in containerd (imported at every `up --node`).
node_images() {
  local root applet
  if ! docker image inspect "$NODE_IMAGE_PAUSE" >/dev/null 2>&1; then
    root="$(mktemp -d)"
    install -D -m 0755 "$BIN/pause" "$root/pause"
    node_import_root "$root" "$NODE_IMAGE_PAUSE" --change 'ENTRYPOINT ["/pause"]'
    rm -rf "$root"
    log "built $NODE_IMAGE_PAUSE"
  fi
  if ! docker image inspect "$NODE_IMAGE_BUSYBOX" >/dev/null 2>&1; then
    [[ "$(ldd /bin/busybox 2>&1 || true)" == *"not a dynamic executable"* ]] \
      || die "/bin/busybox is missing or not static: apt-get install -y busybox-static"
    root="$(mktemp -d)"
    install -D -m 0755 /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
      [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
    done
    mkdir -p "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/var/run"
    chmod 1777 "$root/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    node_import_root "$root" "$NODE_IMAGE_BUSYBOX" --change "ENV PATH=/bin" --change 'CMD ["sh"]'
    rm -rf "$root"
    log "built $NODE_IMAGE_BUSYBOX"
  fi
  cmd_load_image "$NODE_IMAGE_PAUSE" "$NODE_IMAGE_BUSYBOX"
}

# Copies local Docker images into the node's containerd, as `kind load docker-image` does.
cmd_load_image() {
  (($# > 0)) || die "load-image: name at least one local Docker image"
  node_running || [[ -S "$(containerd_socket)" ]] || die "the node is not running; start it with: $0 up --node"
  local t0=$SECONDS
  docker save "$@" | ctr_k8s images import --no-unpack=false - >/dev/null \
    || die "importing $* into the node's containerd failed"
  log "loaded $* into the node in $((SECONDS - t0))s"
}

# ------------------------------------------------------------------------------------------ config

write_containerd_config() {
  local dir
  dir="$(node_dir)"
  mkdir -p "$dir/containerd" "$dir/cni/net.d"
  # cniVersion 1.0.0: the plugins are Debian's 1.1.x.
  cat >"$dir/cni/net.d/10-loopback.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "steward-loopback", "plugins": [{"type": "loopback"}]}
EOF
  cat >"$dir/containerd/config.toml" <<EOF
# Generated by scripts/control-plane.sh up --node; do not edit.
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
oom_score = 0
# Snapshotters this machine cannot use; overlayfs is the one the CRI plugin uses.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$dir/containerd/containerd.sock"

[ttrpc]
  address = "$dir/containerd/containerd.sock.ttrpc"

[debug]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/$NODE_IMAGE_PAUSE"
  # runc cannot lower a container's oom_score_adj below its own here (no CAP_SYS_RESOURCE).
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$dir/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
}

write_kubelet_config() {
  local dir port healthz
  dir="$(node_dir)"
  port="$(free_port)"
  healthz="$(free_port)"
  while [[ "$healthz" == "$port" ]]; do healthz="$(free_port)"; done
  echo "$port" >"$RUN/kubelet.port"
  echo "$healthz" >"$RUN/kubelet-healthz.port"
  mkdir -p "$dir/kubelet" "$dir/pod-logs" "$dir/volume-plugins"
  cat >"$dir/kubelet-config.yaml" <<EOF
# Generated by scripts/control-plane.sh up --node; do not edit.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz
containerRuntimeEndpoint: unix://$(containerd_socket)
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
podLogsDir: $dir/pod-logs
volumePluginDir: $dir/volume-plugins
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $RUN/pki/ca.crt}
authorization:
  mode: Webhook
# Imported images only: never garbage-collect them, never evict for disk on a shared machine.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
EOF
  cat >"$dir/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: steward-test
  cluster:
    server: https://127.0.0.1:$(cat "$RUN/kube-apiserver.port")
    certificate-authority: $RUN/pki/ca.crt
users:
- name: kubelet
  user:
    client-certificate: $RUN/pki/kubelet.crt
    client-key: $RUN/pki/kubelet.key
contexts:
- name: kubelet
  context: {cluster: steward-test, user: kubelet}
current-context: kubelet
EOF
  chmod 600 "$dir/kubelet.kubeconfig"
}

# ---------------------------------------------------------------------------------------------- up

# The values kubelet will change, kept once per run so `down` can put them back.
save_sysctls() {
  local s
  [[ -f "$RUN/node.sysctls" ]] && return 0
  for s in "${NODE_SYSCTLS[@]}"; do printf '%s=%s\n' "$s" "$(sysctl -n "$s")"; done >"$RUN/node.sysctls"
  for s in "${NODE_HOST_PATHS[@]}"; do [[ -e "$s" ]] || echo "$s"; done >"$RUN/node.host-paths"
}

kubectl_admin() {
  "$BIN/kubectl" --kubeconfig "$RUN/kubeconfig" --cache-dir "$RUN/kubectl-cache" --request-timeout 10s "$@"
}

wait_for() { # description command...
  local what="$1" deadline=$((SECONDS + NODE_READY_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    node_component_check
    ((SECONDS < deadline)) || die "timed out after ${NODE_READY_TIMEOUT}s waiting for $what"
    sleep 0.5
  done
}

node_component_check() {
  local c
  for c in "${NODE_COMPONENTS[@]}"; do
    if [[ -f "$RUN/$c.pid" ]] && ! pid_alive "$(recorded_pid "$c")" "$c"; then
      log "$c exited; last lines of $RUN/$c.log:"
      tail -n 30 "$RUN/$c.log" >&2 || true
      die "$c did not start"
    fi
  done
}

node_ready() {
  [[ "$(kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

default_service_account() { kubectl_admin get serviceaccount default -n default; }
root_ca_published() { kubectl_admin get configmap kube-root-ca.crt -n default; }

# Starts the node's processes against the running API server (started with node.mode).
node_start() {
  [[ "$(id -u)" -eq 0 ]] || die "the node needs root (containerd, kubelet, cgroups, mounts)"
  local missing
  missing="$(node_missing_tools | paste -sd, -)"
  [[ -z "$missing" ]] || die "missing for the node: $missing (bash scripts/engines.sh up installs them as root)"
  local t0=$SECONDS dir
  dir="$(node_dir)"
  mkdir -p "$dir"
  save_sysctls
  [[ -f "$RUN/pki/kubelet.crt" ]] || issue_client_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"

  write_containerd_config
  start_bg containerd "$RUN/containerd.log" "$(command -v containerd)" --config "$dir/containerd/config.toml"
  wait_for "containerd" ctr_k8s version
  node_images

  local admin=(--kubeconfig "$RUN/kubeconfig" --leader-elect=false --secure-port 0 --v 1)
  start_bg kube-scheduler "$RUN/kube-scheduler.log" "$BIN/kube-scheduler" "${admin[@]}"
  # The token controller needs the service account signing key; the root CA ends up in every
  # namespace's kube-root-ca.crt, which projected service account volumes mount.
  start_bg kube-controller-manager "$RUN/kube-controller-manager.log" "$BIN/kube-controller-manager" "${admin[@]}" \
    --service-account-private-key-file "$RUN/pki/sa.key" \
    --root-ca-file "$RUN/pki/ca.crt" \
    --flex-volume-plugin-dir "$dir/volume-plugins" \
    --use-service-account-credentials=false

  write_kubelet_config
  # --hostname-override gives the node InternalIP 127.0.0.1 (--node-ip refuses a loopback address).
  start_bg kubelet "$RUN/kubelet.log" "$BIN/kubelet" \
    --config "$dir/kubelet-config.yaml" \
    --kubeconfig "$dir/kubelet.kubeconfig" \
    --root-dir "$dir/kubelet" \
    --cert-dir "$dir/kubelet/pki" \
    --hostname-override "$NODE_NAME" \
    --v 1
  wait_for "node $NODE_NAME Ready" node_ready
  wait_for "the default ServiceAccount (token controller)" default_service_account
  wait_for "kube-root-ca.crt in default (root CA publisher)" root_ca_published
  log "node $NODE_NAME Ready in $((SECONDS - t0))s (kubelet on 127.0.0.1:$(cat "$RUN/kubelet.port"); logs in $RUN)"
}

# Adds a node to a control plane started without one: the API server comes back with the
# node's admission plugins, then the node starts.
node_attach() {
  : >"$RUN/node.mode"
  cmd_restart_apiserver 0
  node_start
}

# -------------------------------------------------------------------------------------------- down

# Every container of the node, sandboxes included, killed and removed, while containerd runs.
remove_containers() {
  local id
  [[ -S "$(containerd_socket)" ]] && ctr_k8s version >/dev/null 2>&1 || return 0
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks delete --force "$id" >/dev/null 2>&1 || log "warning: could not delete task $id"
  done
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do
    ctr_k8s containers delete "$id" >/dev/null 2>&1 || true
  done
}

# Mount points under the run dir (kubelet's bind mount of its root, volumes, sandbox shm,
# container root filesystems), deepest first.
unmount_all() {
  local m
  for m in $(awk -v run="$RUN/" 'index($5, run) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount $m"
  done
}

# kubelet's cgroups (kubepods and the pods and QoS classes inside), in every hierarchy.
remove_cgroups() {
  local hierarchy d
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -d "${hierarchy}kubepods" ]] || continue
    while IFS= read -r d; do
      rmdir "$d" 2>/dev/null || log "warning: could not remove cgroup $d"
    done < <(find "${hierarchy}kubepods" -depth -type d)
  done
}

restore_sysctls() {
  local line
  [[ -f "$RUN/node.sysctls" ]] || return 0
  while IFS= read -r line; do sysctl -q -w "$line" >/dev/null || log "warning: could not restore $line"; done \
    <"$RUN/node.sysctls"
  rm -f "$RUN/node.sysctls"
  log "restored ${NODE_SYSCTLS[*]}"
}

remove_host_paths() {
  local p
  [[ -f "$RUN/node.host-paths" ]] || return 0
  while IFS= read -r p; do
    case "$p" in
      # Shared with any other containerd's shims: only the empty directories go.
      /run/containerd) rmdir /run/containerd/s /run/containerd 2>/dev/null || true ;;
      *) rm -rf --one-file-system "$p" ;;
    esac
  done <"$RUN/node.host-paths"
  rm -f "$RUN/node.host-paths"
}

# Stops the node and removes all it made; the API server and etcd stay (down stops them).
node_stop() {
  [[ -d "$(node_dir)" || -f "$RUN/node.sysctls" ]] || return 0
  stop_component kubelet
  remove_containers
  stop_component containerd
  stop_component kube-controller-manager
  stop_component kube-scheduler
  unmount_all
  remove_cgroups
  restore_sysctls
  remove_host_paths
  rm -rf --one-file-system "$(node_dir)"
  log "node stopped; its containers, mounts, cgroups and files removed"
}

# `down-node`: the control plane goes on without a node, as `up` without --node would have
# started it: the node object and the pods bound to it deleted, the API server restarted
# without the node's admission plugins.
node_detach() {
  node_stop
  kubectl_admin delete pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" \
    --force --grace-period=0 >/dev/null 2>&1 || true
  kubectl_admin delete node "$NODE_NAME" --ignore-not-found >/dev/null || log "warning: could not delete node $NODE_NAME"
  rm -f "$RUN/node.mode"
  cmd_restart_apiserver 0
}
