namespace DeepTrain.Data;

/// <summary>
/// Checks that run before training, so that a run which cannot succeed fails before its first step instead of
/// after an epoch: every split holds images, all splits share one image shape (a test set of another size would
/// otherwise be evaluated at the plan's stride and report a meaningless accuracy), and every label is one of the
/// model's classes.
/// </summary>
public static class DatasetChecks
{
    /// <summary>
    /// Ensures <paramref name="train"/>, and <paramref name="validation"/> and <paramref name="test"/> when given,
    /// can train and be evaluated by one model with <paramref name="classes"/> outputs.
    /// </summary>
    /// <param name="train">The training set.</param>
    /// <param name="validation">The validation set, or null.</param>
    /// <param name="test">The test set, or null.</param>
    /// <param name="classes">The model's output count; null checks labels only against each set's own class count (which its constructor did).</param>
    /// <exception cref="InvalidDatasetException">A set is empty, its images differ in shape from the training set's, or a label is at or above <paramref name="classes"/>; the message names the set(s) and the shapes or label.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is less than 1.</exception>
    public static void EnsureCompatible(Dataset train, Dataset? validation = null, Dataset? test = null, int? classes = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (classes is { } c) ArgumentOutOfRangeException.ThrowIfLessThan(c, 1, nameof(classes));
        foreach (var (set, role) in Roles(train, validation, test))
        {
            EnsureNotEmpty(set, role);
            if (!ReferenceEquals(set, train) && (set.Channels, set.Height, set.Width) != (train.Channels, train.Height, train.Width))
                throw new InvalidDatasetException(set.Name,
                    $"{role} '{set.Name}' has images of {Shape(set)}, but training set '{train.Name}' has {Shape(train)}; expected the same shape");
            if (classes is { } k)
                EnsureLabelsBelow(set, role, k);
        }
    }

    /// <summary>
    /// Ensures <paramref name="set"/>'s images have the per-sample shape (C, H, W) a model takes. The built-in models are
    /// built square from the image height, so a set of non-square images is named as such.
    /// </summary>
    /// <param name="set">The data set.</param>
    /// <param name="role">How to call it in the message: "training set", "test set".</param>
    /// <param name="model">The model's name.</param>
    /// <param name="input">The model's per-sample input shape, (C, H, W); a model that takes something else than images is not checked.</param>
    /// <exception cref="InvalidDatasetException">The shapes differ; the message names the model, the set and both shapes.</exception>
    public static void EnsureFitsModel(Dataset set, string role, string model, Tensors.Shape input)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (input.Rank != 3) return;
        var d = input.Dims;
        if ((set.Channels, set.Height, set.Width) == (d[0], d[1], d[2])) return;
        string square = set.Height != set.Width && d[1] == d[2] ? $" (model '{model}' takes square images; these are {set.Height} high and {set.Width} wide)" : "";
        throw new InvalidDatasetException(set.Name, $"{role} '{set.Name}' has images of {Shape(set)}, but model '{model}' takes {d[0]}×{d[1]}×{d[2]}{square}");
    }

    /// <summary>Ensures <paramref name="set"/> holds at least one image.</summary>
    /// <param name="set">The data set.</param>
    /// <param name="role">How to call it in the message: "training set", "test set", "validation set".</param>
    /// <exception cref="InvalidDatasetException">The set has no images.</exception>
    public static void EnsureNotEmpty(Dataset set, string role)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (set.Count == 0)
            throw new InvalidDatasetException(set.Name, $"{role} '{set.Name}' has no images; expected at least one");
    }

    private static void EnsureLabelsBelow(Dataset set, string role, int classes)
    {
        var labels = set.Labels;
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new InvalidDatasetException(set.Name,
                    $"{role} '{set.Name}' has label {labels[i]} at image {i}, but the model has {classes} classes; expected labels 0..{classes - 1}");
    }

    private static IEnumerable<(Dataset Set, string Role)> Roles(Dataset train, Dataset? validation, Dataset? test)
    {
        yield return (train, "training set");
        if (validation is not null) yield return (validation, "validation set");
        if (test is not null) yield return (test, "test set");
    }

    private static string Shape(Dataset d) => $"{d.Channels}×{d.Height}×{d.Width}";
}
