package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/relcache/relcache/internal/safefile"
)

// The files WriteFiles writes into its directory.
const (
	ReportJSON      = "report.json"
	LatencyPlot     = "latency.png"       // p50 and p99 per second of the mixed run
	RSSPlot         = "rss.png"           // RSS and used_memory over the load
	BytesBySizePlot = "bytes_by_size.png" // bytes per relation by list size
)

// WriteFiles writes the report as JSON and its three plots into dir,
// creating it if needed.
func (r *CapacityReport) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("capacity report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("capacity report: %w", err)
	}
	// Through safefile: a report directory is often shared (/tmp), and a
	// link planted at a report's name must not redirect the write.
	err = safefile.WriteFile(filepath.Join(dir, ReportJSON), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("capacity report: %w", err)
	}
	for name, p := range map[string]func() (*plot.Plot, error){
		LatencyPlot:     r.latencyPlot,
		RSSPlot:         r.rssPlot,
		BytesBySizePlot: r.bytesBySizePlot,
	} {
		pl, err := p()
		if err == nil {
			err = savePlot(pl, filepath.Join(dir, name))
		}
		if err != nil {
			return fmt.Errorf("capacity report: plot %s: %w", name, err)
		}
	}
	return nil
}

// savePlot writes pl as a PNG at path, atomically and never through a link.
func savePlot(pl *plot.Plot, path string) error {
	wt, err := pl.WriterTo(8*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	return safefile.WriteFile(path, 0o644, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

// newPlot is a plot with room above its title.
func newPlot() *plot.Plot {
	p := plot.New()
	p.Title.Padding = vg.Points(6)
	return p
}

func (r *CapacityReport) title(what string) string {
	return fmt.Sprintf("%s: %s, %d users, %d relations", r.Config.Target, what, r.Users, r.Relations)
}

func (r *CapacityReport) latencyPlot() (*plot.Plot, error) {
	p := newPlot()
	mode := "open loop"
	if r.Config.Rate > 0 {
		mode = fmt.Sprintf("%.0f req/s, from intended start", r.Config.Rate)
	}
	if h := r.Run.Host; h != nil {
		// Steal explains tails a server did not cause; a reader of
		// the plot should not need the JSON to know it was there.
		mode += fmt.Sprintf(")\nhost CPU steal %.2f cores, worst second %.2f", h.Steal, h.StealMaxSecond)
	} else {
		mode += ")"
	}
	p.Title.Text = r.title("latency over time (" + mode)
	p.X.Label.Text = "second of the run"
	p.Y.Label.Text = "latency, ms (all ops)"
	p50 := make(plotter.XYs, len(r.Run.Timeline))
	p99 := make(plotter.XYs, len(r.Run.Timeline))
	for i, s := range r.Run.Timeline {
		p50[i] = plotter.XY{X: float64(s.Second), Y: float64(s.P50) / 1e3}
		p99[i] = plotter.XY{X: float64(s.Second), Y: float64(s.P99) / 1e3}
	}
	if len(p50) == 0 {
		return p, nil
	}
	top := 0.0
	for _, xy := range p99 {
		top = max(top, xy.Y)
	}
	p.Y.Min, p.Y.Max = 0, 1.25*top // room for the legend
	p.Legend.Top = true
	return p, plotutil.AddLinePoints(p, "p50", p50, "p99", p99)
}

func (r *CapacityReport) rssPlot() (*plot.Plot, error) {
	p := newPlot()
	p.Title.Text = r.title("memory over the load")
	p.X.Label.Text = "relations loaded, millions"
	p.Y.Label.Text = "MiB"
	rss := make(plotter.XYs, len(r.LoadSamples))
	used := make(plotter.XYs, len(r.LoadSamples))
	for i, s := range r.LoadSamples {
		x := float64(s.Relations) / 1e6
		rss[i] = plotter.XY{X: x, Y: float64(s.RSS) / (1 << 20)}
		used[i] = plotter.XY{X: x, Y: float64(s.UsedMemory) / (1 << 20)}
	}
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	return p, plotutil.AddLinePoints(p, "RSS", rss, "used_memory", used)
}

func (r *CapacityReport) bytesBySizePlot() (*plot.Plot, error) {
	p := newPlot()
	what := "array bytes/relation by list size"
	if r.Config.Target == "redis" {
		what = fmt.Sprintf("MEMORY USAGE bytes/relation by list size (up to %d keys each)", redisBucketN)
	}
	p.Title.Text = r.title(what)
	p.X.Label.Text = "follows per user"
	p.Y.Label.Text = "bytes per relation"
	var vals plotter.Values
	var names []string
	for _, b := range r.SizeBuckets {
		if b.SampledRelations == 0 {
			continue
		}
		vals = append(vals, b.BytesPerRelation)
		if b.MinFollows == b.MaxFollows {
			names = append(names, fmt.Sprint(b.MinFollows))
		} else {
			names = append(names, fmt.Sprintf("%d-%d", b.MinFollows, b.MaxFollows))
		}
	}
	if len(vals) == 0 {
		return p, nil
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(18))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars, plotter.NewGrid())
	p.NominalX(names...)
	return p, nil
}
