using DeepTrain.Data;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// What a checkpoint records about how its model is fed, beside what the model's graph says (see <see cref="CheckpointInfo"/>):
/// the input normalisation, the class names, and the layout and precision it was trained in.
/// </summary>
/// <param name="Normalization">The input normalisation the model was trained with, or null.</param>
/// <param name="ClassNames">One name per class, or null.</param>
/// <param name="Layout">The training layout.</param>
/// <param name="Precision">The training precision.</param>
public sealed record CheckpointDescription(Normalization? Normalization = null, IReadOnlyList<string>? ClassNames = null, Layout Layout = Layout.NCHW, Precision Precision = Precision.Float32);
