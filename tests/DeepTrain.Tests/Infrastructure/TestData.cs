using DeepTrain.Data;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>Seeded test inputs. The same seed gives the same values on every machine and run.</summary>
public static class TestData
{
    /// <summary>Standard-normal values (Box–Muller over a fixed-seed <see cref="Random"/>).</summary>
    public static float[] Normal(int seed, params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        var r = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++)
        {
            double u1 = 1.0 - r.NextDouble(), u2 = r.NextDouble();
            a[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    /// <summary>Uniform values in [lo, hi).</summary>
    public static float[] Uniform(int seed, int n, float lo = -1f, float hi = 1f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)r.NextDouble();
        return a;
    }

    /// <summary>Integer labels in [0, classes).</summary>
    public static int[] Labels(int seed, int n, int classes)
    {
        var r = new Random(seed);
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = r.Next(classes);
        return a;
    }

    /// <summary>Widens to double.</summary>
    public static double[] ToDouble(this float[] a) => Array.ConvertAll(a, x => (double)x);

    /// <summary>
    /// <paramref name="n"/> 4×4 gray images of 3 classes (label i mod 3), each pixel classStep·label + sigma·N(0, 1) + offset
    /// clamped to a byte (Rng seed 3): separable blobs a small network learns in a few steps.
    /// </summary>
    public static Dataset Blobs(int n, double classStep = 60, double sigma = 40, double offset = 60)
    {
        var rng = new DeepTrain.Utils.Rng(3);
        var pixels = new byte[n * 16];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            for (int p = 0; p < 16; p++) pixels[i * 16 + p] = (byte)Math.Clamp(classStep * labels[i] + sigma * rng.NextNormal() + offset, 0, 255);
        }
        return new Dataset("blobs", 1, 4, 4, 3, pixels, labels);
    }

    /// <summary>
    /// n seeded 8×8 gray images of 4 classes (label i % 4): class k is a gradient of brightness 40 + 50·k plus noise
    /// (σ 30) — small enough for a few training steps, separable enough to learn. The training, resume, checkpoint and
    /// mixed-precision tests share it.
    /// </summary>
    public static Dataset TinyImages(int n, ulong seed = 11, string[]? classNames = null)
    {
        var rng = new DeepTrain.Utils.Rng(seed);
        var pixels = new byte[n * 64];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 4;
            for (int p = 0; p < 64; p++) pixels[i * 64 + p] = (byte)Math.Clamp(50 * labels[i] + 30 * rng.NextNormal() + 40 + (p % 8) * 4, 0, 255);
        }
        return new Dataset("tiny", 1, 8, 8, 4, pixels, labels, classNames);
    }
}
