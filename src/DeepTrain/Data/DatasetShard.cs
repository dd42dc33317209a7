namespace DeepTrain.Data;

/// <summary>
/// One rank's part of every epoch, as PyTorch's <c>DistributedSampler</c> takes it: all ranks draw the same permutation
/// (from the seed and the epoch) and rank r takes its positions r, r + N, r + 2N, … With
/// <see cref="DataLoader.DropLast"/> (training) the tail that would leave ranks unequal is dropped, so every rank has
/// ⌊count / N⌋ samples and takes the same number of steps (DistributedSampler's <c>drop_last=True</c>; nothing is
/// repeated); without it (evaluation) the positions are split exactly, so each sample is seen once and the counts can be
/// summed, the ranks differing by at most one sample. Batch k of the N ranks together is then batch k of a single process
/// with N times the batch size, and each image keeps the augmentation of its global position.
/// </summary>
/// <param name="Rank">This rank, 0 to <paramref name="Count"/> - 1.</param>
/// <param name="Count">The number of ranks.</param>
public readonly record struct DatasetShard(int Rank, int Count)
{
    /// <summary>Checks the pair.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Count is below 1 or Rank is outside [0, Count).</exception>
    public void Validate()
    {
        if (Count < 1) throw new ArgumentOutOfRangeException(nameof(Count), Count, $"DatasetShard.Count must be ≥ 1, got {Count}");
        if (Rank < 0 || Rank >= Count) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, $"DatasetShard.Rank must be in [0, {Count - 1}], got {Rank}");
    }

    /// <summary>The samples this rank takes of <paramref name="total"/>: ⌊total / Count⌋ when <paramref name="equal"/>, else its exact share.</summary>
    public int Length(int total, bool equal) => equal ? total / Count : (total - Rank + Count - 1) / Count;

    /// <summary>The global position (in the epoch's permutation) of this rank's <paramref name="position"/>-th sample.</summary>
    public int GlobalPosition(int position) => Rank + Count * position;
}
