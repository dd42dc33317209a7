namespace DeepTrain.Training;

/// <summary>Analytic and numeric derivatives disagree: the message names the parameter, the element and both values.</summary>
public sealed class GradientCheckException(string message, IReadOnlyList<GradientSample> failures) : DeepTrainException(message)
{
    /// <summary>Every sample outside the tolerance, worst first.</summary>
    public IReadOnlyList<GradientSample> Failures { get; } = failures;
}
