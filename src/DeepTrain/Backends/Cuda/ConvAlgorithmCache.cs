using DeepTrain.Interop;
using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cuda;

/// <summary>The three convolution directions cuDNN chooses an algorithm for separately.</summary>
internal enum ConvDirection : byte { Forward, BackwardData, BackwardFilter }

/// <summary>What a convolution's algorithm choice depends on: direction, shapes, geometry, storage type and layout.</summary>
internal readonly record struct ConvKey(ConvDirection Direction, Shape X, Shape W, ConvSpec Spec, DType DType, Layout Layout);

/// <summary>A chosen algorithm, the math type it runs with and the workspace cuDNN asked for it under that math type.</summary>
internal readonly record struct ConvChoice(int Algo, long WorkspaceBytes, cudnnMathType_t Math);

/// <summary>
/// The CUDA backend's memory of convolution algorithms: the choice per <see cref="ConvKey"/> (made once, by cuDNN's
/// heuristics or by timing), and the (algorithm, math type) pairs cuDNN refused at run time for a key, which a later
/// choice for that key skips. Rejecting a choice forgets it, so the next call chooses again among the rest. One
/// instance per backend; not thread-safe (a backend serves one stream).
/// </summary>
internal sealed class ConvAlgorithmCache
{
    private readonly Dictionary<ConvKey, ConvChoice> _chosen = [];
    private readonly HashSet<(ConvKey Key, int Algo, cudnnMathType_t Math)> _rejected = [];

    /// <summary>The choice made for <paramref name="key"/>, if any.</summary>
    public bool TryGet(ConvKey key, out ConvChoice choice) => _chosen.TryGetValue(key, out choice);

    /// <summary>Records <paramref name="choice"/> for <paramref name="key"/>, replacing an earlier one.</summary>
    public void Store(ConvKey key, ConvChoice choice) => _chosen[key] = choice;

    /// <summary>cuDNN refused <paramref name="choice"/> at run time: forget it for <paramref name="key"/> and never pick it again there.</summary>
    public void Reject(ConvKey key, ConvChoice choice)
    {
        _chosen.Remove(key);
        _rejected.Add((key, choice.Algo, choice.Math));
    }

    /// <summary>Whether <paramref name="algo"/> under <paramref name="math"/> was refused for <paramref name="key"/>.</summary>
    public bool IsRejected(ConvKey key, int algo, cudnnMathType_t math) => _rejected.Contains((key, algo, math));

    /// <summary>How many keys have a choice.</summary>
    public int Count => _chosen.Count;
}
