//go:build !(amd64 && goexperiment.simd)

package search

func scores(q, c []float32, d, nq, nc int, out []float32, ldo int) {
	scoresGeneric(q, c, d, nq, nc, out, ldo)
}
