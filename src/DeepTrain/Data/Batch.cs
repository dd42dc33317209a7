namespace DeepTrain.Data;

/// <summary>
/// One mini-batch as <see cref="DataLoader"/> hands it out: normalised (N, C, H, W) floats in a
/// pinned array (a device copy can read it directly) and N labels, where N = <see cref="BatchSize"/>.
/// The first <see cref="Count"/> rows are real; the rest of a partial last batch is zeros with label 0.
/// The buffers belong to the loader's ring and are reused: a batch stays valid until the consumer
/// asks for the batch after next (the one just released is kept intact for an in-flight copy).
/// </summary>
public sealed class Batch
{
    internal Batch(int batchSize, int channels, int height, int width)
    {
        BatchSize = batchSize;
        Channels = channels;
        Height = height;
        Width = width;
        Images = GC.AllocateArray<float>(batchSize * channels * height * width, pinned: true);
        Labels = GC.AllocateArray<int>(batchSize, pinned: true);
    }

    /// <summary>(BatchSize, C, H, W) normalised images; pinned.</summary>
    public float[] Images { get; }
    /// <summary>BatchSize labels; pinned. Rows at or past <see cref="Count"/> hold 0.</summary>
    public int[] Labels { get; }
    /// <summary>Number of valid rows (less than <see cref="BatchSize"/> only for a partial last batch).</summary>
    public int Count { get; internal set; }
    /// <summary>Position of this batch in its epoch, from 0.</summary>
    public int Index { get; internal set; }
    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; internal set; }
    /// <summary>Rows in <see cref="Images"/>.</summary>
    public int BatchSize { get; }
    /// <summary>Channels per image.</summary>
    public int Channels { get; }
    /// <summary>Image height.</summary>
    public int Height { get; }
    /// <summary>Image width.</summary>
    public int Width { get; }
    /// <summary>Floats per image: C·H·W.</summary>
    public int SampleSize => Channels * Height * Width;
}
