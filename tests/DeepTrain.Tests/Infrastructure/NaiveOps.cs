using DeepTrain.Backends;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// Naive double-precision definitions of the non-convolution operations, written straight from the
/// PyTorch docs with no optimisation, in logical (N, C, H, W) order. The reference of every forward test,
/// and (through <see cref="FiniteDifference"/>) of every backward test.
/// </summary>
public static class NaiveOps
{
    /// <summary>Narrows to fp32.</summary>
    public static float[] ToFloat(double[] a) => Array.ConvertAll(a, v => (float)v);

    /// <summary>Per-channel geometry (N, C, S) of a shape: S = product of the dimensions after C.</summary>
    public static (int N, int C, int S) Ncs(Shape s)
    {
        int sp = 1;
        for (int i = 2; i < s.Rank; i++) sp *= s[i];
        return (s[0], s.Rank > 1 ? s[1] : 1, sp);
    }

    /// <summary>Logical (N, C, H, W) → NHWC memory order.</summary>
    public static double[] NchwToNhwc(double[] x, Shape s)
    {
        var (n, c, sp) = Ncs(s);
        var r = new double[x.Length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < sp; p++) r[(b * sp + p) * c + ch] = x[(b * c + ch) * sp + p];
        return r;
    }

    /// <summary>NHWC memory order → logical (N, C, H, W).</summary>
    public static double[] NhwcToNchw(double[] x, Shape s)
    {
        var (n, c, sp) = Ncs(s);
        var r = new double[x.Length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < sp; p++) r[(b * c + ch) * sp + p] = x[(b * sp + p) * c + ch];
        return r;
    }

