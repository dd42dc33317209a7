namespace DeepTrain.Inference;

/// <summary>One class of a prediction: its index, its name (from the checkpoint; the index as text when it names none) and its probability.</summary>
public sealed record ClassScore(int Index, string Name, float Probability);

/// <summary>
/// The prediction for one sample: the most probable class and the <c>k</c> most probable, best first (ties: the lower index first,
/// as torch.topk on a stable sort).
/// </summary>
public sealed record Prediction(ClassScore Best, IReadOnlyList<ClassScore> TopK);
