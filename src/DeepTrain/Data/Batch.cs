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
    internal Batch(int batchSize, int channels, int height, int width, bool mixing = false)
    {
        BatchSize = batchSize;
        Channels = channels;
        Height = height;
        Width = width;
        Images = GC.AllocateArray<float>(batchSize * channels * height * width, pinned: true);
        Labels = GC.AllocateArray<int>(batchSize, pinned: true);
        LabelsB = GC.AllocateArray<int>(batchSize, pinned: true);
        MixPermutation = mixing ? new int[batchSize] : [];
        MixScratch = mixing ? new float[Images.Length] : [];
    }

    /// <summary>(BatchSize, C, H, W) normalised images; pinned.</summary>
    public float[] Images { get; }
    /// <summary>BatchSize labels; pinned. Rows at or past <see cref="Count"/> hold 0.</summary>
    public int[] Labels { get; }
    /// <summary>
    /// CutMix's second labels y_b = y[π] (pinned): the label of the image each row's box was pasted from.
    /// Equal to <see cref="Labels"/> when the batch is not mixed.
    /// </summary>
    public int[] LabelsB { get; }
    /// <summary>
    /// CutMix's λ, the fraction of each row's area that is still its own image: the loss is
    /// λ·CE(output, <see cref="Labels"/>) + (1 − λ)·CE(output, <see cref="LabelsB"/>). 1 when not mixed.
    /// </summary>
    public float Lambda { get; internal set; } = 1f;
    /// <summary>Whether CutMix mixed this batch (then the trainer uses the mixed-label loss).</summary>
    public bool IsMixed { get; internal set; }
    /// <summary>CutMix's permutation scratch (empty when CutMix is off).</summary>
    internal int[] MixPermutation { get; }
    /// <summary>CutMix's box scratch, one batch of floats (empty when CutMix is off).</summary>
    internal float[] MixScratch { get; }
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
