package search

// scoresGeneric is the portable kernel (out[i*ldo+j] = q_i . c_j): plain dot products, 4 partial sums
// to shorten the dependency chain.
func scoresGeneric(q, c []float32, d, nq, nc int, out []float32, ldo int) {
	for i := range nq {
		qi := q[i*d : (i+1)*d]
		for j := range nc {
			cj := c[j*d : (j+1)*d]
			var s0, s1, s2, s3 float32
			k := 0
			for ; k+4 <= d; k += 4 {
				s0 += qi[k] * cj[k]
				s1 += qi[k+1] * cj[k+1]
				s2 += qi[k+2] * cj[k+2]
				s3 += qi[k+3] * cj[k+3]
			}
			for ; k < d; k++ {
				s0 += qi[k] * cj[k]
			}
			out[i*ldo+j] = (s0 + s1) + (s2 + s3)
		}
	}
}
