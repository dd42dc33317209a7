using System.Globalization;

namespace DeepTrain.Training;

/// <summary>
/// What a resumed run changes from the run it continues. Data order, augmentation and dropout are functions of (seed,
/// epoch, batch size), so only the recorded seed and batch size reproduce the uninterrupted run bit for bit. A change is
/// a warning, not a refusal: as in PyTorch Lightning (<c>fit(ckpt_path=…)</c> restores the state and trains with the
/// settings given now) a user may resume on a smaller machine with a smaller batch, and should hear what that costs.
/// </summary>
internal static class ResumeDifferences
{
    /// <summary>The state metadata key of the batch size (the seed's is <c>seed</c>).</summary>
    public const string BatchSizeKey = "batch_size", SeedKey = "seed";

    /// <summary>One warning per setting of <paramref name="options"/> that differs from <paramref name="recorded"/> (a training state's metadata); none for a key the state does not record.</summary>
    public static IEnumerable<string> Find(string folder, IReadOnlyDictionary<string, string> recorded, FitOptions options)
    {
        foreach (var (key, property, now) in new[]
        {
            (SeedKey, "FitOptions.Seed", options.Seed.ToString(CultureInfo.InvariantCulture)),
            (BatchSizeKey, "FitOptions.BatchSize", options.BatchSize.ToString(CultureInfo.InvariantCulture)),
        })
        {
            if (recorded.TryGetValue(key, out var then) && then != now)
                yield return $"resuming '{folder}' with {property} = {now}, but that run was trained with {property} = {then}: the result will differ from the uninterrupted run's";
        }
    }
}
