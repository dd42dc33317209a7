using System.Globalization;
using System.Text.Json;

namespace DeepTrain.Cli.Plotting;

/// <summary>One epoch of a run's metrics.jsonl; NaN where a value was not recorded (no validation split, a loss without accuracy).</summary>
internal sealed record EpochRecord(int Epoch, double TrainLoss, double TrainAcc, double TestLoss, double TestAcc, double ValLoss, double ValAcc);

/// <summary>
/// The training-curve chart written beside metrics.jsonl as metrics.png: two panels, loss and error %
/// (100·(1 − accuracy)) per epoch, with the training, validation (when the run has a split) and test series
/// in distinct colours, axes with ticks, grid lines and a legend. Drawn by <see cref="Raster"/> with the
/// built-in font and encoded by <see cref="PngEncoder"/>: no native library, no system fonts, so it works
/// the same on a bare server, in a container and on the GPU machines.
/// </summary>
internal static class MetricsPlot
{
    /// <summary>Colour of the training series (matplotlib's tab:blue).</summary>
    public static readonly Rgb TrainColor = new(31, 119, 180);
    /// <summary>Colour of the validation series (tab:orange).</summary>
    public static readonly Rgb ValidationColor = new(255, 127, 14);
    /// <summary>Colour of the test series (tab:green).</summary>
    public static readonly Rgb TestColor = new(44, 160, 44);

    private static readonly Rgb Ink = new(40, 40, 40), Grid = new(225, 225, 225), Frame = new(120, 120, 120);

