using DeepTrain.Data;
using Xunit;

namespace DeepTrain.Tests.Data;

public class AugmentationTests
{
    /// <summary>(x/255 − 0)/(1/255): the table maps a byte to (nearly) itself, and 0 stays 0.</summary>
    private static readonly Normalization Bytes = new([0f], [1f / 255f]);

    private static float[] Run(byte[] src, int c, int h, int w, int padding, CropFlip cf, Normalization norm)
    {
        var dst = new float[src.Length];
        Array.Fill(dst, float.NaN);
        cf.Apply(src, dst, c, h, w, padding, norm);
        return dst;
    }

    private static float[] Expect(Normalization norm, params byte[] bytes) => bytes.Select(b => norm.Apply(0, b)).ToArray();

    [Fact]
    public void Crop_4x4_Padding1_IsTheShiftedWindowWithZeros()
    {
        byte[] img = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();   // rows 1..4, 5..8, 9..12, 13..16
        // Offset (0, 2) in the 6×6 padded image: one zero row on top, the window's last column is padding.
        Assert.Equal(Expect(Bytes,
            0, 0, 0, 0,
            2, 3, 4, 0,
            6, 7, 8, 0,
            10, 11, 12, 0), Run(img, 1, 4, 4, 1, new CropFlip(0, 2, false), Bytes));
        // Same window, mirrored left–right.
        Assert.Equal(Expect(Bytes,
            0, 0, 0, 0,
            0, 4, 3, 2,
            0, 8, 7, 6,
            0, 12, 11, 10), Run(img, 1, 4, 4, 1, new CropFlip(0, 2, true), Bytes));
        // Offset (1, 1) is the identity; (2, 0) shifts up and right.
        Assert.Equal(Expect(Bytes, img), Run(img, 1, 4, 4, 1, new CropFlip(1, 1, false), Bytes));
        Assert.Equal(Expect(Bytes,
            0, 5, 6, 7,
            0, 9, 10, 11,
            0, 13, 14, 15,
            0, 0, 0, 0), Run(img, 1, 4, 4, 1, new CropFlip(2, 0, false), Bytes));
    }

    [Theory]
    [InlineData(1, 4, 4, 1)]
    [InlineData(3, 4, 5, 2)]
    [InlineData(2, 3, 7, 4)]   // padding wider than the image: some windows are all padding
    public void CropFlip_MatchesNaivePadCropFlip_ForEveryOffset(int c, int h, int w, int p)
    {
        var img = new byte[c * h * w];
        new Random(3).NextBytes(img);
        var norm = new Normalization(Enumerable.Repeat(0.4f, c).ToArray(), Enumerable.Range(1, c).Select(i => 0.3f * i).ToArray());
        for (int dy = 0; dy <= 2 * p; dy++)
            for (int dx = 0; dx <= 2 * p; dx++)
                foreach (bool flip in new[] { false, true })
                {
                    var expected = new float[img.Length];
                    for (int ch = 0; ch < c; ch++)
                        for (int y = 0; y < h; y++)
                            for (int x = 0; x < w; x++)
                            {
                                int xc = flip ? w - 1 - x : x;                    // flip after crop
                                int sy = y + dy - p, sx = xc + dx - p;            // padded → source
                                byte v = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[(ch * h + sy) * w + sx] : (byte)0;
                                expected[(ch * h + y) * w + x] = norm.Apply(ch, v);
                            }
                    Assert.Equal(expected, Run(img, c, h, w, p, new CropFlip(dy, dx, flip), norm));
                }
    }

    [Fact]
    public void SplitMix64_MatchesReferenceOutputs()
    {
        // Vigna's splitmix64.c seeded with 0.
        var g = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, g.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, g.Next());
        Assert.Equal(0x06C45D188009454FUL, g.Next());
    }

    [Fact]
    public void Draw_IsSeededUniformAndCoversEveryOffset()
    {
        var opt = new AugmentationOptions { Padding = 2, HorizontalFlip = true };
        var seen = new int[5, 5];
        int flips = 0;
        const int n = 5000;
        for (int pos = 0; pos < n; pos++)
        {
            var d = CropFlip.Draw(opt, seed: 42, epoch: 3, position: pos);
            Assert.Equal(d, CropFlip.Draw(opt, seed: 42, epoch: 3, position: pos));
            Assert.InRange(d.Dy, 0, 4);
            Assert.InRange(d.Dx, 0, 4);
            seen[d.Dy, d.Dx]++;
            if (d.Flip) flips++;
        }
        foreach (int count in seen) Assert.InRange(count, n / 25 / 2, n / 25 * 2);
        Assert.InRange(flips, n * 0.45, n * 0.55);
        int differ = Enumerable.Range(0, 100).Count(pos => CropFlip.Draw(opt, 42, 3, pos) != CropFlip.Draw(opt, 42, 4, pos));
        Assert.True(differ > 80, $"epochs 3 and 4 drew the same choices at {100 - differ} of 100 positions");
        Assert.Equal(new CropFlip(0, 0, false), CropFlip.Draw(new AugmentationOptions(), 42, 3, 7));
    }
}
