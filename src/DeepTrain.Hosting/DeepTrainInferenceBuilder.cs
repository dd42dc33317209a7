using Microsoft.Extensions.DependencyInjection;

namespace DeepTrain.Hosting;

/// <summary>Adds sessions to what <see cref="DeepTrainInferenceServiceCollectionExtensions.AddDeepTrainInference(IServiceCollection)"/> registered.</summary>
public sealed class DeepTrainInferenceBuilder
{
    private readonly RegisteredSessionNames _names;

    internal DeepTrainInferenceBuilder(IServiceCollection services, RegisteredSessionNames names) => (Services, _names) = (services, names);

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Registers the unnamed session (what injecting <see cref="Inference.InferenceSession"/> gives) from <paramref name="checkpointPath"/>.</summary>
    /// <exception cref="ArgumentException">The path is empty, or the unnamed session is already registered.</exception>
#pragma warning disable RS0026 // the unnamed and the named registration, as AddPredictionEnginePool's FromFile; new settings go into InferenceSessionRegistration
    public DeepTrainInferenceBuilder FromCheckpoint(string checkpointPath, Action<InferenceSessionRegistration>? configure = null)
        => FromCheckpoint("", checkpointPath, configure);

    /// <summary>Registers session <paramref name="name"/> from <paramref name="checkpointPath"/>; <paramref name="configure"/> sets its options.</summary>
    /// <exception cref="ArgumentException">The path is empty, or <paramref name="name"/> is already registered.</exception>
    public DeepTrainInferenceBuilder FromCheckpoint(string name, string checkpointPath, Action<InferenceSessionRegistration>? configure = null)
#pragma warning restore RS0026
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        if (!_names.Names.Add(name))
            throw new ArgumentException($"a DeepTrain inference session is already registered as '{name}'", nameof(name));
        Services.Configure<InferenceSessionRegistration>(name, r =>
        {
            r.CheckpointPath = checkpointPath;
            configure?.Invoke(r);
        });
        return this;
    }
}
