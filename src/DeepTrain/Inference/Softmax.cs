namespace DeepTrain.Inference;

/// <summary>softmax(z)_j = exp(z_j − max z) / Σ_k exp(z_k − max z), in place over one row (torch.softmax(z, dim=-1)); fp32, max subtracted for range.</summary>
internal static class Softmax
{
    public static void InPlace(Span<float> z)
    {
        float max = float.NegativeInfinity;
        foreach (float x in z) max = MathF.Max(max, x);
        float sum = 0;
        for (int j = 0; j < z.Length; j++) sum += z[j] = MathF.Exp(z[j] - max);
        float inv = 1f / sum;
        for (int j = 0; j < z.Length; j++) z[j] *= inv;
    }
}
