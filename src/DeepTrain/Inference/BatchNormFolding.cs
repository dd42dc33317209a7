namespace DeepTrain.Inference;

/// <summary>
/// Batch norm in inference mode is a per-channel affine map, y = s·x + t with s = γ/√(σ² + ε) and t = β − μ·s
/// (torch.nn.BatchNorm2d in eval(); Ioffe and Szegedy 2015, §3.1). After a convolution y = W∗x + b it folds into
/// the convolution: W'[k] = s[k]·W[k], b'[k] = s[k]·b[k] + t[k], as torch.fx's fuse_conv_bn_eval does.
/// Everything is computed in double and rounded once, so the folded weights are the closest floats to the exact ones.
/// Inference sessions (InferenceFusion) and the ONNX export (DeepTrain.Onnx) fold with this one piece.
/// </summary>
internal static class BatchNormFolding
{
    /// <summary>The per-channel scale s and shift t of a batch norm with these parameters and running statistics.</summary>
    public static (double[] Scale, double[] Shift) Affine(ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, double eps)
    {
        var s = new double[gamma.Length];
        var t = new double[gamma.Length];
        for (int c = 0; c < s.Length; c++)
        {
            s[c] = gamma[c] / Math.Sqrt((double)variance[c] + eps);
            t[c] = beta[c] - mean[c] * s[c];
        }
        return (s, t);
    }

    /// <summary>
    /// Folds (scale, shift) into a convolution's weight (K, C/groups, KH, KW) and optional bias (K): returns the new
    /// weight and a bias, which the folded convolution always has.
    /// </summary>
    public static (float[] Weight, float[] Bias) IntoConv(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, double[] scale, double[] shift)
    {
        int k = scale.Length, per = weight.Length / k;
        var w = new float[weight.Length];
        var b = new float[k];
        for (int o = 0; o < k; o++)
        {
            for (int i = 0; i < per; i++) w[o * per + i] = (float)(weight[o * per + i] * scale[o]);
            b[o] = (float)((bias.IsEmpty ? 0.0 : bias[o]) * scale[o] + shift[o]);
        }
        return (w, b);
    }
}
