namespace DeepTrain.Backends.Cuda;

/// <summary>How <see cref="CudaBackend"/> picks convolution algorithms.</summary>
public enum ConvAlgorithmSearch : byte
{
    /// <summary>cuDNN's heuristics (<c>cudnnGet*Algorithm_v7</c>): no GPU work, chosen on the first call of each shape.</summary>
    Heuristic,
    /// <summary>
    /// Times every algorithm on the first call of each shape (<c>cudnnFind*AlgorithmEx</c>) and keeps the fastest that fits
    /// the workspace limit — PyTorch's <c>torch.backends.cudnn.benchmark = True</c>. The first step is slower.
    /// </summary>
    Exhaustive,
}

/// <summary>
/// Options of <see cref="CudaBackend"/>.
/// </summary>
/// <param name="DeviceIndex">The CUDA device ordinal (<c>cuda:N</c>).</param>
/// <param name="Deterministic">
/// Only algorithms whose cuDNN perf result says <c>CUDNN_DETERMINISTIC</c>, deterministic max pooling
/// (<c>CUDNN_POOLING_MAX_DETERMINISTIC</c>), and the plain batch-norm mode: two runs with the same seed give
/// bit-identical results on the same GPU and library versions. Costs speed where the fastest algorithm is atomic-based
/// (backward-filter ALGO_0/ALGO_3, backward-data ALGO_0).
/// </param>
/// <param name="ConvWorkspaceLimitBytes">The most scratch memory one convolution may use; algorithms that need more are skipped.</param>
/// <param name="AlgorithmSearch">Heuristic (default) or exhaustive (benchmarking) convolution algorithm choice.</param>
/// <param name="AllowTf32">
/// Let fp32 convolutions and GEMMs use TF32 tensor cores (10-bit mantissa inputs, fp32 accumulation) on Ampere and newer.
/// Off by default so fp32 results match the CPU reference to fp32 rounding; PyTorch's default for convolutions is on.
/// </param>
/// <param name="CheckLabels">
/// How SoftmaxCrossEntropy's labels are checked against [0, K) (the kernel raises a device-side flag; see <see cref="LabelCheck"/>):
/// <see cref="LabelCheck.Deferred"/> (default) reads the flag at the next host synchronisation, so a training step stays free of them.
/// </param>
public sealed record CudaBackendOptions(int DeviceIndex = 0, bool Deterministic = false, long ConvWorkspaceLimitBytes = CudaBackendOptions.DefaultWorkspaceLimit,
    ConvAlgorithmSearch AlgorithmSearch = ConvAlgorithmSearch.Heuristic, bool AllowTf32 = false, LabelCheck CheckLabels = LabelCheck.Deferred)
{
    /// <summary>512 MiB: enough for the fast algorithms of ResNet-scale layers at common batch sizes.</summary>
    public const long DefaultWorkspaceLimit = 512L << 20;
}

/// <summary>When the CUDA backend checks cross-entropy labels against [0, K). The kernel always zeroes a bad row's loss and gradient.</summary>
public enum LabelCheck
{
    /// <summary>
    /// The kernel's device-side flag is read at the next host synchronisation (<c>CopyToHost</c> or <c>Synchronize</c>), which then
    /// throws <see cref="ArgumentOutOfRangeException"/> saying a loss since the previous synchronisation saw a bad label. No
    /// synchronisation of its own: the training loop reads the host only every <c>Trainer.SyncEvery</c> steps.
    /// </summary>
    Deferred,
    /// <summary>Read the flag after every call (one host synchronisation per loss) and throw naming the first bad label and its index, as the CPU backend does.</summary>
    Immediate,
    /// <summary>No check: bad labels silently contribute nothing.</summary>
    Off,
}