    /// <summary>Reads metrics.jsonl (one JSON object per epoch, as <c>deeptrain train</c> writes it); the last row of an epoch wins.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is not a JSON object with a numeric "epoch"; the message names the file and line.</exception>
    public static IReadOnlyList<EpochRecord> Read(string metricsPath)
    {
        if (!File.Exists(metricsPath)) throw new FileNotFoundException($"{metricsPath}: no metrics file (a training run writes metrics.jsonl into its output folder)", metricsPath);
        var byEpoch = new SortedDictionary<int, EpochRecord>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(metricsPath))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var o = doc.RootElement;
                double Get(string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
                int epoch = o.GetProperty("epoch").GetInt32();
                byEpoch[epoch] = new EpochRecord(epoch, Get("train_loss"), Get("train_acc"), Get("test_loss"), Get("test_acc"), Get("val_loss"), Get("val_acc"));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{metricsPath}, line {lineNo}: expected a JSON object with a numeric \"epoch\" ({e.Message})", e);
            }
        }
        return byEpoch.Values.ToArray();
    }

    /// <summary>
    /// Re-plots <paramref name="metricsPath"/> into <paramref name="pngPath"/> (default: metrics.png beside it),
    /// atomically: the PNG is written to a temporary file in the same folder and renamed over the old one, so
    /// a viewer never sees half a file.
    /// </summary>
    /// <returns>The path written.</returns>
    public static string WriteBeside(string metricsPath, string? pngPath = null, string? title = null)
    {
        var rows = Read(metricsPath);
        pngPath ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(metricsPath))!, "metrics.png");
        byte[] png = Render(rows, title ?? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(metricsPath))));
        string tmp = pngPath + ".tmp";
        File.WriteAllBytes(tmp, png);
        File.Move(tmp, pngPath, overwrite: true);
        return pngPath;
    }

    /// <summary>Draws the two-panel chart of <paramref name="rows"/> and returns it as PNG bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is too small for two panels (below 320×200).</exception>
    public static byte[] Render(IReadOnlyList<EpochRecord> rows, string? title = null, int width = 960, int height = 420)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (width < 320 || height < 200) throw new ArgumentOutOfRangeException(nameof(width), $"metrics plot: {width}x{height} is too small, expected at least 320x200");
        using var r = new Raster(width, height);
        r.Text(12, 10, string.IsNullOrEmpty(title) ? "training curves" : title, Ink, scale: 2);
        static double Err(double acc) => double.IsFinite(acc) ? 100 * (1 - acc) : double.NaN;
        var loss = new (string, Rgb, double[])[]
        {
            ("train", TrainColor, rows.Select(x => x.TrainLoss).ToArray()),
            ("validation", ValidationColor, rows.Select(x => x.ValLoss).ToArray()),
            ("test", TestColor, rows.Select(x => x.TestLoss).ToArray()),
        };
        var error = new (string, Rgb, double[])[]
        {
            ("train", TrainColor, rows.Select(x => Err(x.TrainAcc)).ToArray()),
            ("validation", ValidationColor, rows.Select(x => Err(x.ValAcc)).ToArray()),
            ("test", TestColor, rows.Select(x => Err(x.TestAcc)).ToArray()),
        };
        int[] epochs = rows.Select(x => x.Epoch).ToArray();
        int half = width / 2;
        Panel(r, new PanelBox(62, 40, half - 14, height - 44), "loss", epochs, loss);
        Panel(r, new PanelBox(half + 62, 40, width - 14, height - 44), "error %", epochs, error);
        return r.ToPng();
    }

    private readonly record struct PanelBox(int Left, int Top, int Right, int Bottom);

    private static void Panel(Raster r, PanelBox box, string name, int[] epochs, (string Name, Rgb Color, double[] Values)[] series)
    {
        var shown = series.Where(s => s.Values.Any(double.IsFinite)).ToArray();
        var all = shown.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        double lo = all.Length > 0 ? all.Min() : 0, hi = all.Length > 0 ? all.Max() : 1;
        if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
        double pad = 0.05 * (hi - lo);
        var (y0, y1, ystep) = NiceRange(lo >= 0 ? Math.Max(lo - pad, 0) : lo - pad, hi + pad, 6);   // losses and errors are ≥ 0: no negative axis
        double x0 = epochs.Length > 0 ? epochs.Min() : 1, x1 = epochs.Length > 0 ? epochs.Max() : 1;
        if (x1 - x0 < 1) { x0 -= 0.5; x1 += 0.5; }
        double X(double e) => box.Left + (e - x0) / (x1 - x0) * (box.Right - box.Left);
        double Y(double v) => box.Bottom - (v - y0) / (y1 - y0) * (box.Bottom - box.Top);

        // Grid and y ticks.
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(ystep) + 1e-9));
        for (double v = y0; v <= y1 + ystep * 1e-6; v += ystep)
        {
            int y = (int)Math.Round(Y(v));
            r.HLine(box.Left, box.Right, y, Grid);
            r.HLine(box.Left - 4, box.Left - 1, y, Frame);
            string label = v.ToString("F" + decimals, CultureInfo.InvariantCulture);
            r.Text(box.Left - 7 - BitmapFont.Measure(label), y - BitmapFont.GlyphHeight / 2, label, Ink);
        }
        // x ticks: whole epochs, at most about ten labels.
        int span = (int)Math.Round(x1 - x0), xstep = Math.Max(1, (int)NiceStep(Math.Max(span, 1) / 10.0));
        for (int e = (int)Math.Ceiling(x0 / xstep) * xstep; e <= x1; e += xstep)
        {
            if (e < x0) continue;
            int x = (int)Math.Round(X(e));
            r.VLine(x, box.Top, box.Bottom, Grid);
            r.VLine(x, box.Bottom + 1, box.Bottom + 4, Frame);
            string label = e.ToString(CultureInfo.InvariantCulture);
            r.Text(x - BitmapFont.Measure(label) / 2, box.Bottom + 8, label, Ink);
        }
        // Frame and labels.
        r.HLine(box.Left, box.Right, box.Top, Frame); r.HLine(box.Left, box.Right, box.Bottom, Frame);
        r.VLine(box.Left, box.Top, box.Bottom, Frame); r.VLine(box.Right, box.Top, box.Bottom, Frame);
        r.Text((box.Left + box.Right - BitmapFont.Measure("epoch")) / 2, box.Bottom + 22, "epoch", Ink);
        r.TextVertical(box.Left - 58, (box.Top + box.Bottom + BitmapFont.Measure(name)) / 2, name, Ink);

        // Series: lines between consecutive finite points, a marker on each.
        foreach (var (_, color, values) in shown)
        {
            for (int i = 0; i + 1 < values.Length; i++)
                if (double.IsFinite(values[i]) && double.IsFinite(values[i + 1]))
                    r.Line(X(epochs[i]), Y(values[i]), X(epochs[i + 1]), Y(values[i + 1]), color);
            for (int i = 0; i < values.Length; i++)
                if (double.IsFinite(values[i])) r.Marker(X(epochs[i]), Y(values[i]), color);
        }

        // Legend, top right inside the panel.
        if (shown.Length == 0) return;
        int lw = shown.Max(s => BitmapFont.Measure(s.Name)) + 30, lh = shown.Length * 14 + 8;
        int lx = box.Right - lw - 6, ly = box.Top + 6;
        r.FillRect(lx, ly, lx + lw, ly + lh, Rgb.White);
        r.HLine(lx, lx + lw, ly, Frame); r.HLine(lx, lx + lw, ly + lh, Frame);
        r.VLine(lx, ly, ly + lh, Frame); r.VLine(lx + lw, ly, ly + lh, Frame);
        for (int i = 0; i < shown.Length; i++)
        {
            int y = ly + 5 + i * 14;
            r.FillRect(lx + 6, y + 1, lx + 20, y + 6, shown[i].Color);
            r.Text(lx + 24, y, shown[i].Name, Ink);
        }
    }

    /// <summary>A range covering [lo, hi] whose ends are multiples of a 1-2-5 step giving about <paramref name="ticks"/> intervals.</summary>
    private static (double Lo, double Hi, double Step) NiceRange(double lo, double hi, int ticks)
    {
        double step = NiceStep((hi - lo) / ticks);
        return (Math.Floor(lo / step) * step, Math.Ceiling(hi / step) * step, step);
    }

    /// <summary>The smallest of 1, 2, 5 × 10^k at least <paramref name="raw"/>.</summary>
    private static double NiceStep(double raw)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    }
}
