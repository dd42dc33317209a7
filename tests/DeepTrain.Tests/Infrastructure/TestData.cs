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
}
