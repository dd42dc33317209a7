namespace DeepTrain.Data;

/// <summary>
/// Data sets that cannot be used as given: an empty split, splits whose images differ in shape, or labels
/// beyond the model's classes. The message names the sets and what was expected, e.g.
/// <c>test set 'cifar10/test' has images of 3×24×24, but training set 'cifar10/train' has 3×32×32; expected the same shape</c>.
/// </summary>
public sealed class InvalidDatasetException : DeepTrainException
{
    /// <summary>Creates the exception for the set named <paramref name="datasetName"/>.</summary>
    /// <param name="datasetName">The data set found wrong (<see cref="Dataset.Name"/>).</param>
    /// <param name="message">What was found and what was expected.</param>
    public InvalidDatasetException(string datasetName, string message) : base(message) => DatasetName = datasetName;

    /// <summary>The data set found wrong.</summary>
    public string DatasetName { get; }
}
