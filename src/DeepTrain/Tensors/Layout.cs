namespace DeepTrain.Tensors;

/// <summary>
/// Memory order of a rank-4 tensor whose logical shape is always (N, C, H, W).
/// Rank-1 and rank-2 tensors are plain row-major and ignore the layout.
/// </summary>
public enum Layout : byte
{
    /// <summary>Channels-first: index = ((n·C + c)·H + h)·W + w. PyTorch's default.</summary>
    NCHW,
    /// <summary>Channels-last: index = ((n·H + h)·W + w)·C + c. PyTorch's channels_last; cuDNN's fast fp16 layout.</summary>
    NHWC,
}
