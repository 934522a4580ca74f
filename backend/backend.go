// Package backend picks the GoMLX compute backend at run time.
//
// The pure-Go backend is always compiled in. The XLA backend (CPU, CUDA) is
// compiled in with the build tag "xla"; choose it with GOMLX_BACKEND=xla:cuda.
package backend

import (
	"fmt"
	"os"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // registers the "go" backend
)

// Default is used when GOMLX_BACKEND is unset. The Go backend's default
// parallel mode deadlocks on 2-core machines, so tdro runs it sequentially
// per op (parallelism=-1) unless the user says otherwise.
const Default = "go:parallelism=-1"

var (
	once     sync.Once
	instance compute.Backend
	initErr  error
)

// Get returns the process-wide backend, creating it on first use from
// $GOMLX_BACKEND (or Default).
func Get() (compute.Backend, error) {
	once.Do(func() {
		config := os.Getenv(compute.ConfigEnvVar)
		if config == "" {
			config = Default
		}
		instance, initErr = newWithConfig(config)
		if initErr != nil {
			initErr = fmt.Errorf("backend %q (set %s to change it): %w", config, compute.ConfigEnvVar, initErr)
		}
	})
	return instance, initErr
}

// MustGet is Get for tests and benchmarks.
func MustGet() compute.Backend {
	b, err := Get()
	if err != nil {
		panic(err)
	}
	return b
}

// Verbose lets the backend's own start-up messages through (to stderr);
// `tdro -v` sets it. Otherwise they are dropped: the Go backend announces
// its parallelism on every start, which is noise in every command's output.
var Verbose bool

// newWithConfig builds the backend. The Go backend announces its parallelism
// with a Printf when it starts; that line goes to stderr with Verbose and
// nowhere otherwise, so that stdout stays clean for commands whose output is
// data (tdro model encode, tdro eval).
func newWithConfig(config string) (b compute.Backend, err error) {
	stdout := os.Stdout
	os.Stdout = os.Stderr
	if !Verbose {
		if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
			os.Stdout = null
			defer null.Close()
		}
	}
	defer func() {
		os.Stdout = stdout
		if r := recover(); r != nil { // compute.NewWithConfig panics on unknown backends
			err = fmt.Errorf("%v", r)
		}
	}()
	return compute.NewWithConfig(config)
}