    /// <summary>ReLU, LeakyReLU, sigmoid, tanh as defined by torch.nn.</summary>
    public static double Activation(ActivationKind kind, double alpha, double x) => kind switch
    {
        ActivationKind.Relu => Math.Max(x, 0),
        ActivationKind.LeakyRelu => x > 0 ? x : alpha * x,
        ActivationKind.Sigmoid => 1 / (1 + Math.Exp(-x)),
        ActivationKind.Tanh => Math.Tanh(x),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>y = x + bias[c] over (N, C, S).</summary>
    public static double[] AddBias(double[] x, Shape s, double[] bias)
    {
        var (n, c, sp) = Ncs(s);
        var y = (double[])x.Clone();
        for (int i = 0; i < y.Length; i++) y[i] += bias[i / sp % c];
        _ = n;
        return y;
    }

    /// <summary>
    /// Training-mode batch norm (torch.nn.functional.batch_norm, training=True): per channel over N·S,
    /// biased variance for normalising. Returns y, the batch mean and the biased batch variance.
    /// </summary>
    public static (double[] Y, double[] Mean, double[] Var) BatchNormTraining(double[] x, Shape s, double[] gamma, double[] beta, double eps)
    {
        var (n, c, sp) = Ncs(s);
        var mean = new double[c];
        var var = new double[c];
        int m = n * sp;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++) for (int p = 0; p < sp; p++) sum += x[(b * c + ch) * sp + p];
            mean[ch] = sum / m;
            double sq = 0;
            for (int b = 0; b < n; b++) for (int p = 0; p < sp; p++) { double d = x[(b * c + ch) * sp + p] - mean[ch]; sq += d * d; }
            var[ch] = sq / m;
        }
        return (BatchNormApply(x, s, gamma, beta, mean, var, eps), mean, var);
    }

    /// <summary>y = γ·(x − mean)/√(var + ε) + β per channel (inference mode with running statistics).</summary>
    public static double[] BatchNormApply(double[] x, Shape s, double[] gamma, double[] beta, double[] mean, double[] var, double eps)
    {
        var (_, c, sp) = Ncs(s);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int ch = i / sp % c;
            y[i] = gamma[ch] * (x[i] - mean[ch]) / Math.Sqrt(var[ch] + eps) + beta[ch];
        }
        return y;
    }

    /// <summary>2-D pooling in floor mode, straight from the PyTorch docs (MaxPool2d, AvgPool2d).</summary>
    public static double[] Pool2d(PoolSpec p, double[] x, Shape s)
    {
        int n = s[0], c = s[1], h = s[2], w = s[3], oh = p.OutH(h), ow = p.OutW(w);
        var y = new double[n * c * oh * ow];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        double max = double.NegativeInfinity, sum = 0;
                        int count = 0;
                        for (int ki = 0; ki < p.KernelH; ki++)
                            for (int kj = 0; kj < p.KernelW; kj++)
                            {
                                int ih = i * p.StrideH - p.PadH + ki, iw = j * p.StrideW - p.PadW + kj;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                                double v = x[((b * c + ch) * h + ih) * w + iw];
                                max = Math.Max(max, v); sum += v; count++;
                            }
                        y[((b * c + ch) * oh + i) * ow + j] = p.Mode switch
                        {
                            PoolMode.Max => max,
                            PoolMode.AverageIncludePad => sum / (p.KernelH * p.KernelW),
                            _ => sum / count,
                        };
                    }
        return y;
    }

    /// <summary>dst[:, dstC0 + i, h, w] (+)= src[:, srcC0 + i, h·stride, w·stride] (logical order; dst is copied).</summary>
    public static double[] CopyChannels(double[] src, Shape ss, int srcC0, double[] dst, Shape ds, int dstC0, int channels, int stride, bool accumulate)
    {
        var r = (double[])dst.Clone();
        int n = ss[0], sc = ss[1], sh = ss.H, sw = ss.W, dc = ds[1], dh = ds.H, dw = ds.W;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < channels; i++)
                for (int h = 0; h < dh; h++)
                    for (int w = 0; w < dw; w++)
                    {
                        double v = src[((b * sc + srcC0 + i) * sh + h * stride) * sw + w * stride];
                        ref double o = ref r[((b * dc + dstC0 + i) * dh + h) * dw + w];
                        o = accumulate ? o + v : v;
                    }
        return r;
    }

    /// <summary>F.cross_entropy(z, labels), mean reduction: (1/N)·Σ (log Σ_k e^z_k − z_label).</summary>
    public static double SoftmaxCrossEntropy(double[] z, int[] labels, int n, int k)
    {
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            double m = double.NegativeInfinity;
            for (int j = 0; j < k; j++) m = Math.Max(m, z[i * k + j]);
            double s = 0;
            for (int j = 0; j < k; j++) s += Math.Exp(z[i * k + j] - m);
            total += m + Math.Log(s) - z[i * k + labels[i]];
        }
        return total / n;
    }

    /// <summary>F.mse_loss, mean reduction.</summary>
    public static double Mse(double[] p, double[] t)
    {
        double s = 0;
        for (int i = 0; i < p.Length; i++) s += (p[i] - t[i]) * (p[i] - t[i]);
        return s / p.Length;
    }

    /// <summary>F.binary_cross_entropy_with_logits, mean reduction: −[t·log σ(z) + (1 − t)·log(1 − σ(z))].</summary>
    public static double BceWithLogits(double[] z, double[] t)
    {
        double s = 0;
        for (int i = 0; i < z.Length; i++)
        {
            // log σ(z) = −log(1 + e^−z), log(1 − σ(z)) = −z − log(1 + e^−z); softplus evaluated stably.
            double sp = Math.Max(-z[i], 0) + Math.Log(Math.Exp(-Math.Max(-z[i], 0)) + Math.Exp(-z[i] - Math.Max(-z[i], 0)));
            s += t[i] * sp + (1 - t[i]) * (z[i] + sp);
        }
        return s / z.Length;
    }

    /// <summary>One textbook torch.optim.SGD step in double (w, b updated in place).</summary>
    public static void SgdStep(double[] w, double[] g, double[] b, SgdArgs a, long step)
    {
        for (int i = 0; i < w.Length; i++)
        {
            double d = g[i] + (double)a.WeightDecay * w[i];
            if (a.Momentum != 0)
            {
                b[i] = step == 1 ? d : a.Momentum * b[i] + (1 - (double)a.Dampening) * d;
                d = a.Nesterov ? d + a.Momentum * b[i] : b[i];
            }
            w[i] -= a.LearningRate * d;
        }
    }
}
