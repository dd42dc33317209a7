namespace DeepTrain.Inference;

/// <summary>What <see cref="InferenceSession.Run(ReadOnlySpan{float}, Span{float})"/> writes per sample.</summary>
public enum InferenceOutput
{
    /// <summary>The model's raw scores (logits), as the last layer computes them.</summary>
    Logits,
    /// <summary>softmax(logits) per sample (torch.softmax(z, dim=1)), computed on the host in fp32 after the forward pass.</summary>
    Probabilities,
}
