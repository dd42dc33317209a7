using DeepTrain.Backends;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// Naive double-precision convolution and matrix product, written from the PyTorch docs
/// (torch.nn.Conv2d, torch.matmul) with no optimisation, in logical (N, C, H, W) order:
/// <code>
/// y[n, k, oh, ow] = b[k] + Σ_{c', r, s} w[k, c', r, s] · x[n, g·Cg + c', oh·sH − pH + r·dH, ow·sW − pW + s·dW]
/// </code>
/// with g = k / Kg, zero outside the input. The two backward references are the adjoints of the same
/// sum (every term's product is routed back to x or to w), checked against finite differences in
/// ConvTests.
/// </summary>
public static class NaiveConv
{
    /// <summary>The geometry of a case in logical order.</summary>
    public readonly record struct Geometry(int N, int C, int H, int W, int K, int R, int S, ConvSpec Spec)
    {
        /// <summary>Output height.</summary>
        public int OH => Spec.OutH(H, R);
        /// <summary>Output width.</summary>
        public int OW => Spec.OutW(W, S);
        /// <summary>x's shape.</summary>
        public Shape X => Shape.Of(N, C, H, W);
        /// <summary>w's shape (K, C/groups, R, S).</summary>
        public Shape Wt => Shape.Of(K, C / Spec.Groups, R, S);
        /// <summary>y's shape.</summary>
        public Shape Y => Shape.Of(N, K, OH, OW);
    }

    /// <summary>
    /// Visits every (x index, w index, y index) triple of the convolution sum once, skipping taps
    /// that fall into the padding. Forward and both adjoints are one line each on top of it.
    /// </summary>
    private static void ForEachTap(Geometry g, Action<int, int, int> tap)
    {
        int cg = g.C / g.Spec.Groups, kg = g.K / g.Spec.Groups, oh = g.OH, ow = g.OW;
        for (int n = 0; n < g.N; n++)
            for (int k = 0; k < g.K; k++)
            {
                int grp = k / kg;
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        int yi = ((n * g.K + k) * oh + y) * ow + x;
                        for (int c = 0; c < cg; c++)
                            for (int r = 0; r < g.R; r++)
                            {
                                int ih = y * g.Spec.StrideH - g.Spec.PadH + r * g.Spec.DilationH;
                                if (ih < 0 || ih >= g.H) continue;
                                for (int s = 0; s < g.S; s++)
                                {
                                    int iw = x * g.Spec.StrideW - g.Spec.PadW + s * g.Spec.DilationW;
                                    if (iw < 0 || iw >= g.W) continue;
                                    int xi = ((n * g.C + grp * cg + c) * g.H + ih) * g.W + iw;
                                    int wi = ((k * cg + c) * g.R + r) * g.S + s;
                                    tap(xi, wi, yi);
                                }
                            }
                    }
            }
    }

    /// <summary>y = conv(x, w) + bias (logical order).</summary>
    public static double[] Forward(Geometry g, double[] x, double[] w, double[]? bias)
    {
        var y = new double[g.Y.Elements];
        ForEachTap(g, (xi, wi, yi) => y[yi] += w[wi] * x[xi]);
        if (bias is not null)
            for (int i = 0; i < y.Length; i++) y[i] += bias[i / (g.OH * g.OW) % g.K];
        return y;
    }

    /// <summary>dx = ∂(Σ dy·y)/∂x: every term w·x sends w·dy back to its x.</summary>
    public static double[] BackwardData(Geometry g, double[] dy, double[] w)
    {
        var dx = new double[g.X.Elements];
        ForEachTap(g, (xi, wi, yi) => dx[xi] += w[wi] * dy[yi]);
        return dx;
    }

    /// <summary>dw = ∂(Σ dy·y)/∂w: every term w·x sends x·dy back to its w.</summary>
    public static double[] BackwardFilter(Geometry g, double[] x, double[] dy)
    {
        var dw = new double[g.Wt.Elements];
        ForEachTap(g, (xi, wi, yi) => dw[wi] += x[xi] * dy[yi]);
        return dw;
    }

    /// <summary>dbias[k] = Σ over n, oh, ow of dy[n, k, oh, ow].</summary>
    public static double[] BackwardBias(Geometry g, double[] dy)
    {
        var db = new double[g.K];
        for (int i = 0; i < dy.Length; i++) db[i / (g.OH * g.OW) % g.K] += dy[i];
        return db;
    }

    /// <summary>
    /// C = α·op(A)·op(B) + β·C for row-major A (transA ? (K, M) : (M, K)) and B (transB ? (N, K) : (K, N));
    /// β = 0 ignores C's old values (BLAS semantics: NaN there does not survive).
    /// </summary>
    public static double[] Gemm(bool transA, bool transB, int m, int n, int k, double alpha, double[] a, double[] b, double beta, double[] c)
    {
        var r = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                r[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * n + j]);
            }
        return r;
    }
}
