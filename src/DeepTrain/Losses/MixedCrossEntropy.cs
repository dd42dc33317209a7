using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Losses;

/// <summary>
/// CutMix's mixed-label cross-entropy (Yun et al. 2019; clovaai/CutMix-PyTorch train.py):
/// <code>
///   loss = λ·CE(z, y_a) + (1 − λ)·CE(z, y_b)          CE as torch.nn.CrossEntropyLoss (mean over the batch)
///   ∂loss/∂z = λ·(softmax(z) − onehot(y_a))/N + (1 − λ)·(softmax(z) − onehot(y_b))/N
/// </code>
/// built from existing backend operations only, so it runs on every backend without a kernel of its own:
/// one <see cref="IBackend.SoftmaxCrossEntropy"/> with scale s·λ into the gradient, one with scale s·(1 − λ)
/// into a scratch, and <see cref="IBackend.Axpby"/> to add the scratch and to mix the two loss values.
/// Accuracy counts against y_a (the batch's own labels), as the reference implementation measures it.
/// Owns a device buffer holding y_b, the scratch gradient and the second loss value; dispose it before
/// its backend.
/// </summary>
public sealed class MixedCrossEntropy : IDisposable
{
    private readonly IBackend _backend;
    private readonly DeviceBuffer _buffer;
    private readonly Tensor _scratch, _lossB;

    /// <summary>Allocates y_b and the scratch for batches of <paramref name="batchSize"/> rows of <paramref name="classes"/> logits.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="backend"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">batchSize or classes is not positive.</exception>
    public MixedCrossEntropy(IBackend backend, int batchSize, int classes)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        _backend = backend;
        const long align = Modeling.MemoryPlan.Alignment;
        long labelBytes = (batchSize * 4L + align - 1) / align * align, gradBytes = ((long)batchSize * classes * 4 + align - 1) / align * align;
        _buffer = backend.Allocate(labelBytes + gradBytes + align);
        LabelsB = new Tensor(_buffer, 0, Shape.Of(batchSize), DType.Int32);
        _scratch = new Tensor(_buffer, labelBytes, Shape.Of(batchSize, classes));
        _lossB = new Tensor(_buffer, labelBytes + gradBytes, Shape.Of(1));
        BatchSize = batchSize;
        Classes = classes;
    }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Classes (logits per row).</summary>
    public int Classes { get; }
    /// <summary>y_b on the device, (N) int32: copy each mixed batch's second labels here.</summary>
    public Tensor LabelsB { get; }

    /// <summary>
    /// loss[0] = λ·CE(z, y_a) + (1 − λ)·CE(z, y_b); dlogits = scale·∂loss/∂z when given; correct[0] = rows whose
    /// argmax is y_a when given.
    /// </summary>
    /// <param name="logits">z, (N, K) fp32.</param>
    /// <param name="labelsA">y_a, (N) int32.</param>
    /// <param name="lambda">λ in [0, 1].</param>
    /// <param name="loss">One fp32.</param>
    /// <param name="dlogits">(N, K) fp32, or null for the loss alone.</param>
    /// <param name="correct">One fp32, or null.</param>
    /// <param name="scale">Factor on the gradient (gradient accumulation's 1/k).</param>
    /// <exception cref="ArgumentOutOfRangeException">λ is outside [0, 1], or a label is outside [0, K).</exception>
    /// <exception cref="ArgumentException">The logits are not (BatchSize, Classes).</exception>
    public void Compute(Tensor logits, Tensor labelsA, float lambda, Tensor loss, Tensor? dlogits, Tensor? correct, float scale = 1f)
    {
        if (!(lambda >= 0f && lambda <= 1f)) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "CutMix's λ must be in [0, 1]");
        if (logits.Shape != _scratch.Shape)
            throw new ArgumentException($"MixedCrossEntropy: logits of shape {logits.Shape}, expected {_scratch.Shape} (the shape it was made for)", nameof(logits));
        // Second term first, into the scratch; then the first into the caller's gradient, and add.
        _backend.SoftmaxCrossEntropy(logits, LabelsB, _lossB, dlogits is null ? null : _scratch, null, scale * (1f - lambda));
        _backend.SoftmaxCrossEntropy(logits, labelsA, loss, dlogits, correct, scale * lambda);
        if (dlogits is not null) _backend.Axpby(1f, _scratch, 1f, dlogits);
        _backend.Axpby(1f - lambda, _lossB, lambda, loss);
    }

    /// <inheritdoc />
    public void Dispose() => _buffer.Dispose();
}
