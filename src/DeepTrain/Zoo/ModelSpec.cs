namespace DeepTrain.Zoo;

/// <summary>
/// A built-in model and the arguments <see cref="ModelZoo.Create(ModelSpec)"/> builds it from: enough to rebuild the same
/// graph, so a checkpoint records it (<c>deeptrain.model</c>, <c>deeptrain.model_args</c>).
/// </summary>
/// <param name="Name">The zoo name (<c>resnet20</c>, <c>mlp</c>), as <see cref="ModelZoo.All"/> spells it.</param>
/// <param name="InChannels">Input channels (C of C×H×W).</param>
/// <param name="Classes">Output classes.</param>
/// <param name="Size">Input height and width.</param>
public sealed record ModelSpec(string Name, int InChannels, int Classes, int Size)
{
    /// <summary>The per-sample input shape (C, H, W) every built-in model takes.</summary>
    public Tensors.Shape InputShape => Tensors.Shape.Of(InChannels, Size, Size);
}
