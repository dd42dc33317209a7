using Microsoft.Extensions.ObjectPool;

namespace DeepTrain.Inference;

/// <summary>
/// How the session's pool makes and takes back execution contexts: <see cref="Create"/> compiles a new one; a context is kept
/// unless its run failed (a failed GPU run may leave its stream in an unknown state), in which case the pool disposes it.
/// </summary>
internal sealed class InferenceContextPolicy(Func<InferenceContext> create) : IPooledObjectPolicy<InferenceContext>
{
    /// <inheritdoc />
    public InferenceContext Create() => create();

    /// <inheritdoc />
    public bool Return(InferenceContext context) => !context.Faulted;
}
