using System.Text;
using DeepTrain.Cli.Plotting;
using DeepTrain.Tests.Data;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cli.Plotting;

/// <summary>The dependency-free PNG chart: a valid file (chunks, CRCs, zlib, sizes) with every series drawn in its colour.</summary>
public class MetricsPlotTests
{
    private static EpochRecord[] Curves(int epochs, bool validation) => Enumerable.Range(1, epochs).Select(e => new EpochRecord(e,
        2.0 / e, 1 - 0.5 / e, 2.2 / e + 0.1, 1 - 0.6 / e, validation ? 2.1 / e + 0.1 : double.NaN, validation ? 1 - 0.55 / e : double.NaN)).ToArray();

    [Fact]
    public void Crc32_MatchesTheCheckValue_AndABitwiseDefinition()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));   // the standard CRC-32 check value
        var data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 31 + 7)).ToArray();
        Assert.Equal(PngDecoder.BitwiseCrc32(data), Crc32.Compute(data));
    }

    [Fact]
    public void Encoder_RoundTripsPixels_ThroughAnIndependentDecoder()
    {
        const int w = 37, h = 700;   // odd width; 78 KB of incompressible pixels, so the zlib stream spans two IDAT chunks
        var rgb = new byte[w * h * 3];
        new Random(3).NextBytes(rgb);
        var png = PngDecoder.Decode(PngEncoder.Encode(rgb, w, h));
        Assert.Equal((w, h), (png.Width, png.Height));
        Assert.True(png.Chunks.Count(c => c == "IDAT") >= 2, string.Join(",", png.Chunks));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                Assert.Equal(new Rgb(rgb[(y * w + x) * 3], rgb[(y * w + x) * 3 + 1], rgb[(y * w + x) * 3 + 2]), png[x, y]);
        Assert.Throws<ArgumentException>(() => PngEncoder.Encode(rgb, w, h + 1));
    }

    [Fact]
    public void Render_DrawsEverySeriesInItsColour_OnTheRequestedCanvas()
    {
        var png = PngDecoder.Decode(MetricsPlot.Render(Curves(8, validation: true), "run", 960, 420));
        Assert.Equal((960, 420), (png.Width, png.Height));
        // Markers are 5×5 opaque squares, 8 per series per panel, plus the legend swatch: at least 2·8·25 pixels.
        foreach (var (c, name) in new[] { (MetricsPlot.TrainColor, "train"), (MetricsPlot.ValidationColor, "validation"), (MetricsPlot.TestColor, "test") })
            Assert.True(png.Count(c) >= 400, $"{name} series: {png.Count(c)} pixels of its colour");
        Assert.Equal(Rgb.White, png[png.Width - 1, png.Height - 1]);

        // The two panels are the left and right halves: each holds train pixels.
        int left = 0, right = 0;
        for (int y = 0; y < png.Height; y++)
            for (int x = 0; x < png.Width; x++)
                if (png[x, y] == MetricsPlot.TrainColor) { if (x < png.Width / 2) left++; else right++; }
        Assert.True(left >= 200 && right >= 200, $"train pixels: {left} left, {right} right");
    }

    [Fact]
    public void Render_WithoutValidation_LeavesItsColourOut_AndCopesWithOneEpoch()
    {
        var png = PngDecoder.Decode(MetricsPlot.Render(Curves(1, validation: false)));
        Assert.Equal(0, png.Count(MetricsPlot.ValidationColor));
        Assert.True(png.Count(MetricsPlot.TrainColor) >= 50);
        Assert.True(png.Count(MetricsPlot.TestColor) >= 50);
    }

    [Fact]
    public void WriteBeside_ReadsMetricsJsonl_WritesAtomically_AndNamesABadLine()
    {
        using var dir = new TempDir();
        var sb = new StringBuilder();
        foreach (var r in Curves(5, validation: false))
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"epoch\":{r.Epoch},\"train_loss\":{r.TrainLoss},\"train_acc\":{r.TrainAcc},\"test_loss\":{r.TestLoss},\"test_acc\":{r.TestAcc}}}\n");
        File.WriteAllText(dir["metrics.jsonl"], sb.ToString());
        Assert.Equal(5, MetricsPlot.Read(dir["metrics.jsonl"]).Count);
        string png = MetricsPlot.WriteBeside(dir["metrics.jsonl"]);
        Assert.Equal(dir["metrics.png"], png);
        Assert.True(PngDecoder.Decode(File.ReadAllBytes(png)).Count(MetricsPlot.TrainColor) > 0);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));

        File.AppendAllText(dir["metrics.jsonl"], "{\"epoch\": \"six\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => MetricsPlot.Read(dir["metrics.jsonl"]));
        Assert.Contains("line 6", e.Message);
    }
}
