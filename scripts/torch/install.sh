#!/bin/sh
# Installs PyTorch (CPU) from Debian for the encoder fixtures and the
# throughput peer. Run the scripts here with /usr/bin/python3, not a pyenv one.
set -eu
# Debian's torch links the generic reference BLAS (about 1 GFLOP/s);
# libopenblas0-pthread takes over libblas.so.3 through update-alternatives,
# which makes PyTorch a fair speed peer for scripts/torch/bench.sh.
if /usr/bin/python3 -c 'import torch' 2>/dev/null && [ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
	echo "torch already installed: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
	exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y python3-torch python3-numpy libopenblas0-pthread
/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)'
