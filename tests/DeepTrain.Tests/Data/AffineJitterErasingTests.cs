using DeepTrain.Data;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Data;

/// <summary>Rotation/translation, colour jitter and random erasing against hand-computed pixels, torchvision's formulas and their ranges.</summary>
public class AffineJitterErasingTests
{
    private static float[] Unit(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => r.Next(256) / 255f).ToArray();
    }

    [Fact]
    public void Affine_ZeroAngleAndShift_IsTheIdentity()
    {
        var x = Unit(3 * 5 * 7, 1);
        var y = new float[x.Length];
        new RandomAffine(0, 0, 0).Apply(x, y, 3, 5, 7);
        Assert.Equal(x, y);
    }

    [Theory]
    [InlineData(2, -1)]
    [InlineData(-3, 2)]
    [InlineData(0, 4)]
    [InlineData(7, 0)]   // the whole width: all fill
    public void Affine_WholePixelTranslation_ShiftsPixelsExactly_WithZeroFill(int tx, int ty)
    {
        int c = 2, h = 5, w = 7;
        var x = Unit(c * h * w, 2);
        var y = new float[x.Length];
        new RandomAffine(0, tx, ty).Apply(x, y, c, h, w);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    int si = i - ty, sj = j - tx;   // output (i, j) shows source (i − ty, j − tx)
                    float expected = si >= 0 && si < h && sj >= 0 && sj < w ? x[(ch * h + si) * w + sj] : 0f;
                    Assert.Equal(expected, y[(ch * h + i) * w + j]);
                }
    }

    [Fact]
    public void Affine_SmallRotation_IsTheHandComputedBilinearSample()
    {
        // 5×5, 4° about the centre (2, 2). Output row 1, column 3: u = 1, v = −1;
        // xs = cos·1 + sin·(−1) + 2, ys = −sin·1 + cos·(−1) + 2.
        int h = 5, w = 5;
        var x = Unit(h * w, 3);
        var y = new float[x.Length];
        new RandomAffine(4, 0, 0).Apply(x, y, 1, h, w);
        double t = 4 * Math.PI / 180, xs = Math.Cos(t) - Math.Sin(t) + 2, ys = -Math.Sin(t) - Math.Cos(t) + 2;
        Assert.Equal(2, (int)Math.Floor(xs));   // xs ≈ 2.928: between columns 2 and 3
        Assert.Equal(0, (int)Math.Floor(ys));   // ys ≈ 0.933: between rows 0 and 1, all inside
        double ax = xs - 2, ay = ys;
        double expected = (1 - ax) * (1 - ay) * x[0 * w + 2] + ax * (1 - ay) * x[0 * w + 3] + (1 - ax) * ay * x[1 * w + 2] + ax * ay * x[1 * w + 3];
        Assert.Equal(expected, y[1 * w + 3], 1e-6);
        // Output (0, 0): xs = cos·(−2) + sin·(−2) + 2 ≈ −0.135, so the left neighbours lie outside: torchvision's
        // mask multiplies the in-image part s by m = the in-image weights.
        double xs0 = -2 * Math.Cos(t) - 2 * Math.Sin(t) + 2, ys0 = 2 * Math.Sin(t) - 2 * Math.Cos(t) + 2;
        Assert.True(xs0 < 0 && ys0 > 0 && ys0 < 1);
        double bx = xs0 + 1, by = ys0;   // weight of column 0 (x0 = −1) is bx; row 0 is 1 − by
        double s = bx * (1 - by) * x[0] + bx * by * x[w];
        double m = bx * (1 - by) + bx * by;
        Assert.Equal(s * m, y[0], 1e-6);
    }

    [Theory]
    [InlineData("affine_rot3")]
    [InlineData("affine_rot-4.5_shift")]
    [InlineData("affine_rot1.25_shift")]
    [InlineData("affine_shift_only")]
    public void Affine_MatchesTorchvisionTensorAffine(string name)
    {
        var g = GoldenFile.Load("augment", name);
        var shape = g.ShapeOf("x");
        var y = new float[shape.Elements];
        new RandomAffine(g.Real("angle"), g.Int("tx"), g.Int("ty")).Apply(g.F("x"), y, shape[0], shape[1], shape[2]);
        // fp32 grid arithmetic in torch against double coordinates here: a few ulps of [0, 1].
        Tolerance.AssertClose(g.F("y"), y, atol: 2e-6, rtol: 1e-5, name);
    }

    [Fact]
    public void Affine_Draw_StaysInRange_WithWholePixelShifts()
    {
        var o = new AugmentationOptions { Degrees = 5, Translate = 0.125f };
        double lo = 0, hi = 0;
        var seen = new HashSet<int>();
        for (int k = 0; k < 4000; k++)
        {
            var rng = SplitMix64.For(7, 2, 0, (ulong)k);
            var a = RandomAffine.Draw(o, 32, 24, ref rng);
            Assert.InRange(a.Angle, -5, 5);
            Assert.InRange(a.Tx, -3, 3);   // round(U(−3, 3))
            Assert.InRange(a.Ty, -4, 4);   // round(U(−4, 4))
            (lo, hi) = (Math.Min(lo, a.Angle), Math.Max(hi, a.Angle));
            seen.Add(a.Tx);
        }
        Assert.True(lo < -4.9 && hi > 4.9, $"angles span [{lo}, {hi}]");
        Assert.Equal(7, seen.Count);
    }

    /// <summary>torchvision's adjustments in double, one at a time, written from the formulas.</summary>
    private static double[] NaiveJitter(float[] x, int c, int plane, double[] f, int[] order)
    {
        var y = x.Select(v => (double)v).ToArray();
        double Luma(int i) => 0.2989 * y[i] + 0.587 * y[plane + i] + 0.114 * y[2 * plane + i];
        foreach (int k in order)
        {
            if (k == 0) for (int i = 0; i < y.Length; i++) y[i] = Math.Clamp(f[0] * y[i], 0, 1);
            if (k == 1)
            {
                double mean = c == 3 ? Enumerable.Range(0, plane).Average(Luma) : y.Average();
                for (int i = 0; i < y.Length; i++) y[i] = Math.Clamp(f[1] * y[i] + (1 - f[1]) * mean, 0, 1);
            }
            if (k == 2 && c == 3)
                for (int i = 0; i < plane; i++)
                {
                    double l = Luma(i);
                    for (int ch = 0; ch < 3; ch++) y[ch * plane + i] = Math.Clamp(f[2] * y[ch * plane + i] + (1 - f[2]) * l, 0, 1);
                }
        }
        return y;
    }

    [Theory]
    [InlineData(3, 1.3, 0.6, 1.7, 0, 1, 2)]
    [InlineData(3, 0.4, 1.5, 0.0, 2, 0, 1)]
    [InlineData(3, 1.0, 0.2, 1.9, 1, 2, 0)]
    [InlineData(1, 0.8, 1.7, 1.0, 1, 0, 2)]
    public void ColorJitter_MatchesTheBlendFormulas_InTheDrawnOrder(int c, double b, double ct, double s, int o0, int o1, int o2)
    {
        int plane = 6 * 5;
        var x = Unit(c * plane, 4);
        var j = new ColorJitter((float)b, (float)ct, (float)s, o0 | o1 << 2 | o2 << 4);
        var y = (float[])x.Clone();
        j.Apply(y, c, plane);
        Tolerance.AssertClose(NaiveJitter(x, c, plane, [(float)b, (float)ct, (float)s], [o0, o1, o2]), y, atol: 1e-6, rtol: 1e-6, "jitter");
    }

    [Theory]
    [InlineData("jitter_rgb_bcs")]
    [InlineData("jitter_rgb_scb")]
    [InlineData("jitter_rgb_cbs")]
    [InlineData("jitter_gray_cb")]
    public void ColorJitter_MatchesTorchvisionBlends(string name)
    {
        var g = GoldenFile.Load("augment", name);
        var shape = g.ShapeOf("x");
        var order = g.Attrs.GetProperty("order").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var j = new ColorJitter((float)g.Real("brightness"), (float)g.Real("contrast"), (float)g.Real("saturation"), order[0] | order[1] << 2 | order[2] << 4);
        var y = g.F("x");
        j.Apply(y, shape[0], shape[1] * shape[2]);
        // The contrast mean is summed in double here and by torch's pairwise fp32 sum there.
        Tolerance.AssertClose(g.F("y"), y, atol: 2e-6, rtol: 1e-5, name);
    }

    [Fact]
    public void ColorJitter_FactorOne_IsTheIdentity_InEveryOrder()
    {
        var x = Unit(3 * 16, 5);
        foreach (int order in new[] { 0 | 1 << 2 | 2 << 4, 2 | 0 << 2 | 1 << 4, 1 | 2 << 2 | 0 << 4 })
        {
            var y = (float[])x.Clone();
            new ColorJitter(1f, 1f, 1f, order).Apply(y, 3, 16);
            Assert.Equal(x, y);
        }
    }

    [Fact]
    public void ColorJitter_Draw_FactorsInTheirRanges_AndEveryOrderOccurs()
    {
        var o = new AugmentationOptions { Brightness = 0.4f, Contrast = 1.5f, Saturation = 0.1f };
        var orders = new HashSet<int>();
        float bMin = 9, bMax = 0, cMin = 9, cMax = 0;
        for (int k = 0; k < 3000; k++)
        {
            var rng = SplitMix64.For(3, 2, 1, (ulong)k);
            var j = ColorJitter.Draw(o, ref rng);
            Assert.InRange(j.Brightness, 0.6f, 1.4f);
            Assert.InRange(j.Contrast, 0f, 2.5f);       // max(0, 1 − 1.5) = 0
            Assert.InRange(j.Saturation, 0.9f, 1.1f);
            Assert.Equal(3, new[] { j.Step(0), j.Step(1), j.Step(2) }.Distinct().Count());
            orders.Add(j.Order);
            (bMin, bMax, cMin, cMax) = (Math.Min(bMin, j.Brightness), Math.Max(bMax, j.Brightness), Math.Min(cMin, j.Contrast), Math.Max(cMax, j.Contrast));
        }
        Assert.Equal(6, orders.Count);
        Assert.True(bMin < 0.61f && bMax > 1.39f && cMin < 0.01f && cMax > 2.49f, $"b [{bMin}, {bMax}], c [{cMin}, {cMax}]");
    }

    [Fact]
    public void RandomErasing_BoxesRespectScaleRatioAndImage_AndHappenWithProbabilityP()
    {
        int h = 32, w = 24, erased = 0, draws = 20_000;
        double area = h * w;
        for (int k = 0; k < draws; k++)
        {
            var rng = SplitMix64.For(11, 2, 0, (ulong)k);
            var e = RandomErasing.Draw(0.5, h, w, ref rng);
            if (e.Height == 0) continue;
            erased++;
            Assert.True(e.Height < h && e.Width < w && e.Top >= 0 && e.Left >= 0 && e.Top + e.Height <= h && e.Left + e.Width <= w, $"{e}");
            // h = round(√(a·r)), w = round(√(a/r)): each within ½ of its real value.
            Assert.True((e.Height + 0.5) * (e.Width + 0.5) >= 0.02 * area && (e.Height - 0.5) * (e.Width - 0.5) <= 0.33 * area, $"area of {e}");
            Assert.True((e.Height + 0.5) / (e.Width - 0.5) >= 0.3 && (e.Height - 0.5) / (e.Width + 0.5) <= 3.3, $"ratio of {e}");
        }
        // Binomial(20000, 0.5): sd ≈ 71; ±5 sd. (Every drawn box fits at least once in 10 tries at this size.)
        Assert.InRange(erased, draws / 2 - 355, draws / 2 + 355);
    }

    [Fact]
    public void RandomErasing_ZeroesExactlyTheBox_InEveryChannel()
    {
        int c = 3, h = 6, w = 5;
        var x = Unit(c * h * w, 6).Select(v => v + 1f).ToArray();   // nothing is 0 before
        new RandomErasing(1, 2, 3, 2).Apply(x, c, h, w);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    Assert.Equal(i is >= 1 and < 4 && j is >= 2 and < 4, x[(ch * h + i) * w + j] == 0f);
    }

    [Fact]
    public void RandomErasing_OnATinyImage_NeverErasesAWholeSide()
    {
        // 1×2: only boxes with 0 rows fit (h < 1), so whatever is drawn, no pixel is erased, as in torchvision.
        for (int k = 0; k < 500; k++)
        {
            var rng = SplitMix64.For(1, 2, 0, (ulong)k);
            float[] x = [0.5f, 0.25f];
            RandomErasing.Draw(1.0, 1, 2, ref rng).Apply(x, 1, 1, 2);
            Assert.Equal([0.5f, 0.25f], x);
        }
    }
}
