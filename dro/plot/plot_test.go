package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outDir is a temporary directory, or $TDRO_PLOT_DIR to keep the figures
// for a look.
func outDir(t *testing.T) string {
	if d := os.Getenv("TDRO_PLOT_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

func checkFigure(t *testing.T, base string, minW, minH int) {
	t.Helper()
	b, err := os.ReadFile(base + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s.png: %v", base, err)
	}
	if r := img.Bounds(); r.Dx() < minW || r.Dy() < minH {
		t.Errorf("%s.png is %dx%d", base, r.Dx(), r.Dy())
	}
	svg, err := os.ReadFile(base + ".svg")
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Fatalf("%s.svg: %v", base, err)
	}
}

var names = []string{"cmrc2018", "drcd", "korquad", "ko_chatbot", "ko_qpair", "pubmedqa", "conala", "agnews", "sick", "stsb_mt"}

func TestTrajectoriesAndBars(t *testing.T) {
	dir := outDir(t)
	var steps []int
	var alpha [][]float64
	for s := 0; s <= 200; s += 5 {
		row := make([]float64, len(names))
		sum := 0.0
		for g := range row {
			row[g] = math.Exp(float64(s) / 200 * math.Sin(float64(g)))
			sum += row[g]
		}
		for g := range row {
			row[g] /= sum
		}
		steps, alpha = append(steps, s), append(alpha, row)
	}
	base := filepath.Join(dir, "weights_over_steps")
	if err := Trajectories(base, "tDRO domain weights", names, steps, alpha); err != nil {
		t.Fatal(err)
	}
	checkFigure(t, base, 600, 300)
	bars := filepath.Join(dir, "weights_final")
	if err := Bars(bars+".png", "final domain weights", names, alpha[len(alpha)-1]); err != nil {
		t.Fatal(err)
	}
	checkFigure(t, bars, 500, 200)
}

func TestPlotBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, err := range []error{
		Trajectories(filepath.Join(dir, "a"), "", nil, []int{1}, [][]float64{{1}}),
		Trajectories(filepath.Join(dir, "b"), "", []string{"x"}, []int{1, 2}, [][]float64{{1}}),
		Trajectories(filepath.Join(dir, "c"), "", []string{"x", "y"}, []int{1}, [][]float64{{1}}),
		Bars(filepath.Join(dir, "d"), "", []string{"x"}, []float64{1, 2}),
	} {
		if err == nil || !strings.Contains(err.Error(), "plot:") {
			t.Errorf("err = %v", err)
		}
	}
}

func TestLabelledTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{0.075, 0.1, []string{"0.075", "0.080", "0.085", "0.090", "0.095", "0.100"}},
		{0, 1, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{0, 40, []string{"0", "10", "20", "30", "40"}},
	} {
		var got []string
		for _, tk := range (labelledTicks{}).Ticks(tc.lo, tc.hi) {
			got = append(got, tk.Label)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("[%v,%v]: %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}
