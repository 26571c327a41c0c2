#!/usr/bin/env bash
# Installs Mesa's lavapipe (CPU Vulkan) so the WebGPU backend (Dawn via the `webgpu` npm package) finds an
# adapter on machines without a GPU (CI, development). Debian 12's own mesa-vulkan-drivers (22.3) is
# rejected by Dawn, so the driver comes from bookworm-backports of the same mirror as the system's sources.
# Idempotent: does nothing when a lavapipe ICD is already installed. Needs root (apt-get).
set -euo pipefail

if compgen -G "/usr/share/vulkan/icd.d/lvp_icd*.json" >/dev/null; then
  echo "lavapipe: already installed ($(ls /usr/share/vulkan/icd.d/lvp_icd*.json | head -1))"
  exit 0
fi

sources=/etc/apt/sources.list.d/debian.sources
if [ ! -f "$sources" ]; then
  echo "lavapipe: $sources not found; this script expects Debian 12 (bookworm) with deb822 sources" >&2
  exit 1
fi
uri=$(awk '/^URIs:/{print $2; exit}' "$sources")
echo "deb $uri bookworm-backports main" >/etc/apt/sources.list.d/backports.list

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends libvulkan1
apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers

if ! compgen -G "/usr/share/vulkan/icd.d/lvp_icd*.json" >/dev/null; then
  echo "lavapipe: mesa-vulkan-drivers installed but no lvp_icd*.json ICD file appeared" >&2
  exit 1
fi
echo "lavapipe: installed ($(ls /usr/share/vulkan/icd.d/lvp_icd*.json | head -1))"
