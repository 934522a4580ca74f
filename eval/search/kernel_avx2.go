//go:build amd64 && goexperiment.simd

package search

import (
	"simd/archsimd"
	"unsafe"
)

var useAVX2 = archsimd.X86.AVX2() && archsimd.X86.FMA()

// scores computes tiles of 4 queries x 2 corpus rows with 8 AVX2 FMA
// accumulators; ragged edges and dimensions that are not a multiple of 8
// go to the portable kernel.
func scores(q, c []float32, d, nq, nc int, out []float32, ldo int) {
	if !useAVX2 || d%8 != 0 {
		scoresGeneric(q, c, d, nq, nc, out, ldo)
		return
	}
	i := 0
	for ; i+4 <= nq; i += 4 {
		q0, q1, q2, q3 := q[i*d:(i+1)*d], q[(i+1)*d:(i+2)*d], q[(i+2)*d:(i+3)*d], q[(i+3)*d:(i+4)*d]
		j := 0
		for ; j+2 <= nc; j += 2 {
			c0, c1 := c[j*d:(j+1)*d], c[(j+1)*d:(j+2)*d]
			var a00, a01, a10, a11, a20, a21, a30, a31 archsimd.Float32x8
			pc0, pc1 := unsafe.Pointer(&c0[0]), unsafe.Pointer(&c1[0])
			pq0, pq1, pq2, pq3 := unsafe.Pointer(&q0[0]), unsafe.Pointer(&q1[0]), unsafe.Pointer(&q2[0]), unsafe.Pointer(&q3[0])
			for off := uintptr(0); off < uintptr(d)*4; off += 32 { // in bounds: every row has d floats, d%8 == 0
				x0 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pc0, off)))
				x1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pc1, off)))
				y := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pq0, off)))
				a00 = y.MulAdd(x0, a00)
				a01 = y.MulAdd(x1, a01)
				y = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pq1, off)))
				a10 = y.MulAdd(x0, a10)
				a11 = y.MulAdd(x1, a11)
				y = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pq2, off)))
				a20 = y.MulAdd(x0, a20)
				a21 = y.MulAdd(x1, a21)
				y = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pq3, off)))
				a30 = y.MulAdd(x0, a30)
				a31 = y.MulAdd(x1, a31)
			}
			out[i*ldo+j], out[i*ldo+j+1] = hsum(a00), hsum(a01)
			out[(i+1)*ldo+j], out[(i+1)*ldo+j+1] = hsum(a10), hsum(a11)
			out[(i+2)*ldo+j], out[(i+2)*ldo+j+1] = hsum(a20), hsum(a21)
			out[(i+3)*ldo+j], out[(i+3)*ldo+j+1] = hsum(a30), hsum(a31)
		}
		if j < nc { // last corpus row
			for r := range 4 {
				out[(i+r)*ldo+j] = dot8(q[(i+r)*d:(i+r+1)*d], c[j*d:(j+1)*d])
			}
		}
	}
	for ; i < nq; i++ { // last queries
		for j := range nc {
			out[i*ldo+j] = dot8(q[i*d:(i+1)*d], c[j*d:(j+1)*d])
		}
	}
}

func dot8(a, b []float32) float32 {
	var acc archsimd.Float32x8
	for k := 0; k < len(a); k += 8 {
		acc = archsimd.LoadFloat32x8Slice(a[k:k+8]).MulAdd(archsimd.LoadFloat32x8Slice(b[k:k+8]), acc)
	}
	return hsum(acc)
}

func hsum(x archsimd.Float32x8) float32 {
	x4 := x.GetHi().Add(x.GetLo())
	x4 = x4.AddPairs(x4)
	return x4.GetElem(0) + x4.GetElem(1)
}
