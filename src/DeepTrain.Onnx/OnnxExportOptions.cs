using DeepTrain.Data;

namespace DeepTrain.Onnx;

/// <summary>How <see cref="OnnxExporter"/> writes a model. The defaults suit ONNX Runtime: opset 17, batch norm folded.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The lowest ONNX opset the exporter writes (ONNX 1.12); every operator it emits has this meaning up to <see cref="MaxOpset"/>.</summary>
    public const int MinOpset = 17;

    /// <summary>The highest ONNX opset the exporter writes (ONNX 1.16).</summary>
    public const int MaxOpset = 21;

    /// <summary>The default opset of the ai.onnx domain the model imports, in [<see cref="MinOpset"/>, <see cref="MaxOpset"/>]. Default 17.</summary>
    public int Opset { get; init; } = MinOpset;

    /// <summary>
    /// Fold each batch norm that follows a convolution, and reads only its output, into that convolution's weights and
    /// bias (w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, computed in double). Batch norms that follow anything else
    /// (pre-activation blocks) become BatchNormalization nodes in inference mode. Default true; false writes every
    /// batch norm as a BatchNormalization node.
    /// </summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>
    /// The input normalisation to put into the graph as its first nodes: <c>Sub(mean)</c> then <c>Div(std)</c> per channel,
    /// so the model takes pixel values scaled to [0, 1] (byte/255). Null (the default for <see cref="OnnxExporter.Export(Modeling.Model, Stream, OnnxExportOptions?)"/>):
    /// the model takes the already-normalised tensor, as DeepTrain's plan input does. Exporting a checkpoint uses the
    /// normalisation it records unless this is set.
    /// </summary>
    public Normalization? Normalization { get; init; }

    /// <summary>Class names to record in the model's metadata (<c>deeptrain.class_names</c>); null: none, or the checkpoint's.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>Extra entries for the model's metadata_props (keys must not start with <c>deeptrain.</c>, the exporter's own).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="Opset"/> is outside [<see cref="MinOpset"/>, <see cref="MaxOpset"/>].</exception>
    /// <exception cref="ArgumentException"><see cref="Metadata"/> sets a <c>deeptrain.*</c> key.</exception>
    internal void Validate()
    {
        if (Opset is < MinOpset or > MaxOpset)
            throw new ArgumentOutOfRangeException(nameof(Opset), Opset, $"OnnxExportOptions.Opset must be in [{MinOpset}, {MaxOpset}]");
        foreach (var key in Metadata?.Keys ?? [])
            if (key.StartsWith("deeptrain.", StringComparison.Ordinal))
                throw new ArgumentException($"OnnxExportOptions.Metadata: key '{key}' is the exporter's own (deeptrain.*)", nameof(Metadata));
    }
}
