//go:build xla

package backend

// Built with -tags xla, tdro also has GoMLX's XLA backend (CPU and CUDA
// through PJRT plugins): GOMLX_BACKEND=xla:cuda runs every stage on a GPU.
// The default build leaves it out and needs nothing beyond Go.
import _ "github.com/gomlx/go-xla/compute/xla" // registers the "xla" backend
