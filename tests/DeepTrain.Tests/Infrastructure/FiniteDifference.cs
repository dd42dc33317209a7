namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// Central finite differences in double, the gradient reference of every backward test (Caffe's
/// GradientChecker): ∂L/∂x_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / 2h, error O(h²·L‴) + O(ε_double·|L|/h).
/// With h = 1e-5 on O(1) inputs both terms are ≈ 1e-10, far below fp32's 1e-7.
/// </summary>
public static class FiniteDifference
{
    /// <summary>Default step: balances the O(h²) truncation error against double rounding.</summary>
    public const double DefaultStep = 1e-5;

    /// <summary>∇L at <paramref name="x"/> for a scalar function L. <paramref name="x"/> is restored afterwards.</summary>
    public static double[] Gradient(Func<double[], double> loss, double[] x, double h = DefaultStep)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i];
            x[i] = xi + h; double up = loss(x);
            x[i] = xi - h; double down = loss(x);
            x[i] = xi;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    /// <summary>
    /// The vector–Jacobian product dyᵀ·∂f/∂x, i.e. ∇ of L(x) = Σ_j dy_j·f(x)_j: what a backward
    /// operation computes from the upstream gradient <paramref name="dy"/>.
    /// </summary>
    public static double[] VectorJacobian(Func<double[], double[]> f, double[] x, double[] dy, double h = DefaultStep)
        => Gradient(v => Dot(f(v), dy), x, h);

    /// <summary>Σ a_i·b_i.</summary>
    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
