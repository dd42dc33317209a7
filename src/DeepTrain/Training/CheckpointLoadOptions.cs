using DeepTrain.Data;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// What a caller knows about a checkpoint that may not record it: a file written before checkpoints described themselves
/// (format 0), or one saved without a normalisation. Each value is used only where the file lacks the field; a field the
/// file records always wins (<see cref="CheckpointInfo.Read"/>).
/// </summary>
public sealed record CheckpointLoadOptions
{
    /// <summary>The built-in model's name (<see cref="Zoo.ModelZoo"/>), for <c>deeptrain.model</c>.</summary>
    public string? Model { get; init; }
    /// <summary>The per-sample input shape (C, H, W) with H = W, for <c>deeptrain.input_shape</c> (and with <see cref="Classes"/>, the model's arguments).</summary>
    public Shape? InputShape { get; init; }
    /// <summary>The number of classes, for <c>deeptrain.classes</c>.</summary>
    public int? Classes { get; init; }
    /// <summary>One name per class, for <c>deeptrain.class_names</c>.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>The input normalisation the model was trained with, for <c>deeptrain.normalization</c>.</summary>
    public Normalization? Normalization { get; init; }
    /// <summary>The activation layout, for <c>deeptrain.layout</c> (default NCHW).</summary>
    public Layout? Layout { get; init; }
    /// <summary>The training precision, for <c>deeptrain.precision</c> (default fp32).</summary>
    public Precision? Precision { get; init; }
}
