using DeepTrain.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DeepTrain.Hosting;

/// <summary>Registers DeepTrain inference sessions with a service collection.</summary>
public static class DeepTrainInferenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="InferenceSessionPool"/> (every named session) and <see cref="InferenceSession"/> (the unnamed one) as
    /// singletons; add sessions with the returned builder's <c>FromCheckpoint</c>. Calling it again returns a builder over the same set.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static DeepTrainInferenceBuilder AddDeepTrainInference(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var names = services.FirstOrDefault(d => d.ServiceType == typeof(RegisteredSessionNames))?.ImplementationInstance as RegisteredSessionNames;
        if (names is null)
        {
            names = new RegisteredSessionNames();
            services.AddSingleton(names);
            services.AddOptions();
            services.TryAddSingleton<InferenceSessionPool>();
            services.TryAddSingleton(sp => sp.GetRequiredService<InferenceSessionPool>().GetSession());
        }
        return new DeepTrainInferenceBuilder(services, names);
    }

    /// <summary><see cref="AddDeepTrainInference(IServiceCollection)"/> with the unnamed session from <paramref name="checkpointPath"/>.</summary>
    /// <exception cref="ArgumentException">The path is empty, or the unnamed session is already registered.</exception>
    public static DeepTrainInferenceBuilder AddDeepTrainInference(this IServiceCollection services, string checkpointPath, Action<InferenceSessionRegistration>? configure = null)
        => services.AddDeepTrainInference().FromCheckpoint(checkpointPath, configure);
}
